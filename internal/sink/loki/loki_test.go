package loki

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"

	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/sink"
	"github.com/logferry/logferry/internal/sink/httpsink"
)

func newSink(t *testing.T, url string, o Options) *Sink {
	t.Helper()
	o.URL = url
	if o.Logger == nil {
		o.Logger = quiet()
	}
	s, err := New("lk", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

var defaultMeta = func(pod string, id string) map[string]string {
	return map[string]string{"event_id": id, "node": "node-1", "pod": pod, "pod_uid": "uid-" + pod, "stream": "stdout"}
}

// TestEncoding sends records in both formats and decodes the pushes independently
// (protowire and snappy; encoding/json and gzip): streams, lines, timestamps and
// structured metadata.
func TestEncoding(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	noMsg := `{"@timestamp":"2026-11-21T09:00:00Z","fields":{"level":"info"},"kubernetes":{"namespace":"prod","container":{"name":"app"}},"event":{"id":"e-1"}}`
	for _, tc := range []struct {
		name string
		o    Options
		recs []string
		want []labelled
	}{
		{
			name: "defaults",
			recs: []string{recLine("prod", "web", "web-1", "app", "id-1", "hello", t0)},
			want: []labelled{{`{container="app", namespace="prod", workload="web"}`, pEntry{t0, "hello", defaultMeta("web-1", "id-1")}}},
		},
		{
			name: "no owner, no workload label",
			recs: []string{recLine("prod", "", "bare", "app", "id-2", "x", t0)},
			want: []labelled{{`{container="app", namespace="prod"}`, pEntry{t0, "x", defaultMeta("bare", "id-2")}}},
		},
		{
			name: "no message: the record is the line",
			recs: []string{noMsg + "\n"},
			want: []labelled{{`{container="app", namespace="prod"}`, pEntry{time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC), noMsg, map[string]string{"event_id": "e-1"}}}},
		},
		{
			name: "line record",
			o:    Options{LineRecord: true, StructuredMetadata: []Field{}},
			recs: []string{recLine("prod", "web", "web-1", "app", "id-1", "hello", t0)},
			want: []labelled{{`{container="app", namespace="prod", workload="web"}`, pEntry{t0, strings.TrimSuffix(recLine("prod", "web", "web-1", "app", "id-1", "hello", t0), "\n"), map[string]string{}}}},
		},
		{
			name: "escapes",
			o:    Options{Labels: []Field{{Name: "ns", Paths: []string{"kubernetes.namespace"}}}, StructuredMetadata: []Field{{Name: "id", Paths: []string{"event.id"}}}},
			recs: []string{recLine(`we\"ird`, "", "p", "c", `i\"d`, "tab\there \"quoted\" \\ é ☃\nnext", t0)},
			want: []labelled{{`{ns="we\"ird"}`, pEntry{t0, "tab\there \"quoted\" \\ é ☃\nnext", map[string]string{"id": `i"d`}}}},
		},
		{
			name: "custom, static, alternatives, sanitized names, object metadata",
			o: Options{
				Labels: []Field{
					{Name: "app.kubernetes.io/name", Paths: []string{"kubernetes.labels.app_kubernetes_io/name", "kubernetes.labels.app"}},
					{Name: "9ns", Paths: []string{"kubernetes.namespace"}},
					{Name: "cluster", Paths: []string{"kubernetes.namespace"}}, // the static one wins
				},
				StaticLabels:       []Label{{"cluster", "eu-1"}, {"empty", ""}},
				StructuredMetadata: []Field{{Name: "k8s.labels", Paths: []string{"kubernetes.labels"}}, {Name: "offset", Paths: []string{"log.offset"}}, {Name: "missing", Paths: []string{"no.such"}}},
			},
			recs: []string{recLine("prod", "web", "web-1", "app", "id-1", "m", t0)},
			want: []labelled{{`{_9ns="prod", app_kubernetes_io_name="web", cluster="eu-1"}`, pEntry{t0, "m", map[string]string{"k8s_labels": `{"app":"web"}`, "offset": "1"}}}},
		},
		{
			name: "no label at all",
			o:    Options{Labels: []Field{}, StructuredMetadata: []Field{}},
			recs: []string{`{"message":"no time"}` + "\n"},
			want: []labelled{{`{job="logferry"}`, pEntry{now, "no time", map[string]string{}}}},
		},
		{
			name: "bad timestamp is now",
			o:    Options{Labels: []Field{}, StructuredMetadata: []Field{}},
			recs: []string{`{"@timestamp":"yesterday","message":"m"}` + "\n"},
			want: []labelled{{`{job="logferry"}`, pEntry{now, "m", map[string]string{}}}},
		},
		{
			name: "old timestamp",
			o:    Options{Labels: []Field{}, StructuredMetadata: []Field{}},
			recs: []string{`{"@timestamp":"1969-12-31T23:59:58.5Z","message":"m"}` + "\n"},
			want: []labelled{{`{job="logferry"}`, pEntry{time.Date(1969, 12, 31, 23, 59, 58, 5e8, time.UTC), "m", map[string]string{}}}},
		},
	} {
		for _, format := range []string{"protobuf", "json", "json-plain"} {
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				c := newCapture(t, nil)
				o := tc.o
				o.JSON = format != "protobuf"
				o.NoGzip = format == "json-plain"
				o.Now = func() time.Time { return now }
				s := newSink(t, c.URL, o)
				if err := s.Consume(t.Context(), batchOf(tc.recs)); err != nil {
					t.Fatal(err)
				}
				got := c.all(t)
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("got  %+v\nwant %+v", got, tc.want)
				}
				if st := s.Stats(); st.Accepted != uint64(len(tc.recs)) || st.Requests != 1 {
					t.Errorf("stats %+v", st)
				}
			})
		}
	}
}

// TestHeaders: content type and encoding per format, tenant, authorization, extra
// headers, and the default path.
func TestHeaders(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want map[string]string
	}{
		{"protobuf", Options{Tenant: "team-a"}, map[string]string{
			"Content-Type": "application/x-protobuf", "Content-Encoding": "", "X-Scope-OrgID": "team-a", "Authorization": "",
		}},
		{"json gzip basic", Options{JSON: true, Options: httpsink.Options{Authorization: func() (string, error) { return httpsink.BasicAuth("u", "p"), nil }}}, map[string]string{
			"Content-Type": "application/json", "Content-Encoding": "gzip", "X-Scope-OrgID": "", "Authorization": "Basic dTpw",
		}},
		{"json plain bearer headers", Options{JSON: true, NoGzip: true, Headers: map[string]string{"X-Extra": "1"},
			Options: httpsink.Options{Authorization: func() (string, error) { return httpsink.BearerAuth("first"), nil }}}, map[string]string{
			"Content-Type": "application/json", "Content-Encoding": "", "Authorization": "Bearer first", "X-Extra": "1",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCapture(t, nil)
			s := newSink(t, c.URL, tc.o) // no path: the default one
			if err := s.Consume(t.Context(), batchOf([]string{recLine("a", "b", "c", "d", "e", "f", t0)})); err != nil {
				t.Fatal(err)
			}
			r := c.reqs[0]
			if r.URL.Path != DefaultPath || r.Method != http.MethodPost {
				t.Errorf("%s %s", r.Method, r.URL.Path)
			}
			for k, v := range tc.want {
				if got := r.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestOrdering: records of several streams, interleaved, in several chunks and
// split into several pushes: every stream's entries arrive in record order, and
// every record exactly once.
func TestOrdering(t *testing.T) {
	for _, json := range []bool{false, true} {
		t.Run(fmt.Sprint("json=", json), func(t *testing.T) {
			c := newCapture(t, nil)
			s := newSink(t, c.URL, Options{JSON: json, Options: httpsink.Options{MaxRequestBytes: 4096}})
			var chunks [][]string
			n := 0
			for range 5 {
				var recs []string
				for range 40 {
					ns := []string{"a", "b", "c"}[n%3]
					// Timestamps not in order: order is the records', not the clock's.
					ts := t0.Add(time.Duration((n*7919)%100) * time.Millisecond)
					recs = append(recs, recLine(ns, "web", "web-1", "app", fmt.Sprintf("id-%03d", n), fmt.Sprintf("msg %03d", n), ts))
					n++
				}
				chunks = append(chunks, recs)
			}
			if err := s.Consume(t.Context(), batchOf(chunks...)); err != nil {
				t.Fatal(err)
			}
			if len(c.reqs) < 3 {
				t.Fatalf("%d requests, want several", len(c.reqs))
			}
			last := map[string]int{}
			seen := map[string]bool{}
			for _, e := range c.all(t) {
				var i int
				fmt.Sscanf(e.Line, "msg %d", &i)
				if prev, ok := last[e.Labels]; ok && i <= prev {
					t.Fatalf("stream %s: %d after %d", e.Labels, i, prev)
				}
				last[e.Labels] = i
				if seen[e.Line] {
					t.Fatalf("%s twice", e.Line)
				}
				seen[e.Line] = true
			}
			if len(seen) != n || len(last) != 3 {
				t.Fatalf("%d entries in %d streams", len(seen), len(last))
			}
		})
	}
}

// TestSplit: a batch over max_request_bytes is split into pushes that stay under
// it (uncompressed), except a single larger record, sent alone.
func TestSplit(t *testing.T) {
	const limit = 2048
	for _, json := range []bool{false, true} {
		t.Run(fmt.Sprint("json=", json), func(t *testing.T) {
			c := newCapture(t, nil)
			s := newSink(t, c.URL, Options{JSON: json, NoGzip: true, Options: httpsink.Options{MaxRequestBytes: limit}})
			var recs []string
			for i := range 60 {
				msg := fmt.Sprintf("line %d", i)
				if i == 30 {
					msg = strings.Repeat("x", 3*limit)
				}
				recs = append(recs, recLine(fmt.Sprint("ns", i%4), "web", "web-1", "app", fmt.Sprint(i), msg, t0))
			}
			if err := s.Consume(t.Context(), batchOf(recs)); err != nil {
				t.Fatal(err)
			}
			total, alone := 0, 0
			for i, p := range c.pushes {
				n := 0
				for _, st := range p.Streams {
					n += len(st.Entries)
				}
				total += n
				size := len(c.bodies[i])
				if !json {
					size = len(mustSnappy(t, c.bodies[i]))
				}
				if size > limit {
					if n != 1 {
						t.Errorf("push %d: %d bytes, %d entries", i, size, n)
					}
					alone++
				}
			}
			if total != 60 || alone != 1 || len(c.pushes) < 5 {
				t.Fatalf("%d entries, %d alone, %d pushes", total, alone, len(c.pushes))
			}
			if st := s.Stats(); st.Requests != uint64(len(c.pushes)) || st.Accepted != 60 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// TestStatus maps answers to outcomes: what Consume returns, whether it is
// permanent, and what the next Consume of the same batch sends.
func TestStatus(t *testing.T) {
	recs := make([]string, 30)
	for i := range recs {
		recs[i] = recLine("ns", "web", "web-1", "app", fmt.Sprint(i), fmt.Sprintf("m%02d %s", i, strings.Repeat("x", 100)), t0)
	}
	type result struct {
		err       bool
		permanent bool
		contains  string
	}
	for _, tc := range []struct {
		name     string
		status   int // answer to the second push of the first Consume
		body     string
		want     result
		failures Failures
	}{
		{"429", 429, "Ingestion rate limit exceeded", result{true, false, "HTTP 429: Ingestion rate limit exceeded"}, Failures{RateLimited: 1}},
		{"500", 500, "internal", result{true, false, "HTTP 500"}, Failures{Server: 1}},
		{"503", 503, "", result{true, false, "HTTP 503: (no response body)"}, Failures{Server: 1}},
		{"408", 408, "", result{true, false, "HTTP 408"}, Failures{Server: 1}},
		{"400", 400, "entry for stream '{namespace=\"ns\"}' has timestamp too old", result{true, true, "timestamp too old (no dead-letter file"}, Failures{Rejected: 1}},
		{"400 metadata", 400, "stream '{namespace=\"ns\"}' includes structured metadata, but this feature is disallowed. Please see `limits_config.structured_metadata` or contact your Loki administrator to enable it.",
			result{true, true, "Loki does not accept structured metadata"}, Failures{Rejected: 1}},
		{"401", 401, "no org id", result{true, true, "HTTP 401: no org id"}, Failures{Auth: 1}},
		{"403", 403, "", result{true, true, "HTTP 403"}, Failures{Auth: 1}},
		{"404", 404, "404 page not found", result{true, true, "HTTP 404"}, Failures{Client: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCapture(t, func(n int, _ pushed) (int, string) {
				if n == 1 {
					return tc.status, tc.body
				}
				return 0, ""
			})
			s := newSink(t, c.URL, Options{StructuredMetadata: []Field{}, Options: httpsink.Options{MaxRequestBytes: 1024}})
			b := batchOf(recs)
			err := s.Consume(t.Context(), b)
			if (err != nil) != tc.want.err || sink.IsPermanent(err) != tc.want.permanent ||
				err != nil && !strings.Contains(err.Error(), tc.want.contains) {
				t.Fatalf("err %v (permanent %v), want %+v", err, sink.IsPermanent(err), tc.want)
			}
			if len(c.reqs) != 2 {
				t.Fatalf("%d requests: the attempt must stop at the failed push", len(c.reqs))
			}
			st := s.Stats()
			if st.Failures != tc.failures {
				t.Errorf("failures %+v, want %+v", st.Failures, tc.failures)
			}
			// The retry sends only what was not accepted: the failed push and the rest.
			if err := s.Consume(t.Context(), b); err != nil {
				t.Fatal(err)
			}
			got := c.all(t)
			seen := map[string]bool{}
			for _, e := range got {
				if seen[e.Line] {
					t.Fatalf("%s accepted twice", e.Line)
				}
				seen[e.Line] = true
			}
			if len(got) != len(recs) || len(c.reqs) < 4 {
				t.Fatalf("%d entries accepted in %d requests", len(got), len(c.reqs))
			}
			if st := s.Stats(); st.Accepted != uint64(len(recs)) {
				t.Fatalf("stats %+v", st)
			}
			// A different batch starts from scratch.
			if err := s.Consume(t.Context(), batchOf(recs[:1])); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestStatusNewBatch: after a failure, a different batch (even with the same
// bytes in new chunks) is sent whole.
func TestStatusNewBatch(t *testing.T) {
	fail := true
	c := newCapture(t, func(n int, _ pushed) (int, string) {
		if n == 1 && fail {
			return 500, ""
		}
		return 0, ""
	})
	s := newSink(t, c.URL, Options{Options: httpsink.Options{MaxRequestBytes: 1024}})
	recs := []string{
		recLine("a", "w", "p", "c", "1", strings.Repeat("a", 600), t0),
		recLine("a", "w", "p", "c", "2", strings.Repeat("b", 600), t0),
	}
	if err := s.Consume(t.Context(), batchOf(recs)); err == nil {
		t.Fatal("no error")
	}
	if err := s.Consume(t.Context(), batchOf(recs)); err != nil {
		t.Fatal(err)
	}
	if got := len(c.all(t)); got != 3 { // 1, then 2
		t.Fatalf("%d entries sent", got)
	}
}

// TestRejectedDeadLetter: with a dead-letter file, a push Loki refuses (400) is
// bisected; only the records Loki refuses on their own are written there (with
// Loki's answer), the rest is delivered, and Consume succeeds.
func TestRejectedDeadLetter(t *testing.T) {
	bad := map[string]bool{"m07": true, "m08": true, "m33": true}
	for _, status := range []int{400, 413, 422} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			accepted := map[string]int{}
			c := newCapture(t, func(_ int, p pushed) (int, string) {
				for _, st := range p.Streams {
					for _, e := range st.Entries {
						if bad[e.Line] {
							return status, "entry with timestamp 2026-11-21 09:00:00 ignored, reason: 'entry too far behind'"
						}
					}
				}
				for _, st := range p.Streams {
					for _, e := range st.Entries {
						accepted[e.Line]++
					}
				}
				return 0, ""
			})
			deadPath := filepath.Join(t.TempDir(), "dead.jsonl")
			dl, err := sink.NewFile("dl", sink.FileOptions{Path: deadPath, Fsync: true, MaxFiles: 1, Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			s := newSink(t, c.URL, Options{Options: httpsink.Options{MaxRequestBytes: 8192, DeadLetter: dl}})
			var recs []string
			for i := range 40 {
				recs = append(recs, recLine("ns", "web", "web-1", "app", fmt.Sprint("id-", i), fmt.Sprintf("m%02d", i), t0))
			}
			if err := s.Consume(t.Context(), batchOf(recs)); err != nil {
				t.Fatal(err)
			}
			for i := range 40 {
				m := fmt.Sprintf("m%02d", i)
				if bad[m] != (accepted[m] == 0) {
					t.Errorf("%s accepted %d times", m, accepted[m])
				}
			}
			st := s.Stats()
			if st.DeadLettered != 3 || st.Accepted != 37 || s.Counts().DeadLettered != 3 {
				t.Errorf("stats %+v", st)
			}
			data, err := os.ReadFile(deadPath)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			if len(lines) != 3 {
				t.Fatalf("dead letters:\n%s", data)
			}
			for _, l := range lines {
				var d struct {
					Sink, Error, Labels string
					Status              int
					Record              struct {
						Message string
						Event   struct{ ID string }
					}
				}
				if err := json.Unmarshal([]byte(l), &d); err != nil {
					t.Fatal(err)
				}
				if d.Sink != "lk" || d.Status != status || !bad[d.Record.Message] || d.Record.Event.ID == "" ||
					d.Labels != `{container="app", namespace="ns", workload="web"}` || d.Error == "" {
					t.Errorf("dead letter %s", l)
				}
			}
		})
	}
}

// TestDeadLetterFailure: when the dead-letter file cannot take the lines, the batch
// fails, and the next attempt writes them without sending the records again.
func TestDeadLetterFailure(t *testing.T) {
	c := newCapture(t, func(_ int, p pushed) (int, string) {
		for _, st := range p.Streams {
			for _, e := range st.Entries {
				if e.Line == "bad" {
					return 400, "nope"
				}
			}
		}
		return 0, ""
	})
	dl := &flakySink{fail: 1}
	s := newSink(t, c.URL, Options{Options: httpsink.Options{DeadLetter: dl}})
	b := batchOf([]string{recLine("a", "w", "p", "c", "1", "good", t0), recLine("a", "w", "p", "c", "2", "bad", t0)})
	if err := s.Consume(t.Context(), b); err == nil || !strings.Contains(err.Error(), "dead-letter") {
		t.Fatalf("err %v", err)
	}
	reqs := len(c.reqs)
	if err := s.Consume(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	if len(c.reqs) != reqs || dl.lines != 1 {
		t.Fatalf("retry sent %d requests, dead letters %d", len(c.reqs)-reqs, dl.lines)
	}
}

// TestDeadLetterVerbatim: the dead-letter line holds the record byte for byte, even
// with characters encoding/json would escape (<, >, &, U+2028).
func TestDeadLetterVerbatim(t *testing.T) {
	c := newCapture(t, func(int, pushed) (int, string) { return 400, "line too long" })
	deadPath := filepath.Join(t.TempDir(), "dead.jsonl")
	dl, err := sink.NewFile("dl", sink.FileOptions{Path: deadPath, Fsync: true, MaxFiles: 1, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	s := newSink(t, c.URL, Options{Options: httpsink.Options{DeadLetter: dl}})
	r := recLine("a", "w", "p", "c", "1", "if a<b && c>d {}\u2028", t0)
	if err := s.Consume(t.Context(), batchOf([]string{r})); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(deadPath)
	if err != nil {
		t.Fatal(err)
	}
	var d struct{ Record json.RawMessage }
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimSuffix(r, "\n"); string(d.Record) != want || strings.Count(string(data), "\n") != 1 {
		t.Fatalf("dead letter %q\nrecord %q", data, want)
	}
}

type flakySink struct {
	fail, lines int
}

func (f *flakySink) Name() string { return "flaky" }
func (f *flakySink) Consume(_ context.Context, b *pipeline.Batch) error {
	if f.fail > 0 {
		f.fail--
		return fmt.Errorf("disk full")
	}
	f.lines += b.Records
	return nil
}
func (f *flakySink) Close(context.Context) error { return nil }

// TestTooLarge: a 413 halves the requests for the rest of the attempt.
func TestTooLarge(t *testing.T) {
	c := newCapture(t, func(_ int, p pushed) (int, string) {
		n := 0
		for _, st := range p.Streams {
			n += len(st.Entries)
		}
		if n > 8 {
			return 413, "request entity too large"
		}
		return 0, ""
	})
	s := newSink(t, c.URL, Options{Options: httpsink.Options{MaxRequestBytes: 64 << 10}})
	var recs []string
	for i := range 50 {
		recs = append(recs, recLine("a", "w", "p", "c", fmt.Sprint(i), fmt.Sprint("m", i), t0))
	}
	if err := s.Consume(t.Context(), batchOf(recs)); err != nil {
		t.Fatal(err)
	}
	if got := len(c.all(t)); got != 50 {
		t.Fatalf("%d entries delivered", got)
	}
	if st := s.Stats(); st.Failures.TooLarge == 0 || st.Accepted != 50 {
		t.Fatalf("stats %+v", st)
	}
}

// TestNetworkError: an unreachable server is retryable, and so are credentials that
// cannot be read.
func TestNetworkError(t *testing.T) {
	c := newCapture(t, nil)
	url := c.URL
	c.Close()
	s := newSink(t, url, Options{})
	err := s.Consume(t.Context(), batchOf([]string{recLine("a", "w", "p", "c", "1", "m", t0)}))
	if err == nil || sink.IsPermanent(err) || s.Stats().Failures.Network != 1 || s.Stats().Retried != 1 {
		t.Fatalf("err %v, stats %+v", err, s.Stats())
	}
	c2 := newCapture(t, nil)
	s2 := newSink(t, c2.URL, Options{Options: httpsink.Options{Authorization: func() (string, error) { return "", fmt.Errorf("gone") }}})
	if err := s2.Consume(t.Context(), batchOf([]string{recLine("a", "w", "p", "c", "1", "m", t0)})); err == nil || sink.IsPermanent(err) {
		t.Fatalf("err %v", err)
	}
	if len(c2.reqs) != 0 {
		t.Fatal("sent without credentials")
	}
}

func TestClosed(t *testing.T) {
	c := newCapture(t, nil)
	s := newSink(t, c.URL, Options{})
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Consume(t.Context(), batchOf([]string{"{}\n"})); !sink.IsPermanent(err) {
		t.Fatalf("err %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	for _, u := range []string{"", "loki:3100", "ftp://x", "http://"} {
		if _, err := New("x", Options{URL: u}); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
	s, err := New("x", Options{URL: "https://loki.example/custom/push?x=1"})
	if err != nil || s.url != "https://loki.example/custom/push?x=1" {
		t.Fatalf("%v %v", s, err)
	}
}

// TestEmptyBatch: nothing to send, nothing sent.
func TestEmptyBatch(t *testing.T) {
	c := newCapture(t, nil)
	s := newSink(t, c.URL, Options{})
	if err := s.Consume(t.Context(), batchOf([]string{"\n\n"})); err != nil || len(c.reqs) != 0 {
		t.Fatalf("%v, %d requests", err, len(c.reqs))
	}
}

func mustSnappy(t *testing.T, b []byte) []byte {
	t.Helper()
	raw, err := snappy.Decode(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestRoutes: records of a mapped route go to its tenant, others to the sink's; a
// push has one tenant, and each tenant's records keep their order.
func TestRoutes(t *testing.T) {
	c := newCapture(t, nil)
	s := newSink(t, c.URL, Options{Tenant: "main", Routes: map[string]string{"audit": "security", "pay": "payments"}, Options: httpsink.Options{MaxRequestBytes: 2048}})
	var recs []string
	want := map[string][]string{}
	for i := range 60 {
		route, tenant := []string{"audit", "pay", "", "other"}[i%4], []string{"security", "payments", "main", "main"}[i%4]
		l := recLine("ns", "web", "p", "c", fmt.Sprint(i), fmt.Sprintf("m%02d", i), t0)
		if route != "" {
			l = strings.Replace(l, `,"event":`, `,"logferry":{"route":"`+route+`"},"event":`, 1)
		}
		recs = append(recs, l)
		want[tenant] = append(want[tenant], fmt.Sprintf("m%02d", i))
	}
	if err := s.Consume(t.Context(), batchOf(recs[:30], recs[30:])); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for i, r := range c.reqs {
		for _, st := range c.pushes[i].Streams {
			for _, e := range st.Entries {
				got[r.Header.Get("X-Scope-OrgID")] = append(got[r.Header.Get("X-Scope-OrgID")], e.Line)
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}
