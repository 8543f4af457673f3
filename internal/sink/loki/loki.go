// Package loki is the Grafana Loki sink: it sends records to the push API
// (POST /loki/api/v1/push) of Loki and compatible servers (VictoriaLogs'
// /insert/loki/api/v1/push), as snappy-compressed protobuf (logproto.PushRequest,
// encoded by hand) or as JSON, with plain net/http.
//
// # Streams and entries
//
// Every record is one entry. Its stream is given by a few labels taken from the
// record (namespace, workload, container by default) plus static labels; entries of
// one stream keep the order of the records within a push, and pushes of one sink
// are sent one after another, so the order holds across pushes too. A push has one
// tenant (X-Scope-OrgID): the sink's, or the one its routes give the record's route
// (record.RouteField); a batch of several tenants is sent as pushes per tenant. The entry's
// timestamp is the record's @timestamp, its line the record's message (or the whole
// record), and other fields of interest (pod, pod uid, node, stream, event.id) go to
// structured metadata, so that any record can be found by its event.id.
//
// # Delivery
//
// Consume returns nil only when Loki accepted every record of the batch (2xx) or,
// when a dead-letter file is configured, wrote the ones it rejects for good there.
// A batch larger than the request limit is split into several pushes, sent in
// order; a push that fails stops the attempt, and the records from it on stay
// pending for the next Consume of the same batch (the Runner retries with backoff):
// pushes already accepted are not sent again. A push sent again after an unclear
// failure (a timeout after Loki had taken it) is harmless: Loki drops an entry
// identical to one it has (same stream, timestamp and line).
//
// Per response:
//
//   - 2xx: done;
//   - network errors, 408, 429 and 5xx: retryable, the batch waits;
//   - 413: the rest of the attempt uses requests of half that size;
//   - 400 and 422 (Loki rejected entries: too old, too far behind the stream's
//     newest entry, line too long, bad labels...): the push is bisected down to
//     the records Loki refuses on their own, which are written to the dead-letter
//     file with Loki's answer and counted, then done (the others are delivered).
//     Without a dead-letter file (Options.DeadLetter nil; the configuration
//     requires one) the batch fails with a permanent error carrying Loki's
//     answer, logged at error level by the Runner and retried until an operator
//     acts: never silently dropped;
//   - 401, 403, 404 and other 4xx: permanent (configuration or permissions), the
//     batch waits; nothing is dead-lettered.
package loki

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/s2"

	"github.com/klauspost/compress/gzip"
	"github.com/logferry/logferry/internal/config"

	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/record"
	"github.com/logferry/logferry/internal/sink"
	"github.com/logferry/logferry/internal/sink/httpsink"
)

// Defaults of Options.
const (
	DefaultPath            = "/loki/api/v1/push"
	DefaultTimeout         = 30 * time.Second
	DefaultMaxRequestBytes = 1 << 20
)

// maxResponseBytes caps how much of a response is read; maxErrorText how much of
// it goes into errors and dead-letter lines.
const (
	maxResponseBytes = 64 << 10
	maxErrorText     = 2048
)

// Options configures a Sink.
type Options struct {
	// URL is the push endpoint; a URL without a path gets DefaultPath. Required.
	URL string
	// Tenant is sent as X-Scope-OrgID when set.
	Tenant string
	// Routes maps a route name (record.RouteField) to the tenant of its records;
	// records of other routes use Tenant.
	Routes map[string]string
	// JSON sends JSON bodies instead of snappy-compressed protobuf.
	JSON bool
	// NoGzip sends JSON bodies uncompressed (they are gzipped by default).
	NoGzip bool
	// Labels are the stream labels taken from the record; nil means DefaultLabels
	// (an empty, non-nil slice: none).
	Labels []Field
	// StaticLabels are added to every stream.
	StaticLabels []Label
	// StructuredMetadata are the entry's metadata taken from the record; nil
	// means DefaultStructuredMetadata (an empty, non-nil slice: none).
	StructuredMetadata []Field
	// LineRecord sends the whole record as the line (default: its message).
	LineRecord bool
	// Headers are added to every request.
	Headers map[string]string
	// Options are the HTTP settings. Here DeadLetter may be nil: records Loki
	// rejects for good then fail the batch with a permanent error; Timeout and
	// MaxRequestBytes default to DefaultTimeout and DefaultMaxRequestBytes.
	httpsink.Options
}

// DefaultLabels returns the default stream labels (those of config.DefaultLokiSink).
func DefaultLabels() []Field { return FieldsOf(config.DefaultLokiSink().Labels) }

// DefaultStructuredMetadata returns the default structured metadata fields.
func DefaultStructuredMetadata() []Field {
	return FieldsOf(config.DefaultLokiSink().StructuredMetadata)
}

// FieldsOf turns a configured map (name → field paths separated by |) into Fields.
func FieldsOf(m map[string]string) []Field {
	out := make([]Field, 0, len(m))
	for name, v := range m {
		out = append(out, Field{Name: name, Paths: config.LokiFieldPaths(v)})
	}
	return out
}

// Failures counts failed requests by reason.
type Failures struct {
	Network     uint64 // no response: connection refused, reset, timeout
	RateLimited uint64 // 429
	Server      uint64 // 5xx, 408
	TooLarge    uint64 // 413
	Rejected    uint64 // 400, 422: Loki refused entries
	Auth        uint64 // 401, 403
	Client      uint64 // other 4xx (404, 405, 415...)
}

// Stats are a Sink's counters.
type Stats struct {
	Requests     uint64 // push requests sent (including failed ones)
	Accepted     uint64 // records Loki accepted
	Retried      uint64 // records left pending by a failed request
	DeadLettered uint64 // records written to the dead-letter file
	Failures     Failures
}

// Sink sends batches to the push API.
type Sink struct {
	name    string
	url     string
	tenants []string       // tenants[0] is the default ("" none)
	routes  map[string]int // route → index in tenants
	json    bool
	gzip    bool
	headers map[string]string
	client  httpsink.Client
	ex      *extractor

	mu      sync.Mutex
	closed  bool
	retry   httpsink.Retry // what is left of the failed batch
	recs    []httpsink.Rec // scratch; Group is the record's tenant (index in tenants)
	req     request
	payload []byte // the compressed body
	zbuf    bytes.Buffer
	zw      *gzip.Writer

	requests, accepted, retried, deadLettered                            atomic.Uint64
	fNetwork, fRateLimited, fServer, fTooLarge, fRejected, fAuth, fOther atomic.Uint64
}

// New returns a sink.
func New(name string, o Options) (*Sink, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("loki: bad url %q", o.URL)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = DefaultPath
		u.RawPath = ""
	}
	s := &Sink{
		name:    name,
		url:     u.String(),
		tenants: []string{o.Tenant},
		json:    o.JSON,
		gzip:    o.JSON && !o.NoGzip,
		headers: o.Headers,
		client: httpsink.NewClient(name, o.Options, httpsink.Defaults{
			Timeout: DefaultTimeout, MaxRequestBytes: DefaultMaxRequestBytes, IdlePerHost: 2,
		}),
	}
	for route, tenant := range o.Routes {
		if s.routes == nil {
			s.routes = map[string]int{}
		}
		i := slices.Index(s.tenants, tenant)
		if i < 0 {
			i = len(s.tenants)
			s.tenants = append(s.tenants, tenant)
		}
		s.routes[route] = i
	}
	labels, meta := o.Labels, o.StructuredMetadata
	if labels == nil {
		labels = DefaultLabels()
	}
	if meta == nil {
		meta = DefaultStructuredMetadata()
	}
	s.ex = newExtractor(labels, o.StaticLabels, meta, o.LineRecord, s.client.Now)
	s.req.index = map[string]int{}
	s.zw, _ = gzip.NewWriterLevel(io.Discard, gzip.BestSpeed) // klauspost's, as the Elasticsearch sink's
	return s, nil
}

// Name implements sink.Sink.
func (s *Sink) Name() string { return s.name }

// Stats returns the counters.
func (s *Sink) Stats() Stats {
	return Stats{
		Requests: s.requests.Load(), Accepted: s.accepted.Load(), Retried: s.retried.Load(),
		DeadLettered: s.deadLettered.Load(),
		Failures: Failures{
			Network: s.fNetwork.Load(), RateLimited: s.fRateLimited.Load(), Server: s.fServer.Load(),
			TooLarge: s.fTooLarge.Load(), Rejected: s.fRejected.Load(), Auth: s.fAuth.Load(), Client: s.fOther.Load(),
		},
	}
}

// Counts implements sink.Counter.
func (s *Sink) Counts() sink.Counts { return sink.Counts{DeadLettered: s.deadLettered.Load()} }

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
		if len(s.routes) > 0 {
			s.setTenants(b, s.recs)
		}
		recs = s.recs
	}

	// Dead-letter lines left by the previous attempt come first.
	if err := s.writeDead(ctx, &dead); err != nil {
		s.retry.Keep(b, recs, dead)
		return err
	}

	var failure error
	limit := s.client.MaxBody // lowered for the rest of the attempt by a 413
	probe := 0                // > 0 while bisecting a rejected push
	for len(recs) > 0 {
		lim := limit
		if probe > 0 && probe < lim {
			lim = probe
		}
		n, size := s.build(b, recs, lim)
		status, err := s.post(ctx, s.tenants[recs[0].Group])
		if err == nil {
			s.accepted.Add(uint64(n))
			recs = recs[n:]
			if probe > 0 {
				if probe *= 2; probe >= limit {
					probe = 0
				}
			}
			continue
		}
		if status == http.StatusRequestEntityTooLarge && n > 1 {
			limit = max(size/2, 1)
			s.client.Log.Warn("push too large for the server (HTTP 413); lower max_request_bytes", "bytes", size)
			continue
		}
		if status == http.StatusBadRequest && metadataDisallowed(err) {
			// Not a record's fault: every record would be refused.
			failure = sink.Permanent(fmt.Errorf("%w (Loki does not accept structured metadata: enable it there, or set structured_metadata: {})", err))
			break
		}
		if status == http.StatusBadRequest || status == http.StatusUnprocessableEntity || status == http.StatusRequestEntityTooLarge {
			if s.client.Dead == nil {
				failure = sink.Permanent(fmt.Errorf("%w (no dead-letter file to keep them aside)", err))
				break
			}
			if n > 1 {
				probe = max(size/2, 1) // find the records Loki refuses
				continue
			}
			s.addDead(&dead, b, recs[0], status, err)
			recs = recs[1:]
			continue
		}
		failure = err
		break
	}

	if err := s.writeDead(ctx, &dead); err != nil {
		s.retry.Keep(b, recs, dead)
		return err
	}
	if len(recs) > 0 {
		s.retried.Add(uint64(len(recs)))
		s.retry.Keep(b, recs, httpsink.DeadLines{})
		err := fmt.Errorf("loki %s: %d of %d records not yet accepted: %w", s.name, len(recs), b.Records, failure)
		if sink.IsPermanent(failure) {
			return sink.Permanent(err)
		}
		return err
	}
	return nil
}

// setTenants gives each record the tenant of its route, and groups the records by
// tenant (a push has one tenant), keeping their order within each tenant.
func (s *Sink) setTenants(b *pipeline.Batch, recs []httpsink.Rec) {
	mixed := false
	for i := range recs {
		if v, ok := record.Scalar(record.Lookup(recs[i].Data(b), record.RouteField)); ok {
			if t, ok := s.routes[string(v)]; ok {
				recs[i].Group = int32(t)
			}
		}
		mixed = mixed || recs[i].Group != recs[0].Group
	}
	if mixed {
		slices.SortStableFunc(recs, func(a, b httpsink.Rec) int { return int(a.Group - b.Group) })
	}
}

// request is the push being built: its streams, in order of first appearance.
type request struct {
	streams []stream
	n       int            // streams in use
	index   map[string]int // selector → stream
	labels  []kv           // scratch
	meta    []kv           // scratch
	cmeta   []chunkValue   // the metadata the current chunk decides
	key     []byte         // scratch
	body    []byte         // the uncompressed body
}

type stream struct {
	labels  []byte // the selector (protobuf) or the labels object (JSON)
	entries []byte // encoded entries
	count   int
}

// build encodes into s.payload the first records of recs that fit a request of
// limit uncompressed bytes (at least one) and returns how many it took and the
// uncompressed size.
func (s *Sink) build(b *pipeline.Batch, recs []httpsink.Rec, limit int) (n, size int) {
	q := &s.req
	q.n = 0
	clear(q.index)
	total := len(`{"streams":[]}`)
	// The records of a chunk share their labels when its Consts decide them
	// (namespace, workload, container): resolved once per chunk.
	chunk, chunkWide := int32(-1), false
	for _, r := range recs {
		if r.Group != recs[0].Group {
			break // one tenant per push
		}
		d := r.Data(b)
		consts := b.Chunks[r.Chunk].Consts
		if r.Chunk != chunk {
			chunk, chunkWide = r.Chunk, false
			q.cmeta = q.cmeta[:0]
			if consts != nil {
				q.cmeta = s.ex.chunkMetadata(q.cmeta, consts)
				f := record.Fields{Consts: consts}
				q.labels = s.ex.labels(q.labels[:0], &f)
				if chunkWide = !f.Undecided; chunkWide {
					q.key = appendSelector(q.key[:0], q.labels)
				}
			}
		}
		if !chunkWide {
			q.labels = s.ex.labels(q.labels[:0], &record.Fields{Consts: consts, Rec: d})
			q.key = appendSelector(q.key[:0], q.labels)
		}
		si, ok := q.index[string(q.key)]
		added := 0
		if !ok {
			if q.n == len(q.streams) {
				q.streams = append(q.streams, stream{})
			}
			si = q.n
			q.n++
			st := &q.streams[si]
			st.count = 0
			st.entries = st.entries[:0]
			if s.json {
				st.labels = appendJSONLabels(st.labels[:0], q.labels)
				added = len(st.labels) + len(`{"stream":,"values":[]},`)
			} else {
				st.labels = append(st.labels[:0], q.key...)
				added = sizeBytesField(len(st.labels)) + 6 // the stream's tag and length
			}
			q.index[string(q.key)] = si
		}
		st := &q.streams[si]
		mark := len(st.entries)
		ts := s.ex.timestamp(d)
		line := s.ex.line(d)
		var cmeta []chunkValue
		if len(q.cmeta) > 0 {
			cmeta = q.cmeta
		}
		q.meta = s.ex.metadata(q.meta[:0], &record.Fields{Consts: consts, Rec: d}, cmeta)
		if s.json {
			if st.count > 0 {
				st.entries = append(st.entries, ',')
			}
			st.entries = appendJSONValue(st.entries, ts, line, q.meta)
		} else {
			st.entries = appendProtoEntry(st.entries, ts, line, q.meta)
		}
		added += len(st.entries) - mark
		if n > 0 && total+added > limit {
			st.entries = st.entries[:mark]
			if !ok {
				q.n--
				delete(q.index, string(q.key))
			}
			break
		}
		st.count++
		total += added
		n++
	}

	// Assemble the body.
	q.body = q.body[:0]
	if s.json {
		q.body = append(q.body, `{"streams":[`...)
		for i := range q.n {
			st := &q.streams[i]
			if i > 0 {
				q.body = append(q.body, ',')
			}
			q.body = append(q.body, `{"stream":`...)
			q.body = append(q.body, st.labels...)
			q.body = append(q.body, `,"values":[`...)
			q.body = append(q.body, st.entries...)
			q.body = append(q.body, "]}"...)
		}
		q.body = append(q.body, "]}"...)
	} else {
		for i := range q.n {
			st := &q.streams[i]
			q.body = appendTag(q.body, 1, wireBytes)
			q.body = appendUvarint(q.body, uint64(sizeBytesField(len(st.labels))+len(st.entries)))
			q.body = appendBytesField(q.body, 1, st.labels)
			q.body = append(q.body, st.entries...)
		}
	}
	switch {
	case !s.json:
		s.payload = s2.EncodeSnappy(s.payload[:cap(s.payload)], q.body)
	case s.gzip:
		s.zbuf.Reset()
		s.zw.Reset(&s.zbuf)
		_, _ = s.zw.Write(q.body)
		_ = s.zw.Close()
		s.payload = s.zbuf.Bytes()
	default:
		s.payload = q.body
	}
	return n, len(q.body)
}

// post sends s.payload and returns the response's status (0 when there is none)
// and, unless it is 2xx, an error: marked permanent for 401, 403 and 4xx other than
// 400, 408, 413, 422 and 429 (which Consume handles).
func (s *Sink) post(ctx context.Context, tenant string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.client.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(s.payload))
	if err != nil {
		return 0, sink.Permanent(err)
	}
	for k, v := range s.headers {
		req.Header.Set(k, v)
	}
	if s.json {
		req.Header.Set("Content-Type", "application/json")
		if s.gzip {
			req.Header.Set("Content-Encoding", "gzip")
		}
	} else {
		req.Header.Set("Content-Type", "application/x-protobuf")
	}
	req.Header.Set("User-Agent", "logferry")
	if tenant != "" {
		req.Header.Set("X-Scope-OrgID", tenant)
	}
	if err := s.client.Authorize(req); err != nil {
		s.fAuth.Add(1)
		return 0, fmt.Errorf("loki %s: %w", s.name, err)
	}
	s.requests.Add(1)
	resp, err := s.client.HTTP.Do(req)
	if err != nil {
		s.fNetwork.Add(1)
		return 0, fmt.Errorf("push to %s: %w", s.url, err)
	}
	defer resp.Body.Close()
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return code, nil // the push is accepted even if the body could not be read
	}
	if rerr != nil && len(body) == 0 {
		body = []byte(rerr.Error())
	}
	err = fmt.Errorf("push to %s: %w", s.url, &httpsink.StatusError{Status: code, Msg: responseText(body)})
	switch {
	case code == http.StatusTooManyRequests:
		s.fRateLimited.Add(1)
	case code >= 500 || code == http.StatusRequestTimeout || code < 200 || code >= 300 && code < 400:
		s.fServer.Add(1)
	case code == http.StatusRequestEntityTooLarge:
		s.fTooLarge.Add(1)
	case code == http.StatusBadRequest || code == http.StatusUnprocessableEntity:
		s.fRejected.Add(1)
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		s.fAuth.Add(1)
		err = sink.Permanent(err)
	default:
		s.fOther.Add(1)
		err = sink.Permanent(err)
	}
	return code, err
}

// metadataDisallowed reports whether err is Loki refusing structured metadata as
// such (allow_structured_metadata off, or a schema before v13).
func metadataDisallowed(err error) bool {
	var se *httpsink.StatusError
	if !errors.As(err, &se) {
		return false
	}
	m := strings.ToLower(se.Msg)
	return strings.Contains(m, "structured metadata") && (strings.Contains(m, "disallowed") || strings.Contains(m, "not allowed") || strings.Contains(m, "not supported"))
}

// responseText renders an error response for messages: Loki answers plain text, one
// line per problem (compatible servers may answer JSON); it is cut at maxErrorText.
func responseText(body []byte) string {
	t := strings.TrimSpace(string(bytes.ToValidUTF8(body, []byte("\uFFFD"))))
	if t == "" {
		return "(no response body)"
	}
	if len(t) > maxErrorText {
		t = t[:maxErrorText] + "..."
	}
	return t
}

// deadLine is one line of the dead-letter file.
type deadLine struct {
	Time   string `json:"time"`
	Sink   string `json:"sink"`
	Status int    `json:"status"`
	Error  string `json:"error"`
	Tenant string `json:"tenant,omitempty"`
	Labels string `json:"labels"`
	// Record is the record when it is valid JSON; RecordText holds it as a string
	// otherwise.
	Record     json.RawMessage `json:"record,omitempty"`
	RecordText string          `json:"record_text,omitempty"`
}

// addDead adds the dead-letter line of r (a copy: the batch's data is not kept).
func (s *Sink) addDead(dead *httpsink.DeadLines, b *pipeline.Batch, r httpsink.Rec, status int, cause error) {
	d := r.Data(b)
	msg := cause.Error()
	var se *httpsink.StatusError
	if errors.As(cause, &se) {
		msg = se.Msg
	}
	l := deadLine{
		Time: s.client.Now().UTC().Format(time.RFC3339Nano), Sink: s.name, Status: status, Error: msg, Tenant: s.tenants[r.Group],
		Labels: string(appendSelector(nil, s.ex.labels(nil, &record.Fields{Consts: b.Chunks[r.Chunk].Consts, Rec: d}))),
	}
	l.Record, l.RecordText = httpsink.Record(d)
	if err := dead.Add(l); err != nil { // cannot happen: every part is valid
		dead.AddLine(fmt.Appendf(nil, `{"sink":%q,"status":%d,"record_text":%q}`, s.name, status, d))
	}
	s.client.Log.Warn("record rejected by Loki; written to the dead-letter file", "labels", l.Labels, "status", status, "error", msg)
}

// writeDead writes the dead-letter lines, if any, and counts them.
func (s *Sink) writeDead(ctx context.Context, dead *httpsink.DeadLines) error {
	n, err := dead.Write(ctx, s.client.Dead)
	s.deadLettered.Add(uint64(n))
	if err != nil {
		return fmt.Errorf("loki %s: %w", s.name, err)
	}
	return nil
}

var _ sink.Counter = (*Sink)(nil)
