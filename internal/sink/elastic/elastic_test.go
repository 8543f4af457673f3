package elastic

import (
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/record"
	"github.com/logferry/logferry/internal/sink"
	"github.com/logferry/logferry/internal/sink/httpsink"
)

var flavors = []string{"es8", "os2"}

func TestSuccess(t *testing.T) {
	for _, flavor := range flavors {
		for _, gz := range []bool{true, false} {
			t.Run(flavor+map[bool]string{true: "/gzip", false: "/plain"}[gz], func(t *testing.T) {
				e := newEnv(t, flavor, func(o *Options) {
					o.NoGzip = !gz
					o.Parameters = map[string]string{"pipeline": "logs"}
				})
				b := batch([]string{"a", "b"}, []string{"c"})
				if err := e.sink.Consume(t.Context(), b); err != nil {
					t.Fatal(err)
				}
				reqs := e.es.requests()
				if len(reqs) != 1 {
					t.Fatalf("%d requests", len(reqs))
				}
				r := reqs[0]
				if got := e.es.ids(0); !slices.Equal(got, []string{"a", "b", "c"}) {
					t.Fatalf("ids %v", got)
				}
				for _, it := range r.items {
					if it.op != "index" || it.index != "logs-default-2026.11.22" {
						t.Fatalf("item %+v", it)
					}
					if !strings.Contains(string(it.doc), `"event":{"id":"`+it.id+`"}`) {
						t.Fatalf("doc %s for id %s", it.doc, it.id)
					}
				}
				if got := r.header.Get("Content-Encoding") == "gzip"; got != gz {
					t.Fatalf("gzip %v, want %v", got, gz)
				}
				if gz && r.raw >= r.plain {
					t.Fatalf("gzip body %d bytes, plain %d", r.raw, r.plain)
				}
				if ct := r.header.Get("Content-Type"); ct != "application/x-ndjson" {
					t.Fatalf("content type %q", ct)
				}
				if r.query != "pipeline=logs" || r.path != "/_bulk" {
					t.Fatalf("path %q query %q", r.path, r.query)
				}
				if st := e.sink.Stats(); st.Accepted != 3 || st.Requests != 1 || st.DeadLettered != 0 {
					t.Fatalf("stats %+v", st)
				}
			})
		}
	}
}

// TestItemOutcomes: per-item results in one batch, for both response shapes; only
// retryable items are sent again, each permanent one is dead-lettered once.
func TestItemOutcomes(t *testing.T) {
	type attempt struct {
		ids     []string // sent in this attempt
		ok      bool     // Consume succeeds
		perm    bool     // its error is permanent
		deadIDs []string // dead-lettered so far
	}
	for _, tc := range []struct {
		name       string
		dataStream bool
		item       func(id string, seen int) int
		attempts   []attempt
	}{
		{
			name:     "429 then success",
			item:     func(id string, seen int) int { return map[bool]int{true: 429}[id == "b" && seen == 0] },
			attempts: []attempt{{ids: []string{"a", "b", "c"}}, {ids: []string{"b"}, ok: true}},
		},
		{
			name: "5xx twice then success",
			item: func(id string, seen int) int {
				return map[bool]int{true: 503}[(id == "a" || id == "c") && seen < 2]
			},
			attempts: []attempt{{ids: []string{"a", "b", "c"}}, {ids: []string{"a", "c"}}, {ids: []string{"a", "c"}, ok: true}},
		},
		{
			name:     "mapping error dead-lettered",
			item:     func(id string, seen int) int { return map[bool]int{true: 400}[id == "b"] },
			attempts: []attempt{{ids: []string{"a", "b", "c"}, ok: true, deadIDs: []string{"b"}}},
		},
		{
			name:       "409 on create is success",
			dataStream: true,
			item:       func(id string, seen int) int { return map[bool]int{true: 409}[id != "b"] },
			attempts:   []attempt{{ids: []string{"a", "b", "c"}, ok: true}},
		},
		{
			name: "409 on index is retried",
			item: func(id string, seen int) int { return map[bool]int{true: 409}[id == "c" && seen == 0] },
			attempts: []attempt{{ids: []string{"a", "b", "c"}},
				{ids: []string{"c"}, ok: true}},
		},
		{
			name: "mixed",
			item: func(id string, seen int) int {
				switch {
				case id == "a" && seen == 0:
					return 429
				case id == "b":
					return 400
				case id == "c" && seen < 2:
					return 500
				}
				return 0
			},
			attempts: []attempt{
				{ids: []string{"a", "b", "c"}, deadIDs: []string{"b"}},
				{ids: []string{"a", "c"}, deadIDs: []string{"b"}},
				{ids: []string{"c"}, ok: true, deadIDs: []string{"b"}},
			},
		},
		{
			name:     "403 item is permanent, not dead-lettered",
			item:     func(id string, seen int) int { return map[bool]int{true: 403}[id == "a" && seen == 0] },
			attempts: []attempt{{ids: []string{"a", "b", "c"}, perm: true}, {ids: []string{"a"}, ok: true}},
		},
	} {
		for _, flavor := range flavors {
			t.Run(tc.name+"/"+flavor, func(t *testing.T) {
				e := newEnv(t, flavor, func(o *Options) { o.DataStream = tc.dataStream })
				e.es.item = tc.item
				b := batch([]string{"a", "b"}, []string{"c"})
				for i, at := range tc.attempts {
					err := e.sink.Consume(t.Context(), b)
					if (err == nil) != at.ok {
						t.Fatalf("attempt %d: err %v", i, err)
					}
					if err != nil && sink.IsPermanent(err) != at.perm {
						t.Fatalf("attempt %d: permanent %v: %v", i, sink.IsPermanent(err), err)
					}
					if got := e.es.ids(i); !slices.Equal(got, at.ids) {
						t.Fatalf("attempt %d sent %v, want %v", i, got, at.ids)
					}
					var dead []string
					for _, d := range e.deadLines(t) {
						id, _ := record.Scalar(record.Lookup(d.Record, "event.id"))
						dead = append(dead, string(id))
					}
					if !slices.Equal(dead, at.deadIDs) {
						t.Fatalf("attempt %d: dead-lettered %v, want %v", i, dead, at.deadIDs)
					}
				}
				if n := len(e.es.requests()); n != len(tc.attempts) {
					t.Fatalf("%d requests", n)
				}
				wantOp := "index"
				if tc.dataStream {
					wantOp = "create"
				}
				for _, r := range e.es.requests() {
					for _, it := range r.items {
						if it.op != wantOp {
							t.Fatalf("op %s", it.op)
						}
					}
				}
			})
		}
	}
}

func TestDeadLetterLine(t *testing.T) {
	e := newEnv(t, "es8", nil)
	e.es.item = func(id string, _ int) int { return map[bool]int{true: 400}[id == "b"] }
	if err := e.sink.Consume(t.Context(), batch([]string{"a", "b", "c"})); err != nil {
		t.Fatal(err)
	}
	dead := e.deadLines(t)
	if len(dead) != 1 {
		t.Fatalf("%d dead lines", len(dead))
	}
	d := dead[0]
	if d.Status != 400 || d.Index != "logs-default-2026.11.22" || d.Op != "index" || d.Sink != "es" ||
		!strings.Contains(string(d.Error), `"type":"document_parsing_exception"`) ||
		string(d.Record) != strings.TrimSuffix(line("b", "default", "2026-11-22T15:19:10.014328837Z"), "\n") {
		t.Fatalf("dead line %+v", d)
	}
	if _, err := time.Parse(time.RFC3339Nano, d.Time); err != nil {
		t.Fatal(err)
	}
	if st := e.sink.Stats(); st.DeadLettered != 1 || st.Accepted != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestDeadLetterVerbatim: the dead-letter line holds the record byte for byte, even
// with characters encoding/json would escape (<, >, &, U+2028).
func TestDeadLetterVerbatim(t *testing.T) {
	e := newEnv(t, "es8", nil)
	e.es.item = func(string, int) int { return 400 }
	rec := `{"@timestamp":"2026-11-22T15:19:10Z","message":"if a<b && c>d {}` + "\u2028" + `","event":{"id":"v"},"kubernetes":{"namespace":"default"}}`
	b := &pipeline.Batch{}
	b.Add(&pipeline.Chunk{Data: []byte(rec + "\n"), Records: 1})
	if err := e.sink.Consume(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	dead := e.deadLines(t)
	if len(dead) != 1 || string(dead[0].Record) != rec {
		t.Fatalf("dead lines %+v\nrecord %s", dead, rec)
	}
}

// TestDeadLetterFailure: when the dead-letter file cannot be written, the batch fails
// and the next attempt writes the line without sending the record again.
func TestDeadLetterFailure(t *testing.T) {
	e := newEnv(t, "os2", nil)
	fd := &failingDead{fails: 1}
	e.sink.client.Dead = fd
	e.es.item = func(id string, _ int) int { return map[bool]int{true: 400, false: 0}[id == "b"] }
	b := batch([]string{"a", "b", "c"})
	if err := e.sink.Consume(t.Context(), b); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("got %v", err)
	}
	if err := e.sink.Consume(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	if n := len(e.es.requests()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	if len(fd.lines) != 1 || !strings.Contains(fd.lines[0], `"mapper_parsing_exception"`) {
		t.Fatalf("dead lines %q", fd.lines)
	}
}

// TestOtherBatchStartsOver: the state of a failed batch never applies to another one,
// even in the same Batch value with the same chunk pointers.
func TestOtherBatchStartsOver(t *testing.T) {
	e := newEnv(t, "es8", nil)
	e.es.item = func(id string, seen int) int { return map[bool]int{true: 429}[id == "a" && seen == 0] }
	b := batch([]string{"a", "b"})
	if err := e.sink.Consume(t.Context(), b); err == nil {
		t.Fatal("want an error")
	}
	// Same batch and chunk, other contents (a recycled chunk).
	b.Chunks[0].Data = []byte(line("x", "default", "2026-11-22T00:00:00Z") + line("y", "default", "2026-11-22T00:00:00Z"))
	if err := e.sink.Consume(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	if got := e.es.ids(1); !slices.Equal(got, []string{"x", "y"}) {
		t.Fatalf("sent %v", got)
	}
	// A new batch after a success.
	if err := e.sink.Consume(t.Context(), batch([]string{"z"})); err != nil {
		t.Fatal(err)
	}
	if got := e.es.ids(2); !slices.Equal(got, []string{"z"}) {
		t.Fatalf("sent %v", got)
	}
}

func TestRequestErrors(t *testing.T) {
	for _, tc := range []struct {
		status int
		perm   bool
		msg    string
	}{
		{503, false, "HTTP 503: cluster_block_exception"},
		{500, false, "HTTP 500"},
		{429, false, "HTTP 429: es_rejected_execution_exception"},
		{401, true, "HTTP 401: security_exception: unable to authenticate user"},
		{403, true, "HTTP 403"},
		{404, true, "HTTP 404"},
		{400, true, "HTTP 400"},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			e := newEnv(t, "es8", nil)
			e.es.status = func(n int) int { return map[bool]int{true: tc.status}[n == 0] }
			b := batch([]string{"a", "b"}, []string{"c"})
			err := e.sink.Consume(t.Context(), b)
			if err == nil || sink.IsPermanent(err) != tc.perm || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v (permanent %v)", err, sink.IsPermanent(err))
			}
			if err := e.sink.Consume(t.Context(), b); err != nil {
				t.Fatal(err)
			}
			if got := e.es.ids(1); !slices.Equal(got, []string{"a", "b", "c"}) {
				t.Fatalf("retry sent %v", got)
			}
			if len(e.deadLines(t)) != 0 {
				t.Fatal("dead-lettered")
			}
		})
	}
}

// TestFailover: a node answering 503 or unreachable fails over to the next within the
// same attempt; requests go round-robin.
func TestFailover(t *testing.T) {
	down := newFakeES(t, "es8")
	down.status = func(int) int { return 503 }
	gone := newFakeES(t, "es8")
	gone.srv.Close()
	e := newEnv(t, "es8", nil)
	e.sink.urls = append([]string{down.srv.URL + "/_bulk", gone.srv.URL + "/_bulk"}, e.sink.urls...)
	if err := e.sink.Consume(t.Context(), batch([]string{"a"})); err != nil {
		t.Fatal(err)
	}
	if len(down.requests()) != 1 || len(e.es.requests()) != 1 {
		t.Fatalf("requests: down %d, up %d", len(down.requests()), len(e.es.requests()))
	}
	// Round-robin: the next request starts at the next node (down again, then gone, then up).
	if err := e.sink.Consume(t.Context(), batch([]string{"b"})); err != nil {
		t.Fatal(err)
	}
	if len(down.requests()) != 2 || len(e.es.requests()) != 2 {
		t.Fatalf("requests: down %d, up %d", len(down.requests()), len(e.es.requests()))
	}
}

// TestAuthHeaders: the API key forms, and the Authorization asked for every
// request, so that a rotated secret file is used (httpsink.Secret re-reads it).
func TestAuthHeaders(t *testing.T) {
	fixed := func(h string) httpsink.Authorization { return func() (string, error) { return h, nil } }
	for _, tc := range []struct {
		name string
		auth httpsink.Authorization
		want string
	}{
		{"api key encoded", fixed(APIKeyAuth("VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==")),
			"ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="},
		{"api key id:key", fixed(APIKeyAuth("VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw")),
			"ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="},
		{"basic", fixed(httpsink.BasicAuth("logferry", "s3cret")), "Basic " + base64.StdEncoding.EncodeToString([]byte("logferry:s3cret"))},
		{"empty", fixed(""), ""},
		{"none", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "es8", func(o *Options) { o.Authorization = tc.auth })
			if err := e.sink.Consume(t.Context(), batch([]string{"a"})); err != nil {
				t.Fatal(err)
			}
			if got := e.es.requests()[0].header.Get("Authorization"); got != tc.want {
				t.Fatalf("Authorization %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("every request", func(t *testing.T) {
		tokens := []string{"one", "two"}
		var fail error
		e := newEnv(t, "es8", func(o *Options) {
			o.Authorization = func() (string, error) {
				if fail != nil {
					return "", fail
				}
				tok := tokens[0]
				tokens = tokens[1:]
				return httpsink.BearerAuth(tok), nil
			}
		})
		for _, id := range []string{"a", "b"} {
			if err := e.sink.Consume(t.Context(), batch([]string{id})); err != nil {
				t.Fatal(err)
			}
		}
		fail = errors.New("token file gone")
		if err := e.sink.Consume(t.Context(), batch([]string{"c"})); err == nil || !strings.Contains(err.Error(), "token file gone") {
			t.Fatalf("got %v", err)
		}
		reqs := e.es.requests()
		if len(reqs) != 2 || reqs[0].header.Get("Authorization") != "Bearer one" || reqs[1].header.Get("Authorization") != "Bearer two" {
			t.Fatalf("%d requests: %v", len(reqs), reqs)
		}
	})
}

// TestSplit: batches above max_request_bytes are split; every request stays under the
// limit and every record is sent exactly once, in order.
func TestSplit(t *testing.T) {
	e := newEnv(t, "es8", func(o *Options) { o.MaxRequestBytes = 1024 })
	var ids []string
	for i := range 40 {
		ids = append(ids, string(rune('A'+i%26))+strings.Repeat("x", i))
	}
	b := batch(ids[:25], ids[25:])
	// One record larger than the limit goes alone.
	big := line("big", "default", "2026-11-22T00:00:00Z")
	big = strings.Replace(big, `"message":"`, `"message":"`+strings.Repeat("m", 2000), 1)
	b.Add(&pipeline.Chunk{Data: []byte(big), Records: 1})
	ids = append(ids, "big")
	if err := e.sink.Consume(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	reqs := e.es.requests()
	if len(reqs) < 5 {
		t.Fatalf("%d requests", len(reqs))
	}
	var got []string
	for i, r := range reqs {
		if r.plain > 1024 && len(r.items) > 1 {
			t.Fatalf("request %d: %d bytes with %d items", i, r.plain, len(r.items))
		}
		got = append(got, e.es.ids(i)...)
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("sent %v\nwant %v", got, ids)
	}
	if last := reqs[len(reqs)-1]; len(last.items) != 1 || last.items[0].id != "big" {
		t.Fatalf("last request %+v", last.items)
	}
}

// TestSplitRetryAlone: with splitting, a retry sends only the failed items, and a
// failed request leaves the rest of the batch for the next attempt.
func TestSplitRetryAlone(t *testing.T) {
	e := newEnv(t, "os2", func(o *Options) { o.MaxRequestBytes = 1024 })
	var ids []string
	for i := range 20 {
		ids = append(ids, string(rune('a'+i)))
	}
	e.es.item = func(id string, seen int) int { return map[bool]int{true: 429}[id == "b" && seen == 0] }
	e.es.status = func(n int) int { return map[bool]int{true: 503}[n == 1] } // second request fails whole
	b := batch(ids)
	if err := e.sink.Consume(t.Context(), b); err == nil {
		t.Fatal("want an error")
	}
	first := e.es.ids(0)
	if err := e.sink.Consume(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	var resent []string
	for i := 2; i < len(e.es.requests()); i++ {
		resent = append(resent, e.es.ids(i)...)
	}
	want := append([]string{"b"}, ids[len(first):]...)
	if !slices.Equal(resent, want) {
		t.Fatalf("resent %v, want %v", resent, want)
	}
}

// Test413: a request too large for the server: one record alone is dead-lettered.
func Test413(t *testing.T) {
	e := newEnv(t, "es8", nil)
	e.es.status = func(n int) int { return map[bool]int{true: 413}[n == 0] }
	if err := e.sink.Consume(t.Context(), batch([]string{"a"})); err != nil {
		t.Fatal(err)
	}
	if d := e.deadLines(t); len(d) != 1 || d[0].Status != 413 {
		t.Fatalf("dead %+v", d)
	}
}

func TestClosed(t *testing.T) {
	e := newEnv(t, "es8", nil)
	if err := e.sink.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := e.sink.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := e.sink.Consume(t.Context(), batch([]string{"a"})); !sink.IsPermanent(err) {
		t.Fatalf("got %v", err)
	}
}

// Test413Split: a cluster that takes less than max_request_bytes gets smaller
// requests; nothing is dead-lettered.
func Test413Split(t *testing.T) {
	e := newEnv(t, "es8", nil)
	e.es.maxBody = 1500
	ids := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	if err := e.sink.Consume(t.Context(), batch(ids)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, r := range e.es.requests() {
		if r.plain <= 1500 {
			got = append(got, e.es.ids(i)...)
		}
	}
	if !slices.Equal(got, ids) || len(e.deadLines(t)) != 0 {
		t.Fatalf("accepted %v, dead %v", got, e.deadLines(t))
	}
}
