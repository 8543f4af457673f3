package elastic

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/sink"
	"github.com/logferry/logferry/internal/sink/httpsink"
)

// fakeES is an httptest server that answers the bulk API exactly as Elasticsearch 8
// (flavor "es8") or OpenSearch 2 ("os2") document it, with per-item outcomes chosen by
// the test, and records every request.
type fakeES struct {
	t      *testing.T
	flavor string
	srv    *httptest.Server

	mu   sync.Mutex
	reqs []bulkRequest
	seen map[string]int // times each _id was received
	// status gives a whole request's HTTP status (0: 200 with per-item results);
	// n is the request's number, from 0.
	status func(n int) int
	// item gives an item's status, by _id and how many times that _id was received
	// before (0 the first time); 0 means success (201).
	item func(id string, seen int) int
	// maxBody, if not 0, answers 413 to larger uncompressed bodies.
	maxBody int
}

type bulkRequest struct {
	header http.Header
	path   string
	query  string
	raw    int // body bytes on the wire
	plain  int // body bytes uncompressed
	items  []bulkItem
}

type bulkItem struct {
	op, index, id string
	doc           json.RawMessage
}

func newFakeES(t *testing.T, flavor string) *fakeES {
	f := &fakeES{t: t, flavor: flavor, seen: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeES) requests() []bulkRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]bulkRequest(nil), f.reqs...)
}

// ids returns the _ids of request n.
func (f *fakeES) ids(n int) []string {
	var out []string
	for _, it := range f.requests()[n].items {
		out = append(out, it.id)
	}
	return out
}

func (f *fakeES) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/_bulk") {
		http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
		return
	}
	var body io.Reader = r.Body
	raw, _ := io.ReadAll(body)
	plain := raw
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			f.t.Errorf("bad gzip body: %v", err)
			http.Error(w, "bad gzip", http.StatusBadRequest)
			return
		}
		if plain, err = io.ReadAll(zr); err != nil {
			f.t.Errorf("bad gzip body: %v", err)
		}
	}
	req := bulkRequest{header: r.Header.Clone(), path: r.URL.Path, query: r.URL.RawQuery, raw: len(raw), plain: len(plain)}
	sc := bufio.NewScanner(bytes.NewReader(plain))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil || len(action) != 1 {
			f.t.Errorf("bad action line %q: %v", sc.Text(), err)
			return
		}
		if !sc.Scan() {
			f.t.Errorf("action without document")
			return
		}
		doc := json.RawMessage(append([]byte(nil), sc.Bytes()...))
		for op, a := range action {
			req.items = append(req.items, bulkItem{op: op, index: a.Index, id: a.ID, doc: doc})
		}
	}
	f.mu.Lock()
	n := len(f.reqs)
	f.reqs = append(f.reqs, req)
	status := 0
	if f.status != nil {
		status = f.status(n)
	}
	if f.maxBody > 0 && len(plain) > f.maxBody {
		status = http.StatusRequestEntityTooLarge
	}
	if status != 0 && status != http.StatusOK {
		f.mu.Unlock()
		f.requestError(w, status)
		return
	}
	var items []string
	errs := false
	for _, it := range req.items {
		st := 0
		if f.item != nil {
			st = f.item(it.id, f.seen[it.id])
		}
		f.seen[it.id]++
		if st == 0 {
			st = http.StatusCreated
		}
		if st >= 300 {
			errs = true
		}
		items = append(items, f.itemJSON(it, st))
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if f.flavor == "es8" {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		fmt.Fprintf(w, `{"errors":%t,"took":3,"items":[%s]}`, errs, strings.Join(items, ","))
	} else {
		fmt.Fprintf(w, `{"took":30,"errors":%t,"items":[%s]}`, errs, strings.Join(items, ","))
	}
}

// itemJSON renders one item result as the server documents it.
func (f *fakeES) itemJSON(it bulkItem, status int) string {
	index := it.index
	if it.op == "create" && f.flavor == "es8" {
		index = ".ds-" + it.index + "-2026.11.22-000001" // data stream backing index
	}
	head := fmt.Sprintf(`"_index":%q,"_id":%q`, index, it.id)
	switch {
	case status < 300:
		result := "created"
		if status == http.StatusOK {
			result = "updated"
		}
		if f.flavor == "es8" {
			return fmt.Sprintf(`{%q:{%s,"_version":1,"result":%q,"_shards":{"total":2,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1,"status":%d}}`,
				it.op, head, result, status)
		}
		return fmt.Sprintf(`{%q:{%s,"_version":1,"result":%q,"forced_refresh":false,"_shards":{"total":2,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1,"status":%d}}`,
			it.op, head, result, status)
	}
	var e string
	switch status {
	case http.StatusConflict:
		e = fmt.Sprintf(`{"type":"version_conflict_engine_exception","reason":"[%s]: version conflict, document already exists (current version [1])","index_uuid":"aAsFqTI0Tc2W0LCWgPNrOA","shard":"0","index":%q}`, it.id, index)
	case http.StatusTooManyRequests:
		e = `{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=1024, max_coordinating_and_primary_bytes=0]"}`
	case http.StatusBadRequest:
		if f.flavor == "es8" {
			e = fmt.Sprintf(`{"type":"document_parsing_exception","reason":"[1:15] failed to parse field [level] of type [long] in document with id '%s'. Preview of field's value: 'info'","caused_by":{"type":"illegal_argument_exception","reason":"For input string: \"info\""}}`, it.id)
		} else {
			e = fmt.Sprintf(`{"type":"mapper_parsing_exception","reason":"failed to parse field [level] of type [long] in document with id '%s'. Preview of field's value: 'info'","caused_by":{"type":"number_format_exception","reason":"For input string: \"info\""}}`, it.id)
		}
	case http.StatusForbidden:
		e = fmt.Sprintf(`{"type":"cluster_block_exception","reason":"index [%s] blocked by: [FORBIDDEN/8/index write (api)];"}`, index)
	default: // 5xx
		e = fmt.Sprintf(`{"type":"unavailable_shards_exception","reason":"[%s][0] primary shard is not active Timeout: [1m], request: [BulkShardRequest [[%s][0]] containing [1] requests]"}`, index, index)
	}
	return fmt.Sprintf(`{%q:{%s,"status":%d,"error":%s}}`, it.op, head, status, e)
}

// requestError answers a whole request with an error, as the server does.
func (f *fakeES) requestError(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/json")
	switch status {
	case http.StatusUnauthorized:
		w.Header().Add("WWW-Authenticate", `Basic realm="security" charset="UTF-8"`)
		w.Header().Add("WWW-Authenticate", "ApiKey")
		w.WriteHeader(status)
		io.WriteString(w, `{"error":{"root_cause":[{"type":"security_exception","reason":"unable to authenticate user [logferry] for REST request [/_bulk]","header":{"WWW-Authenticate":["Basic realm=\"security\" charset=\"UTF-8\"","ApiKey"]}}],"type":"security_exception","reason":"unable to authenticate user [logferry] for REST request [/_bulk]","header":{"WWW-Authenticate":["Basic realm=\"security\" charset=\"UTF-8\"","ApiKey"]}},"status":401}`)
	case http.StatusTooManyRequests:
		w.WriteHeader(status)
		io.WriteString(w, `{"error":{"root_cause":[{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation"}],"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation"},"status":429}`)
	case http.StatusRequestEntityTooLarge:
		w.WriteHeader(status) // the HTTP layer answers with an empty body
	default:
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":{"root_cause":[{"type":"cluster_block_exception","reason":"blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];"}],"type":"cluster_block_exception","reason":"blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];"},"status":%d}`, status)
	}
}

// line renders a record as the agent does (the fields the sink reads).
func line(id, ns, ts string) string {
	return fmt.Sprintf(`{"@timestamp":%q,"message":"hello from %s","stream":"stdout","kubernetes":{"namespace":%q,"pod":{"name":"web-1"}},"event":{"id":%q}}`+"\n",
		ts, id, ns, id)
}

// batch returns a batch of chunks of records with the given ids, namespace default,
// on 2026-11-22.
func batch(ids ...[]string) *pipeline.Batch {
	b := &pipeline.Batch{}
	for _, chunk := range ids {
		var s strings.Builder
		for _, id := range chunk {
			s.WriteString(line(id, "default", "2026-11-22T15:19:10.014328837Z"))
		}
		b.Add(&pipeline.Chunk{Data: []byte(s.String()), Records: len(chunk)})
	}
	return b
}

type env struct {
	es   *fakeES
	sink *Sink
	dead string // dead-letter path
}

// newEnv starts a fake server and a sink sending to it; opt adjusts the options.
func newEnv(t *testing.T, flavor string, opt func(*Options)) *env {
	t.Helper()
	es := newFakeES(t, flavor)
	dir := t.TempDir()
	deadPath := filepath.Join(dir, "dead.jsonl")
	dl, err := httpsink.NewDeadLetter("es", config.DeadLetter{DeadLetterPath: deadPath}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	o := Options{
		URLs:  []string{es.srv.URL},
		Index: "logs-{kubernetes.namespace}-%Y.%m.%d",
		Options: httpsink.Options{
			DeadLetter: dl,
			Logger:     slog.New(slog.DiscardHandler),
			Now:        func() time.Time { return time.Date(2026, 11, 22, 16, 0, 0, 0, time.UTC) },
		},
	}
	if opt != nil {
		opt(&o)
	}
	s, err := New("es", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(t.Context()) })
	return &env{es: es, sink: s, dead: deadPath}
}

// deadLines reads the dead-letter file.
func (e *env) deadLines(t *testing.T) []deadLine {
	t.Helper()
	data, err := os.ReadFile(e.dead)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []deadLine
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if l == "" {
			continue
		}
		var d deadLine
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("bad dead-letter line %q: %v", l, err)
		}
		out = append(out, d)
	}
	return out
}

// failingDead is a dead-letter sink whose first fails Consumes fail.
type failingDead struct {
	fails int
	lines []string
}

func (f *failingDead) Name() string { return "dead" }

func (f *failingDead) Consume(_ context.Context, b *pipeline.Batch) error {
	if f.fails > 0 {
		f.fails--
		return errors.New("disk full")
	}
	for _, c := range b.Chunks {
		f.lines = append(f.lines, strings.Split(strings.TrimSuffix(string(c.Data), "\n"), "\n")...)
	}
	return nil
}

func (f *failingDead) Close(context.Context) error { return nil }

var _ sink.Sink = (*Sink)(nil)
