// Package verify proves delivery of the lines written by package gen: it reads
// an agent's output (JSON lines) and a gen manifest, and reports per container
// the lines missing, duplicated, out of order or corrupt.
package verify

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strings"

	"github.com/logferry/logferry/internal/gen"
)

// maxExamples bounds every list of examples in a report.
const maxExamples = 5

// maxMissingSeqs bounds the missing seqs listed per container.
const maxMissingSeqs = 10

// Report is the result of Check.
//
// A record is one non-empty input line. Records whose message starts with
// gen.KeyPrefix are gen records; the others are foreign (Junk counts the
// foreign records that are gen's garbage lines, shipped raw by the agent:
// allowed, as long as they are never taken for a gen line).
//
// Corrupt counts gen records whose message is not exactly gen.Message for its
// key (a corrupt copy does not count as received), whose key does not parse, or
// whose kubernetes namespace/pod/container do not match the key (the line
// counts as received, but the record is wrong: MetadataMismatch). A record
// flagged "truncated" or "partial" whose message is a prefix of the expected
// message counts as received and in Truncated or Partial, not as corrupt.
// Unexpected counts gen records of containers or seqs the manifest does not
// have.
type Report struct {
	Pass             bool              `json:"ok"`
	Records          int64             `json:"records"`
	InvalidJSON      int64             `json:"invalid_json"`
	GenRecords       int64             `json:"gen_records"`
	Foreign          int64             `json:"foreign"`
	Junk             int64             `json:"junk"`
	PartialFragments int64             `json:"partial_fragments"` // foreign records flagged partial (non-first pieces of a split line)
	Expected         int64             `json:"expected"`
	Received         int64             `json:"received"` // unique lines received
	Missing          int64             `json:"missing"`
	Duplicates       int64             `json:"duplicates"`
	OrderViolations  int64             `json:"order_violations"`
	Corrupt          int64             `json:"corrupt"`
	MetadataMismatch int64             `json:"metadata_mismatch"`
	Truncated        int64             `json:"truncated"`
	Partial          int64             `json:"partial"`
	Unexpected       int64             `json:"unexpected"`
	CorruptExamples  []string          `json:"corrupt_examples,omitempty"`
	InvalidExamples  []string          `json:"invalid_examples,omitempty"`
	UnexpectedKeys   []string          `json:"unexpected_examples,omitempty"`
	Containers       []ContainerReport `json:"containers"`
}

// ContainerReport is the delivery of one container of the manifest.
type ContainerReport struct {
	Namespace       string   `json:"namespace"`
	Pod             string   `json:"pod"`
	Container       string   `json:"container"`
	Expected        int64    `json:"expected"`
	Received        int64    `json:"received"`
	Missing         int64    `json:"missing"`
	MissingSeqs     []int64  `json:"missing_seqs,omitempty"` // the first few
	Duplicates      int64    `json:"duplicates"`
	OrderViolations int64    `json:"order_violations"`
	OrderExamples   []string `json:"order_examples,omitempty"`
	Corrupt         int64    `json:"corrupt"`
	Truncated       int64    `json:"truncated"`
	Partial         int64    `json:"partial"`
	Unexpected      int64    `json:"unexpected"` // seqs >= expected
}

// OK reports whether no line is missing, corrupt or out of order. Duplicates
// are allowed (at-least-once delivery).
func (r *Report) OK() bool {
	return r.Missing == 0 && r.Corrupt == 0 && r.OrderViolations == 0
}

// JSON returns the report as indented JSON (without HTML escaping).
func (r *Report) JSON() ([]byte, error) {
	r.Pass = r.OK()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// maxContainerLines bounds the containers String lists.
const maxContainerLines = 20

// String renders the report for people: totals, then the containers with a problem.
func (r *Report) String() string {
	var b strings.Builder
	verdict := "OK"
	if !r.OK() {
		verdict = "FAILED"
	}
	fmt.Fprintf(&b, "verify: %s\n", verdict)
	fmt.Fprintf(&b, "records %d: gen %d, foreign %d (gen garbage %d, partial fragments %d), invalid JSON %d\n",
		r.Records, r.GenRecords, r.Foreign, r.Junk, r.PartialFragments, r.InvalidJSON)
	fmt.Fprintf(&b, "lines expected %d, received %d, missing %d, duplicates %d, order violations %d, corrupt %d (metadata %d), truncated %d, partial %d, unexpected %d\n",
		r.Expected, r.Received, r.Missing, r.Duplicates, r.OrderViolations, r.Corrupt, r.MetadataMismatch, r.Truncated, r.Partial, r.Unexpected)
	for _, e := range r.CorruptExamples {
		fmt.Fprintf(&b, "  corrupt: %s\n", e)
	}
	for _, e := range r.InvalidExamples {
		fmt.Fprintf(&b, "  invalid JSON: %s\n", e)
	}
	for _, e := range r.UnexpectedKeys {
		fmt.Fprintf(&b, "  unexpected: %s\n", e)
	}
	bad := 0
	for _, c := range r.Containers {
		if c.Missing == 0 && c.Duplicates == 0 && c.OrderViolations == 0 && c.Corrupt == 0 && c.Unexpected == 0 {
			continue
		}
		bad++
		if bad > maxContainerLines {
			continue
		}
		fmt.Fprintf(&b, "%s/%s/%s: expected %d, received %d, missing %d", c.Namespace, c.Pod, c.Container, c.Expected, c.Received, c.Missing)
		if len(c.MissingSeqs) > 0 {
			fmt.Fprintf(&b, " (first: %s)", joinInts(c.MissingSeqs))
		}
		fmt.Fprintf(&b, ", duplicates %d, order violations %d", c.Duplicates, c.OrderViolations)
		if len(c.OrderExamples) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(c.OrderExamples, "; "))
		}
		fmt.Fprintf(&b, ", corrupt %d, unexpected %d\n", c.Corrupt, c.Unexpected)
	}
	switch {
	case bad == 0:
		fmt.Fprintf(&b, "all %d containers complete, no duplicates\n", len(r.Containers))
	case bad > maxContainerLines:
		fmt.Fprintf(&b, "... and %d more containers with problems (see --json)\n", bad-maxContainerLines)
	}
	return b.String()
}

func joinInts(v []int64) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, " ")
}

// tracker is the state of one container during Check.
type tracker struct {
	rep       *ContainerReport
	seen      []uint64 // bitset of received seqs
	lastFirst int64    // highest seq whose first occurrence was seen
}

// record is the part of an agent record Check needs.
type record struct {
	Message string `json:"message"`
	Log     struct {
		Flags []string `json:"flags"`
	} `json:"log"`
	Kubernetes struct {
		Namespace string `json:"namespace"`
		Pod       struct {
			Name string `json:"name"`
		} `json:"pod"`
		Container struct {
			Name string `json:"name"`
		} `json:"container"`
	} `json:"kubernetes"`
}

type checker struct {
	rep    *Report
	byKey  map[string]*tracker // "ns/pod/container"
	expect []byte
	msg    []byte
	filler string // the manifest's Options.Filler
}

// Check reads the inputs in order (JSON lines: one record per line) and checks
// them against the manifest. Memory is one bit per expected line plus a little
// per container, whatever the input size. The error is for unreadable input
// only; delivery problems are in the report (see OK).
func Check(m *gen.Manifest, inputs ...io.Reader) (*Report, error) {
	if m == nil {
		return nil, errors.New("verify: nil manifest")
	}
	ck := &checker{rep: &Report{}, byKey: make(map[string]*tracker, len(m.Containers)), filler: m.Options.Filler}
	ck.rep.Containers = make([]ContainerReport, len(m.Containers))
	for i, c := range m.Containers {
		cr := &ck.rep.Containers[i]
		*cr = ContainerReport{Namespace: c.Namespace, Pod: c.Pod, Container: c.Container, Expected: c.Lines}
		ck.rep.Expected += c.Lines
		ck.byKey[c.Namespace+"/"+c.Pod+"/"+c.Container] = &tracker{
			rep:       cr,
			seen:      make([]uint64, (c.Lines+63)/64),
			lastFirst: -1,
		}
	}
	for i, in := range inputs {
		if err := ck.read(in); err != nil {
			return nil, fmt.Errorf("verify: input %d: %w", i+1, err)
		}
	}
	ck.finish()
	return ck.rep, nil
}

func (ck *checker) read(in io.Reader) error {
	br := bufio.NewReaderSize(in, 1<<16)
	var long []byte
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, line...)
			continue
		}
		if len(long) > 0 {
			long = append(long, line...)
			line = long
		}
		if len(line) > 0 {
			ck.line(line)
		}
		long = long[:0]
		if cap(long) > 1<<22 {
			long = nil // do not keep a huge buffer
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (ck *checker) line(line []byte) {
	line = bytes.TrimRight(line, "\r\n")
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	rep := ck.rep
	rep.Records++
	var rec record
	if err := json.Unmarshal(line, &rec); err != nil {
		rep.InvalidJSON++
		if len(rep.InvalidExamples) < maxExamples {
			rep.InvalidExamples = append(rep.InvalidExamples, clip(string(line), 120)+": "+err.Error())
		}
		return
	}
	truncated, partial := false, false
	for _, f := range rec.Log.Flags {
		switch f {
		case "truncated":
			truncated = true
		case "partial":
			partial = true
		}
	}
	if !strings.HasPrefix(rec.Message, gen.KeyPrefix) {
		rep.Foreign++
		if strings.HasPrefix(rec.Message, gen.JunkPrefix) {
			rep.Junk++
		}
		if partial {
			rep.PartialFragments++
		}
		return
	}
	rep.GenRecords++
	ck.msg = append(ck.msg[:0], rec.Message...)
	ns, pod, ctr, seq, length, ok := gen.ParseKeyBytes(ck.msg)
	if !ok {
		ck.corrupt(nil, "key does not parse: "+clip(rec.Message, 100))
		return
	}
	t := ck.byKey[string(ns)+"/"+string(pod)+"/"+string(ctr)]
	if t == nil || int64(seq) >= t.rep.Expected {
		rep.Unexpected++
		if t != nil {
			t.rep.Unexpected++
		}
		if len(rep.UnexpectedKeys) < maxExamples {
			rep.UnexpectedKeys = append(rep.UnexpectedKeys, fmt.Sprintf("%s/%s/%s seq=%d", ns, pod, ctr, seq))
		}
		return
	}
	ck.expect = gen.AppendMessageFiller(ck.expect[:0], ck.filler, string(ns), string(pod), string(ctr), seq, length)
	switch {
	case string(ck.expect) == rec.Message:
	case (truncated || partial) && len(rec.Message) < len(ck.expect) && strings.HasPrefix(string(ck.expect), rec.Message):
		if truncated {
			rep.Truncated++
			t.rep.Truncated++
		} else {
			rep.Partial++
			t.rep.Partial++
		}
	default:
		ck.corrupt(t, fmt.Sprintf("%s/%s/%s seq=%d: %s", ns, pod, ctr, seq, diff(rec.Message, string(ck.expect))))
		return
	}
	if k := &rec.Kubernetes; k.Namespace != string(ns) || k.Pod.Name != string(pod) || k.Container.Name != string(ctr) {
		rep.MetadataMismatch++
		ck.corrupt(t, fmt.Sprintf("%s/%s/%s seq=%d: record says kubernetes %s/%s/%s",
			ns, pod, ctr, seq, k.Namespace, k.Pod.Name, k.Container.Name))
	}
	ck.receive(t, int64(seq))
}

func (ck *checker) receive(t *tracker, seq int64) {
	w, b := seq/64, uint64(1)<<(seq%64)
	if t.seen[w]&b != 0 {
		t.rep.Duplicates++
		ck.rep.Duplicates++
		return
	}
	t.seen[w] |= b
	t.rep.Received++
	ck.rep.Received++
	if seq < t.lastFirst {
		t.rep.OrderViolations++
		ck.rep.OrderViolations++
		if len(t.rep.OrderExamples) < maxExamples {
			t.rep.OrderExamples = append(t.rep.OrderExamples, fmt.Sprintf("seq %d after %d", seq, t.lastFirst))
		}
		return
	}
	t.lastFirst = seq
}

func (ck *checker) corrupt(t *tracker, example string) {
	ck.rep.Corrupt++
	if t != nil {
		t.rep.Corrupt++
	}
	if len(ck.rep.CorruptExamples) < maxExamples {
		ck.rep.CorruptExamples = append(ck.rep.CorruptExamples, example)
	}
}

// finish counts the missing lines.
func (ck *checker) finish() {
	for _, t := range ck.byKey {
		cr := t.rep
		cr.Missing = cr.Expected - cr.Received
		ck.rep.Missing += cr.Missing
		if cr.Missing == 0 {
			continue
		}
		for w, word := range t.seen {
			inv := ^word
			for inv != 0 && len(cr.MissingSeqs) < maxMissingSeqs {
				seq := int64(w*64 + bits.TrailingZeros64(inv))
				if seq >= cr.Expected {
					break
				}
				cr.MissingSeqs = append(cr.MissingSeqs, seq)
				inv &= inv - 1
			}
			if len(cr.MissingSeqs) >= maxMissingSeqs {
				break
			}
		}
	}
	ck.rep.Pass = ck.rep.OK()
}

// diff describes where got first differs from want.
func diff(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(i-20, 0)
	return fmt.Sprintf("length %d, want %d; first difference at byte %d: got %q, want %q",
		len(got), len(want), i, clip(got[from:], 40+i-from), clip(want[from:], 40+i-from))
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
