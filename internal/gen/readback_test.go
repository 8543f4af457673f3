package gen

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// This file is a small, strict, test-only reader of the files gen writes: it
// parses records as the kubelet does, rejects what the kubelet rejects, and
// reassembles logical lines per stream.

type rec struct {
	ts      string
	stream  string
	partial bool
	content []byte
}

// line is a reassembled logical line.
type line struct {
	msg     string
	stream  string
	records int
	ts      []string // timestamps of its records
}

// parseCRIRecord parses one CRI record (without its '\n'); ok is false for
// anything the kubelet's parseCRILog would reject.
func parseCRIRecord(b []byte) (rec, bool) {
	var r rec
	i := bytes.IndexByte(b, ' ')
	if i < 0 {
		return r, false
	}
	r.ts = string(b[:i])
	if _, err := time.Parse(time.RFC3339Nano, r.ts); err != nil {
		return r, false
	}
	b = b[i+1:]
	i = bytes.IndexByte(b, ' ')
	if i < 0 {
		return r, false
	}
	r.stream = string(b[:i])
	if r.stream != "stdout" && r.stream != "stderr" {
		return r, false
	}
	b = b[i+1:]
	i = bytes.IndexByte(b, ' ')
	if i < 0 {
		return r, false
	}
	tag := strings.Split(string(b[:i]), ":")[0]
	r.partial = tag == "P"
	r.content = b[i+1:]
	return r, true
}

type dockerRec struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// parseDockerRecord parses one json-file record; partial means log has no
// trailing newline.
func parseDockerRecord(b []byte) (rec, bool) {
	var d dockerRec
	if err := json.Unmarshal(b, &d); err != nil {
		return rec{}, false
	}
	if d.Stream != "stdout" && d.Stream != "stderr" {
		return rec{}, false
	}
	r := rec{ts: d.Time.Format(time.RFC3339Nano), stream: d.Stream}
	if strings.HasSuffix(d.Log, "\n") {
		r.content = []byte(strings.TrimSuffix(d.Log, "\n"))
	} else {
		r.partial = true
		r.content = []byte(d.Log)
	}
	return r, true
}

// assembler reassembles logical lines per stream across the files of one container.
type assembler struct {
	format  string
	pending map[string]*line
	lines   []line
	junk    int
	recs    []rec // every valid record, in order
}

func newAssembler(format string) *assembler {
	return &assembler{format: format, pending: map[string]*line{}}
}

func (a *assembler) feed(t *testing.T, data []byte) {
	t.Helper()
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			t.Fatalf("file ends without a newline: %q", clipS(string(data), 80))
		}
		raw := data[:i]
		data = data[i+1:]
		var r rec
		var ok bool
		if a.format == FormatDocker {
			r, ok = parseDockerRecord(raw)
		} else {
			r, ok = parseCRIRecord(raw)
		}
		if !ok {
			a.junk++
			if bytes.Contains(raw, []byte(KeyPrefix+"")) && bytes.Contains(raw, []byte(" seq=")) {
				t.Errorf("rejected record carries a gen key: %q", clipS(string(raw), 120))
			}
			continue
		}
		a.recs = append(a.recs, r)
		p := a.pending[r.stream]
		if p == nil {
			p = &line{stream: r.stream}
			a.pending[r.stream] = p
		}
		p.msg += string(r.content)
		p.records++
		p.ts = append(p.ts, r.ts)
		if !r.partial {
			a.lines = append(a.lines, *p)
			delete(a.pending, r.stream)
		}
	}
}

func readMaybeGz(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		b, err = io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	return b
}

// containerFiles returns the files of one container, oldest first.
func containerFiles(t *testing.T, m *Manifest, ci *ContainerInfo) []string {
	t.Helper()
	var out []string
	if m.Format == FormatDocker {
		for _, id := range ci.DockerIDs {
			live := filepath.Join(m.Dir, "docker", id, id+"-json.log")
			rot, _ := filepath.Glob(live + ".*")
			n := func(p string) int {
				s := strings.TrimSuffix(strings.TrimPrefix(p, live+"."), ".gz")
				v, _ := strconv.Atoi(s)
				return v
			}
			sort.Slice(rot, func(i, j int) bool { return n(rot[i]) > n(rot[j]) })
			out = append(out, rot...)
			if _, err := os.Stat(live); err == nil {
				out = append(out, live)
			}
		}
		return out
	}
	for r := 0; r <= ci.Restarts; r++ {
		live := filepath.Join(ci.LogDir, strconv.Itoa(r)+".log")
		rot, _ := filepath.Glob(live + ".*")
		sort.Strings(rot) // .gz of a stamp sorts next to it; stamps sort by age
		out = append(out, rot...)
		if _, err := os.Stat(live); err == nil {
			out = append(out, live)
		}
	}
	return out
}

// readBack reassembles every line of every container from disk.
func readBack(t *testing.T, m *Manifest) map[string]*assembler {
	t.Helper()
	res := map[string]*assembler{}
	for i := range m.Containers {
		ci := &m.Containers[i]
		a := newAssembler(m.Format)
		for _, f := range containerFiles(t, m, ci) {
			a.feed(t, readMaybeGz(t, f))
		}
		res[ci.Namespace+"/"+ci.Pod+"/"+ci.Container] = a
	}
	return res
}

// checkComplete checks that the lines on disk are exactly seqs 0..Lines-1 in
// order, each equal to Message, and that the counts match the manifest.
func checkComplete(t *testing.T, m *Manifest) {
	t.Helper()
	got := readBack(t, m)
	var totalLines, totalJunk int64
	for _, ci := range m.Containers {
		a := got[ci.Namespace+"/"+ci.Pod+"/"+ci.Container]
		if len(a.pending) != 0 {
			t.Errorf("%s: unterminated partial lines at the end: %d", ci.Container, len(a.pending))
		}
		if int64(len(a.lines)) != ci.Lines {
			t.Errorf("%s/%s: %d lines on disk, manifest says %d", ci.Pod, ci.Container, len(a.lines), ci.Lines)
		}
		var long int64
		for i, l := range a.lines {
			k, ok := ParseKey([]byte(l.msg))
			if !ok {
				t.Fatalf("line %d: no key: %q", i, clipS(l.msg, 80))
			}
			if k.Seq != i || k.Namespace != ci.Namespace || k.Pod != ci.Pod || k.Container != ci.Container {
				t.Fatalf("line %d of %s: key %+v", i, ci.Container, k)
			}
			if want := Message(k.Namespace, k.Pod, k.Container, k.Seq, k.Length); l.msg != string(want) {
				t.Fatalf("line %d: message differs from Message()", i)
			}
			if k.Length >= m.Options.LongSize && m.Options.LongEvery > 0 {
				long++
			}
		}
		if long != ci.LongLines {
			t.Errorf("%s: %d long lines on disk, manifest says %d", ci.Container, long, ci.LongLines)
		}
		if int64(a.junk) != ci.Malformed {
			t.Errorf("%s: %d garbage lines on disk, manifest says %d", ci.Container, a.junk, ci.Malformed)
		}
		totalLines += ci.Lines
		totalJunk += int64(a.junk)
	}
	if totalLines != m.Totals.Lines || totalJunk != m.Totals.Malformed {
		t.Errorf("totals: lines %d malformed %d, manifest %+v", totalLines, totalJunk, m.Totals)
	}
}

// runGen runs gen in a temporary directory with a time limit.
func runGen(t *testing.T, o Options) *Manifest {
	t.Helper()
	if o.Out == "" {
		o.Out = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := Run(ctx, o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	m2, err := ReadManifest(m.Options.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	if m2.Totals != m.Totals || len(m2.Containers) != len(m.Containers) {
		t.Fatalf("manifest on disk differs from the returned one")
	}
	return m
}

func clipS(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
