// Package elastic is the Elasticsearch / OpenSearch sink: it sends records to the
// bulk API (Elasticsearch 7 and 8, OpenSearch 2, and compatible servers such as
// VictoriaLogs) with plain net/http.
//
// # Delivery
//
// Every record is one bulk item whose _id is the record's event.id, so a record sent
// again (after a failed attempt, or after a crash before its checkpoint was saved)
// overwrites itself instead of duplicating; with data_stream the op is create, and a
// create that finds the _id already there (409) counts as delivered.
//
// Consume returns nil only when every record of the batch is accepted by the cluster
// or written (fsynced) to the dead-letter file. Per item:
//
//   - 2xx, and 409 on create: done;
//   - 429 and 5xx: still pending. Only the pending records are sent by the next
//     Consume of the same batch (the Runner retries with backoff): records the
//     cluster accepted are not sent again;
//   - 401 and 403 (no permission, a write block): still pending, and the error is
//     permanent (sink.Permanent: an operator must act; nothing is dead-lettered);
//   - any other 4xx (a mapping error 400, ...): written to the dead-letter file with
//     its error and counted, then done: never retried forever, never silently lost.
//
// Whole-request failures (network errors, 429, 5xx, a response that cannot be
// parsed) leave the request's records pending; 401, 403, 404 and other 4xx are
// marked permanent. A node that cannot be reached (or answers 502/503/504) fails over
// to the next URL within the same attempt.
//
// The per-batch state (which records are still pending, which dead-letter lines are
// not yet written) is kept only while Consume keeps failing for one batch, and is
// used only when the next Consume gets the very same batch (same chunks, same bytes,
// checked with a hash); any other batch starts from scratch. Starting from scratch is
// always safe: it resends everything (at-least-once), it never skips a record.
package elastic

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/record"
	"github.com/logferry/logferry/internal/sink"
	"github.com/logferry/logferry/internal/sink/httpsink"
)

// Defaults of Options.
const (
	DefaultTimeout         = 30 * time.Second
	DefaultMaxRequestBytes = 8 << 20
)

// maxResponseBytes caps how much of a bulk response is read.
const maxResponseBytes = 256 << 20

// maxIDBytes is Elasticsearch's limit on _id; longer ids are left to the cluster.
const maxIDBytes = 512

// Options configures a Sink.
type Options struct {
	// URLs are the nodes' base URLs; the bulk endpoint is <url>/_bulk. Required.
	URLs []string
	// Index is the index template (see package config, ElasticsearchSink.Index).
	Index string
	// Routes maps a route name (record.RouteField) to the index template of its
	// records.
	Routes map[string]string
	// DataStream sends with the create op.
	DataStream bool
	// IDField is the record field used as _id (default "event.id").
	IDField string
	// NoGzip sends uncompressed bodies.
	NoGzip bool
	// Parameters are added to every bulk request's query.
	Parameters map[string]string
	// Options are the HTTP settings. Here DeadLetter is required, Authorization
	// may also give APIKeyAuth's header, and Timeout and MaxRequestBytes default
	// to DefaultTimeout and DefaultMaxRequestBytes.
	httpsink.Options
}

// APIKeyAuth returns the Authorization header of an API key, given either encoded
// (as Elasticsearch returns it) or as id:key.
func APIKeyAuth(key string) string {
	if strings.Contains(key, ":") {
		key = base64.StdEncoding.EncodeToString([]byte(key))
	}
	return "ApiKey " + key
}

// Stats are a Sink's counters.
type Stats struct {
	Requests     uint64 // bulk requests sent (including failed ones)
	Accepted     uint64 // records accepted by the cluster (incl. conflicts)
	Conflicts    uint64 // creates answered 409: the document was already there
	Retried      uint64 // records left pending by a retryable item or request failure
	DeadLettered uint64 // records written to the dead-letter file
}

// Sink sends batches to the bulk API.
type Sink struct {
	name   string
	urls   []string // bulk endpoints, with the query
	index  *indexTemplate
	routes map[string]*indexTemplate
	op     string
	idPath string
	gzip   bool
	client httpsink.Client

	mu     sync.Mutex
	closed bool
	next   int            // round-robin position
	retry  httpsink.Retry // what is left of the failed batch
	recs   []httpsink.Rec // scratch
	body   bytes.Buffer   // the request's uncompressed body (without gzip)
	zbody  bytes.Buffer   // the request's gzipped body
	action []byte         // scratch: one item's action line
	stage  []byte         // items waiting to be compressed (stageBytes at most)
	resp   bytes.Buffer   // the last response's body
	size   int            // the last request's uncompressed size
	zw     *gzip.Writer

	requests, accepted, conflicts, retried, deadLettered atomic.Uint64
}

// New returns a sink.
func New(name string, o Options) (*Sink, error) {
	if len(o.URLs) == 0 {
		return nil, errors.New("elasticsearch: no urls")
	}
	if o.DeadLetter == nil {
		return nil, errors.New("elasticsearch: no dead-letter sink")
	}
	it, err := parseIndexTemplate(o.Index)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch: %w", err)
	}
	s := &Sink{
		name:   name,
		index:  it,
		op:     "index",
		idPath: "event.id",
		gzip:   !o.NoGzip,
	}
	for rn, t := range o.Routes {
		rt, err := parseIndexTemplate(t)
		if err != nil {
			return nil, fmt.Errorf("elasticsearch: route %s: %w", rn, err)
		}
		if s.routes == nil {
			s.routes = map[string]*indexTemplate{}
		}
		s.routes[rn] = rt
	}
	if o.DataStream {
		s.op = "create"
	}
	if o.IDField != "" {
		s.idPath = o.IDField
	}
	q := url.Values{}
	for k, v := range o.Parameters {
		q.Set(k, v)
	}
	for _, raw := range o.URLs {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("elasticsearch: bad url %q", raw)
		}
		u.Path = strings.TrimSuffix(u.Path, "/") + "/_bulk"
		u.RawPath = ""
		u.RawQuery = q.Encode()
		s.urls = append(s.urls, u.String())
	}
	s.client = httpsink.NewClient(name, o.Options, httpsink.Defaults{
		Timeout: DefaultTimeout, MaxRequestBytes: DefaultMaxRequestBytes, IdlePerHost: 4,
	})
	// klauspost/compress's gzip, not the standard library's: at the fastest level
	// it compresses the agent's records 1.6 times faster (435 against 276 MB per
	// CPU-second, ratio 4.24 against 4.16), and compression was half the sink's CPU.
	s.zw, _ = gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return s, nil
}

// Name implements sink.Sink.
func (s *Sink) Name() string { return s.name }

// Stats returns the counters.
func (s *Sink) Stats() Stats {
	return Stats{
		Requests: s.requests.Load(), Accepted: s.accepted.Load(), Conflicts: s.conflicts.Load(),
		Retried: s.retried.Load(), DeadLettered: s.deadLettered.Load(),
	}
}

// Counts implements sink.Counter.
func (s *Sink) Counts() sink.Counts {
	return sink.Counts{DeadLettered: s.deadLettered.Load()}
}

// Close implements sink.Sink.
func (s *Sink) Close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.retry.Clear()
	return s.client.Close(ctx)
}

// Consume implements sink.Sink.
func (s *Sink) Consume(ctx context.Context, b *pipeline.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return sink.Permanent(sink.ErrClosed)
	}
	recs, dead, ok := s.retry.Take(b)
	if !ok {
		s.recs = httpsink.Split(s.recs[:0], b)
		recs = s.recs
	}

	// Dead-letter lines left by the previous attempt come first.
	if err := s.writeDead(ctx, &dead); err != nil {
		s.retry.Keep(b, recs, dead)
		return err
	}

	var pending []httpsink.Rec // records to send again
	var failure error          // the first failure of this attempt
	permanent := false
	limit := s.client.MaxBody
	for len(recs) > 0 {
		n, res, err := s.sendSome(ctx, b, recs, limit)
		if err != nil {
			var tooLarge *httpsink.StatusError
			if errors.As(err, &tooLarge) && tooLarge.Status == http.StatusRequestEntityTooLarge {
				if n > 1 {
					// The cluster takes less than max_request_bytes: send smaller
					// requests for the rest of this attempt.
					limit = max(s.size/2, 1)
					s.client.Log.Warn("request too large for the cluster (HTTP 413); lower max_request_bytes", "bytes", s.size)
					continue
				}
				// One record the cluster will never take: dead-letter it.
				s.addDead(&dead, b, recs[0], "", tooLarge.Status, json.RawMessage(strconv.Quote(tooLarge.Msg)))
				recs = recs[1:]
				continue
			}
			// The rest of the batch waits for the next attempt: the cluster is in
			// trouble (or unreachable), sending more now would not help.
			pending = append(pending, recs...)
			s.retried.Add(uint64(len(recs)))
			failure = err
			break
		}
		for k, it := range res {
			r := recs[k]
			switch {
			case it.Status >= 200 && it.Status < 300:
				s.accepted.Add(1)
			case it.Status == http.StatusConflict && it.op == "create":
				s.accepted.Add(1)
				s.conflicts.Add(1)
			case it.Status == http.StatusTooManyRequests || it.Status >= 500 || it.Status == http.StatusConflict ||
				it.Status == http.StatusUnauthorized || it.Status == http.StatusForbidden || it.Status < 200:
				pending = append(pending, r)
				s.retried.Add(1)
				if it.Status == http.StatusUnauthorized || it.Status == http.StatusForbidden {
					permanent = true
				}
				if failure == nil {
					failure = fmt.Errorf("item status %d: %s", it.Status, errorText(it.Error))
				}
			default:
				s.addDead(&dead, b, r, it.Index, it.Status, it.Error)
			}
		}
		recs = recs[n:]
	}

	if err := s.writeDead(ctx, &dead); err != nil {
		s.retry.Keep(b, pending, dead)
		return err
	}
	if len(pending) > 0 {
		s.retry.Keep(b, pending, httpsink.DeadLines{})
		err := fmt.Errorf("elasticsearch %s: %d of %d records not yet accepted: %w", s.name, len(pending), b.Records, failure)
		if permanent || sink.IsPermanent(failure) {
			return sink.Permanent(err)
		}
		return err
	}
	return nil
}

// itemResult is one item of a bulk response (the value under its op name).
type itemResult struct {
	Index  string          `json:"_index"`
	Status int             `json:"status"`
	Error  json.RawMessage `json:"error"`
	op     string
}

// sendSome sends the first records of recs that fit one request of limit bytes (at
// least one record) and returns how many it sent and, on success, their results in
// order. With gzip the items are compressed as they are added, never copied into an
// uncompressed body first (a copy of every record: 10 % of the sink's CPU).
func (s *Sink) sendSome(ctx context.Context, b *pipeline.Batch, recs []httpsink.Rec, limit int) (int, []itemResult, error) {
	s.body.Reset()
	if s.gzip {
		s.zbody.Reset()
		s.zw.Reset(&s.zbody)
	}
	n, size := 0, 0
	ci := chunkIndex{chunk: -1}
	for _, r := range recs {
		s.action = s.appendAction(s.action[:0], b, r, &ci)
		doc := r.Data(b)
		item := len(s.action) + len(doc) + 1
		if n > 0 && size+item > limit {
			break
		}
		size += item
		n++
		if s.gzip {
			// Staged into a small buffer that stays in cache, and compressed 64 KiB
			// at a time: writing each piece on its own costs the gzip trailer's
			// CRC-32 its vectorised path (pieces under 64 bytes).
			s.stage = append(s.stage, s.action...)
			s.stage = append(s.stage, doc...)
			s.stage = append(s.stage, '\n')
			if len(s.stage) >= stageBytes {
				_, _ = s.zw.Write(s.stage)
				s.stage = s.stage[:0]
			}
		} else {
			s.body.Write(s.action)
			s.body.Write(doc)
			s.body.WriteByte('\n')
		}
	}
	s.size = size
	payload := s.body.Bytes()
	if s.gzip {
		_, _ = s.zw.Write(s.stage)
		s.stage = s.stage[:0]
		_ = s.zw.Close()
		payload = s.zbody.Bytes()
	}
	resp, err := s.post(ctx, payload)
	if err != nil {
		return n, nil, err
	}
	res, err := parseBulk(resp, n)
	if err != nil {
		return n, nil, err
	}
	return n, res, nil
}

// indexOf returns the index template of the record f reads: its route's
// (record.RouteField) when the sink maps that route, else the sink's.
func (s *Sink) indexOf(f *record.Fields) *indexTemplate {
	if len(s.routes) > 0 {
		if v, ok := f.Scalar(record.RouteField); ok {
			if t, ok := s.routes[string(v)]; ok {
				return t
			}
		}
	}
	return s.index
}

// indexName appends the index name of rec, a record of chunk c, to dst.
func (s *Sink) indexName(dst []byte, c *pipeline.Chunk, rec []byte) []byte {
	f := record.Fields{Consts: c.Consts, Rec: rec}
	t := s.indexOf(&f)
	var vals [4][]byte
	return t.render(dst, rec, t.fieldValues(vals[:0], &f), s.client.Now)
}

// chunkIndex is the index template and field values of a chunk's records when its
// Consts decide them (an index per namespace): resolved once per chunk instead of
// scanning every record. Only the date parts then differ between records.
type chunkIndex struct {
	chunk   int32 // the chunk resolved, -1 for none
	decided bool
	t       *indexTemplate
	vals    [][]byte
}

func (ci *chunkIndex) resolve(s *Sink, b *pipeline.Batch, chunk int32) {
	ci.chunk, ci.decided = chunk, false
	c := b.Chunks[chunk]
	if c.Consts == nil {
		return
	}
	f := record.Fields{Consts: c.Consts}
	ci.t = s.indexOf(&f)
	ci.vals = ci.t.fieldValues(ci.vals[:0], &f)
	ci.decided = !f.Undecided
}

// stageBytes is how many bytes of items are compressed at a time.
const stageBytes = 64 << 10

// appendItem appends the action line and the document of r to w (tests).
func (s *Sink) appendItem(w *bytes.Buffer, b *pipeline.Batch, r httpsink.Rec, ci *chunkIndex) {
	s.action = s.appendAction(s.action[:0], b, r, ci)
	w.Write(s.action)
	w.Write(r.Data(b))
	w.WriteByte('\n')
}

// appendAction appends the action line of r to dst; ci carries the index
// resolution of r's chunk from one call to the next.
func (s *Sink) appendAction(dst []byte, b *pipeline.Batch, r httpsink.Rec, ci *chunkIndex) []byte {
	d := r.Data(b)
	var scratch [256]byte
	if ci.chunk != r.Chunk {
		ci.resolve(s, b, r.Chunk)
	}
	var idx []byte
	if ci.decided {
		idx = ci.t.render(scratch[:0], d, ci.vals, s.client.Now)
	} else {
		idx = s.indexName(scratch[:0], b.Chunks[r.Chunk], d)
	}
	dst = append(dst, `{"`...)
	dst = append(dst, s.op...)
	dst = append(dst, `":{"_index":`...)
	dst = appendJSONString(dst, idx)
	var raw []byte
	if s.idPath == "event.id" {
		raw = record.EventIDOf(d)
	} else {
		raw = record.Lookup(d, s.idPath)
	}
	if len(raw) > 0 && len(raw) <= maxIDBytes {
		switch {
		case raw[0] == '"':
			dst = append(dst, `,"_id":`...)
			dst = append(dst, raw...)
		case raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9':
			dst = append(dst, `,"_id":"`...)
			dst = append(dst, raw...)
			dst = append(dst, '"')
		}
	}
	return append(dst, "}}\n"...)
}

func appendJSONString(dst, v []byte) []byte {
	dst = append(dst, '"')
	for _, c := range v {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = fmt.Appendf(dst, `\u%04x`, c)
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// post sends one body, failing over to the next URL when a node cannot be reached or
// answers 502, 503 or 504. It returns the body of a 2xx response.
func (s *Sink) post(ctx context.Context, payload []byte) ([]byte, error) {
	var err error
	for try := 0; try < len(s.urls); try++ {
		u := s.urls[s.next%len(s.urls)]
		s.next++
		var body []byte
		var failover bool
		body, failover, err = s.postOne(ctx, u, payload)
		if err == nil {
			return body, nil
		}
		if !failover || ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

func (s *Sink) postOne(ctx context.Context, u string, payload []byte) (body []byte, failover bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.client.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(payload))
	if err != nil {
		return nil, false, sink.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Accept", "application/json")
	if s.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if err := s.client.Authorize(req); err != nil {
		return nil, false, err
	}
	s.requests.Add(1)
	resp, err := s.client.HTTP.Do(req)
	if err != nil {
		return nil, true, fmt.Errorf("bulk request to %s: %w", redact(u), err)
	}
	defer resp.Body.Close()
	// Into a buffer kept from one request to the next (the caller holds s.mu and
	// is done with the body before the next request): a response has an item per
	// record, and reading each into a new buffer grew it from scratch every time.
	s.resp.Reset()
	_, err = s.resp.ReadFrom(io.LimitReader(resp.Body, maxResponseBytes))
	body = s.resp.Bytes()
	if err != nil {
		var ne net.Error
		return nil, errors.As(err, &ne), fmt.Errorf("bulk response from %s: %w", redact(u), err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return body, false, nil
	}
	serr := &httpsink.StatusError{Status: resp.StatusCode, Msg: responseError(body)}
	err = fmt.Errorf("bulk request to %s: %w", redact(u), serr)
	switch code := resp.StatusCode; {
	case code == http.StatusBadGateway || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout:
		return nil, true, err
	case code == http.StatusTooManyRequests || code >= 500 || code == http.StatusRequestEntityTooLarge:
		return nil, false, err
	default: // 401, 403, 404 and other 4xx: retrying will not help
		return nil, false, sink.Permanent(err)
	}
}

// parseBulk reads a bulk response for n items: Elasticsearch 7/8 and OpenSearch 2
// answer {"took":..,"errors":bool,"items":[{"<op>":{"_index":..,"status":..,"error":..}}]}.
func parseBulk(body []byte, n int) ([]itemResult, error) {
	if allCreated(body) {
		return statuses(n, http.StatusOK), nil
	}
	var head struct {
		Errors *bool           `json:"errors"`
		Items  json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return nil, fmt.Errorf("bulk response: %w (%s)", err, snippet(body))
	}
	if head.Errors == nil || len(head.Items) == 0 || head.Items[0] != '[' {
		return nil, fmt.Errorf("bulk response without errors and items: %s", snippet(body))
	}
	if !*head.Errors {
		// Every item succeeded: no need to decode them.
		return statuses(n, http.StatusOK), nil
	}
	res := make([]itemResult, n)
	var items []map[string]itemResult
	if err := json.Unmarshal(head.Items, &items); err != nil {
		return nil, fmt.Errorf("bulk response items: %w", err)
	}
	if len(items) != n {
		return nil, fmt.Errorf("bulk response has %d items for %d sent", len(items), n)
	}
	for i, m := range items {
		for op, it := range m {
			it.op = op
			res[i] = it
		}
	}
	return res, nil
}

// allCreated reports whether body is a bulk response that says every item
// succeeded before its items: "errors":false, then "items" an array.
// Elasticsearch 7/8, OpenSearch 2 and VictoriaLogs write "took", "errors", "items"
// in this order, so the items of a successful response (25 to 100 bytes each) are
// not scanned: json.Unmarshal validated them all, about 6 % of the sink's CPU. Any
// other shape is left to the full decoding.
func allCreated(body []byte) bool {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[len(body)-1] != '}' {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	noErrors := false
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return false
		}
		switch key {
		case "errors":
			var e bool
			if dec.Decode(&e) != nil || e {
				return false
			}
			noErrors = true
		case "items":
			t, err := dec.Token()
			return noErrors && err == nil && t == json.Delim('[')
		default:
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return false
			}
		}
	}
	return false
}

// statuses returns n results of status.
func statuses(n, status int) []itemResult {
	res := make([]itemResult, n)
	for i := range res {
		res[i].Status = status
	}
	return res
}

// errorText renders an item's error: {"type":..,"reason":..} (ES 7/8, OpenSearch) or
// a plain string (older versions).
func errorText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "no error given"
	}
	var e struct {
		Type     string `json:"type"`
		Reason   string `json:"reason"`
		CausedBy *struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"caused_by"`
	}
	if json.Unmarshal(raw, &e) == nil && (e.Type != "" || e.Reason != "") {
		t := e.Type + ": " + e.Reason
		if e.CausedBy != nil && e.CausedBy.Reason != "" {
			t += " (caused by " + e.CausedBy.Type + ": " + e.CausedBy.Reason + ")"
		}
		return t
	}
	var str string
	if json.Unmarshal(raw, &str) == nil {
		return str
	}
	return snippet(raw)
}

// responseError renders the error of a failed request: {"error":{...},"status":..}.
func responseError(body []byte) string {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && len(e.Error) > 0 {
		return errorText(e.Error)
	}
	return snippet(body)
}

func snippet(b []byte) string {
	const max = 300
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

// redact drops the query from a URL for messages.
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// deadLine is one line of the dead-letter file.
type deadLine struct {
	Time   string          `json:"time"`
	Sink   string          `json:"sink"`
	Index  string          `json:"index"`
	Op     string          `json:"op"`
	Status int             `json:"status"`
	Error  json.RawMessage `json:"error"`
	// Record is the record as sent when it is valid JSON; RecordText holds it as a
	// string otherwise.
	Record     json.RawMessage `json:"record,omitempty"`
	RecordText string          `json:"record_text,omitempty"`
}

// addDead adds the dead-letter line of r (a copy of the record: the batch's data is
// not kept).
func (s *Sink) addDead(dead *httpsink.DeadLines, b *pipeline.Batch, r httpsink.Rec, index string, status int, e json.RawMessage) {
	d := r.Data(b)
	if index == "" {
		index = string(s.indexName(nil, b.Chunks[r.Chunk], d))
	}
	if len(e) == 0 || !json.Valid(e) {
		e = json.RawMessage(strconv.Quote(string(e)))
	}
	l := deadLine{Time: s.client.Now().UTC().Format(time.RFC3339Nano), Sink: s.name, Index: index, Op: s.op, Status: status, Error: e}
	l.Record, l.RecordText = httpsink.Record(d)
	if err := dead.Add(l); err != nil { // cannot happen: every part is valid
		dead.AddLine(fmt.Appendf(nil, `{"sink":%q,"status":%d,"record_text":%q}`, s.name, status, d))
	}
	s.client.Log.Warn("record rejected by the cluster; written to the dead-letter file",
		"index", index, "status", status, "error", errorText(e))
}

// writeDead writes the dead-letter lines, if any, and counts them.
func (s *Sink) writeDead(ctx context.Context, dead *httpsink.DeadLines) error {
	n, err := dead.Write(ctx, s.client.Dead)
	s.deadLettered.Add(uint64(n))
	if err != nil {
		return fmt.Errorf("elasticsearch %s: %w", s.name, err)
	}
	return nil
}

var _ sink.Counter = (*Sink)(nil)
