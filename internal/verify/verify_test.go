package verify

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/logferry/logferry/internal/gen"
)

// agentRecord is what an agent ships (the fields verify reads, plus some it ignores).
type agentRecord struct {
	Timestamp  string `json:"@timestamp"`
	Message    string `json:"message"`
	Stream     string `json:"stream"`
	Log        logF   `json:"log"`
	Kubernetes kubeF  `json:"kubernetes"`
	Event      struct {
		ID string `json:"id"`
	} `json:"event"`
}

type logF struct {
	File struct {
		Path string `json:"path"`
	} `json:"file"`
	Offset int64    `json:"offset"`
	Flags  []string `json:"flags,omitempty"`
}

type kubeF struct {
	Namespace string `json:"namespace"`
	Pod       struct {
		Name string `json:"name"`
		UID  string `json:"uid"`
	} `json:"pod"`
	Container struct {
		Name         string `json:"name"`
		RestartCount int    `json:"restart_count"`
	} `json:"container"`
}

func testManifest(counts ...int64) *gen.Manifest {
	m := &gen.Manifest{Version: gen.ManifestVersion, Format: gen.FormatCRI}
	for i, n := range counts {
		m.Containers = append(m.Containers, gen.ContainerInfo{
			Namespace: "prod", Pod: "web-" + string(rune('0'+i)), UID: "uid", Container: "app", Lines: n,
		})
	}
	return m
}

type builder struct {
	buf bytes.Buffer
}

// add appends a record for line seq of container ci, with optional edits.
func (b *builder) add(ci gen.ContainerInfo, seq int, edit func(*agentRecord)) *builder {
	r := agentRecord{Timestamp: "2026-01-01T00:00:00Z", Message: string(gen.Message(ci.Namespace, ci.Pod, ci.Container, seq, 150)), Stream: "stdout"}
	r.Kubernetes.Namespace, r.Kubernetes.Pod.Name, r.Kubernetes.Container.Name = ci.Namespace, ci.Pod, ci.Container
	if edit != nil {
		edit(&r)
	}
	line, _ := json.Marshal(r)
	b.buf.Write(line)
	b.buf.WriteByte('\n')
	return b
}

func (b *builder) raw(s string) *builder {
	b.buf.WriteString(s)
	b.buf.WriteByte('\n')
	return b
}

func (b *builder) all(ci gen.ContainerInfo, from, to int) *builder {
	for s := from; s < to; s++ {
		b.add(ci, s, nil)
	}
	return b
}

func TestCheck(t *testing.T) {
	m := testManifest(10, 5)
	c0, c1 := m.Containers[0], m.Containers[1]
	type want struct {
		ok                                                 bool
		missing, dups, order, corrupt, foreign, junk, meta int64
		received, truncated, unexpected, invalid           int64
	}
	for _, tc := range []struct {
		name  string
		input func() []io.Reader
		want  want
		check func(*testing.T, *Report)
	}{
		{
			name: "complete",
			input: func() []io.Reader {
				b := (&builder{}).all(c0, 0, 10).all(c1, 0, 5)
				return []io.Reader{&b.buf}
			},
			want: want{ok: true, received: 15},
		},
		{
			name: "missing",
			input: func() []io.Reader {
				b := (&builder{}).all(c0, 0, 3).all(c0, 4, 9).all(c1, 0, 5)
				return []io.Reader{&b.buf}
			},
			want: want{missing: 2, received: 13},
			check: func(t *testing.T, r *Report) {
				if got := r.Containers[0].MissingSeqs; len(got) != 2 || got[0] != 3 || got[1] != 9 {
					t.Errorf("missing seqs %v", got)
				}
				if !strings.Contains(r.String(), "(first: 3 9)") {
					t.Errorf("String():\n%s", r)
				}
			},
		},
		{
			name: "duplicates are allowed",
			input: func() []io.Reader {
				b := (&builder{}).all(c0, 0, 10).all(c0, 5, 8).all(c1, 0, 5)
				return []io.Reader{&b.buf}
			},
			want: want{ok: true, dups: 3, received: 15},
		},
		{
			name: "out of order",
			input: func() []io.Reader {
				b := (&builder{}).all(c0, 0, 3).add(c0, 5, nil).add(c0, 3, nil).add(c0, 4, nil).all(c0, 6, 10).all(c1, 0, 5)
				return []io.Reader{&b.buf}
			},
			want: want{order: 2, received: 15},
			check: func(t *testing.T, r *Report) {
				if ex := r.Containers[0].OrderExamples; len(ex) != 2 || ex[0] != "seq 3 after 5" {
					t.Errorf("order examples %v", ex)
				}
			},
		},
		{
			name: "interleaved containers are in order",
			input: func() []io.Reader {
				b := &builder{}
				for s := 0; s < 10; s++ {
					b.add(c0, s, nil)
					if s < 5 {
						b.add(c1, s, nil)
					}
				}
				return []io.Reader{&b.buf}
			},
			want: want{ok: true, received: 15},
		},
		{
			name: "corrupt message",
			input: func() []io.Reader {
				b := (&builder{}).all(c0, 0, 4).add(c0, 4, func(r *agentRecord) {
					r.Message = r.Message[:60] + "X" + r.Message[61:]
				}).all(c0, 5, 10).all(c1, 0, 5)
				return []io.Reader{&b.buf}
			},
			want: want{corrupt: 1, missing: 1, received: 14},
			check: func(t *testing.T, r *Report) {
				if len(r.CorruptExamples) != 1 || !strings.Contains(r.CorruptExamples[0], "seq=4") || !strings.Contains(r.CorruptExamples[0], "byte 60") {
					t.Errorf("examples %v", r.CorruptExamples)
				}
			},
		},
		{
			name: "corrupt: a line cut short without a flag, and a broken key",
			input: func() []io.Reader {
				b := (&builder{}).all(c0, 0, 10).all(c1, 0, 5).
					add(c0, 2, func(r *agentRecord) { r.Message = r.Message[:100] }).
					add(c0, 2, func(r *agentRecord) { r.Message = "lf prod/web-0/app seq=2" })
				return []io.Reader{&b.buf}
			},
			want: want{corrupt: 2, received: 15},
		},
		{
			name: "truncated with a flag",
			input: func() []io.Reader {
				b := (&builder{}).all(c0, 0, 7).add(c0, 7, func(r *agentRecord) {
					r.Message = r.Message[:100]
					r.Log.Flags = []string{"truncated"}
				}).all(c0, 8, 10).all(c1, 0, 5)
				return []io.Reader{&b.buf}
			},
			want: want{ok: true, truncated: 1, received: 15},
		},
		{
			name: "metadata mismatch",
			input: func() []io.Reader {
				b := (&builder{}).all(c0, 0, 9).add(c0, 9, func(r *agentRecord) { r.Kubernetes.Pod.Name = "web-1" }).all(c1, 0, 5)
				return []io.Reader{&b.buf}
			},
			want: want{corrupt: 1, meta: 1, received: 15},
		},
		{
			name: "foreign lines and shipped garbage",
			input: func() []io.Reader {
				b := (&builder{}).all(c0, 0, 10).all(c1, 0, 5)
				b.add(c0, 0, func(r *agentRecord) { r.Message = "hello from another app" })
				b.add(c0, 0, func(r *agentRecord) { r.Message = "lfjunk prod/web-0/app n=3 bad-stream" })
				b.add(c0, 0, func(r *agentRecord) { r.Message = "" })
				b.add(c0, 0, func(r *agentRecord) { r.Message = "tail of a long line"; r.Log.Flags = []string{"partial"} })
				return []io.Reader{&b.buf}
			},
			want: want{ok: true, foreign: 4, junk: 1, received: 15},
			check: func(t *testing.T, r *Report) {
				if r.PartialFragments != 1 {
					t.Errorf("partial fragments %d", r.PartialFragments)
				}
			},
		},
		{
			name: "invalid JSON and unexpected lines",
			input: func() []io.Reader {
				b := (&builder{}).all(c0, 0, 10).all(c1, 0, 5).raw(`{"message":"lf prod/web-0/app seq=1`).raw("not json").raw("")
				b.add(c0, 10, nil) // beyond the manifest's count
				b.add(gen.ContainerInfo{Namespace: "prod", Pod: "other", Container: "app"}, 0, nil)
				return []io.Reader{&b.buf}
			},
			want: want{ok: true, invalid: 2, unexpected: 2, received: 15},
		},
		{
			name: "several inputs, order across them",
			input: func() []io.Reader {
				a := (&builder{}).all(c0, 0, 6).all(c1, 0, 2)
				b := (&builder{}).all(c0, 6, 10).all(c1, 2, 5)
				return []io.Reader{&a.buf, &b.buf}
			},
			want: want{ok: true, received: 15},
		},
		{
			name: "several inputs in the wrong order",
			input: func() []io.Reader {
				a := (&builder{}).all(c0, 0, 6).all(c1, 0, 5)
				b := (&builder{}).all(c0, 6, 10)
				return []io.Reader{&b.buf, &a.buf}
			},
			want: want{order: 6, received: 15},
		},
		{
			name: "nothing received",
			input: func() []io.Reader {
				return []io.Reader{strings.NewReader("")}
			},
			want: want{missing: 15},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Check(m, tc.input()...)
			if err != nil {
				t.Fatal(err)
			}
			got := want{ok: r.OK(), missing: r.Missing, dups: r.Duplicates, order: r.OrderViolations, corrupt: r.Corrupt,
				foreign: r.Foreign, junk: r.Junk, meta: r.MetadataMismatch, received: r.Received, truncated: r.Truncated,
				unexpected: r.Unexpected, invalid: r.InvalidJSON}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v\n%s", got, tc.want, r)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
			var back Report
			j, err := r.JSON()
			if err != nil || json.Unmarshal(j, &back) != nil || back.Pass != r.OK() || back.Missing != r.Missing {
				t.Errorf("JSON form: %v %s", err, j)
			}
			if s := r.String(); !strings.HasPrefix(s, "verify: OK") && r.OK() || !strings.HasPrefix(s, "verify: FAILED") && !r.OK() {
				t.Errorf("String():\n%s", s)
			}
		})
	}
}

func TestCheckLongRecordsAndCRLF(t *testing.T) {
	m := testManifest(2)
	ci := m.Containers[0]
	var b bytes.Buffer
	for s := 0; s < 2; s++ {
		r := agentRecord{Message: string(gen.Message(ci.Namespace, ci.Pod, ci.Container, s, 300000))}
		r.Kubernetes.Namespace, r.Kubernetes.Pod.Name, r.Kubernetes.Container.Name = ci.Namespace, ci.Pod, ci.Container
		j, _ := json.Marshal(r)
		b.Write(j)
		b.WriteString("\r\n")
	}
	rep, err := Check(m, &b)
	if err != nil || !rep.OK() || rep.Received != 2 {
		t.Fatalf("%v\n%s", err, rep)
	}
}

// TestCheckMillion checks a million records, one bit per expected line.
func TestCheckMillion(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const n = 200_000 // x5 containers = 1,000,000 lines expected
	m := testManifest(n, n, n, n, n)
	// deliver only one record per 1000 seqs: this is about the bitsets, not JSON speed
	b := &builder{}
	for _, ci := range m.Containers {
		for s := 0; s < n; s += 1000 {
			b.add(ci, s, nil)
		}
	}
	rep, err := Check(m, &b.buf)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Expected != 1_000_000 || rep.Received != 1000 || rep.Missing != 999_000 || len(rep.Containers[0].MissingSeqs) != 10 {
		t.Errorf("%+v", rep.Containers[0])
	}
}

// TestEndToEnd runs gen (CRI, with long lines, garbage and restarts), ships the
// files with a tiny agent that reassembles partial records, and verifies.
func TestEndToEnd(t *testing.T) {
	for _, filler := range []string{"", gen.FillerText} {
		t.Run("filler="+filler, func(t *testing.T) { testEndToEnd(t, filler) })
	}
}

func testEndToEnd(t *testing.T, filler string) {
	dir := t.TempDir()
	m, err := gen.Run(context.Background(), gen.Options{Out: dir, Format: gen.FormatCRI, Pods: 2, Containers: 2, Lines: 300,
		LongEvery: 50, LongSize: 20000, LineSize: 100, MalformedEvery: 40, RestartEvery: 200, KeepRestarts: true, Filler: filler})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, ci := range m.Containers {
		for r := 0; r <= ci.Restarts; r++ {
			shipCRI(t, filepath.Join(ci.LogDir, strconv.Itoa(r)+".log"), ci, &out)
		}
	}
	// split the output in two inputs, like a rotated sink file
	all := out.Bytes()
	cut := bytes.IndexByte(all[len(all)/2:], '\n') + len(all)/2 + 1
	rep, err := Check(m, bytes.NewReader(all[:cut]), bytes.NewReader(all[cut:]))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Received != m.Totals.Lines || rep.Junk == 0 || rep.Duplicates != 0 {
		t.Fatalf("%s", rep)
	}
	// drop one line: reported missing
	lines := bytes.SplitAfter(all, []byte("\n"))
	rep, _ = Check(m, bytes.NewReader(bytes.Join(append(lines[:10:10], lines[11:]...), nil)))
	if rep.OK() || rep.Missing != 1 {
		t.Errorf("dropped line: %s", rep)
	}
}

// shipCRI is a minimal agent: parse CRI records, merge P runs per stream, ship
// raw any record that does not parse.
func shipCRI(t *testing.T, path string, ci gen.ContainerInfo, w *bytes.Buffer) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	pending := map[string]string{}
	emit := func(msg, stream string) {
		r := agentRecord{Message: msg, Stream: stream}
		r.Kubernetes.Namespace, r.Kubernetes.Pod.Name, r.Kubernetes.Container.Name = ci.Namespace, ci.Pod, ci.Container
		j, _ := json.Marshal(r)
		w.Write(j)
		w.WriteByte('\n')
	}
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 4)
		if len(f) != 4 || (f[1] != "stdout" && f[1] != "stderr") {
			emit(sc.Text(), "") // raw, as a lossless agent might
			continue
		}
		pending[f[1]] += f[3]
		if f[2] == "F" {
			emit(pending[f[1]], f[1])
			delete(pending, f[1])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}
