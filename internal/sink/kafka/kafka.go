// Package kafka is the Kafka sink, built on franz-go (docs/sinks.md).
//
// Every record of a batch becomes one Kafka message: the value is the record's
// JSON (without its newline), the topic comes from a template over record
// fields, the key from one field (the pod UID by default). Production is
// idempotent with acks=all; Consume returns nil only once the brokers have
// acknowledged every record of the batch, and otherwise an error that makes the
// Runner retry the whole batch (duplicates are possible, losses are not).
package kafka

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/record"
	"github.com/logferry/logferry/internal/secret"
	"github.com/logferry/logferry/internal/sink"
)

// recordOverhead bounds what a record batch of one record adds to its key and
// value: the batch header (61 bytes) and the record's own varints and attributes.
const recordOverhead = 128

// maxKeyBytes caps a message key; longer keys are cut.
const maxKeyBytes = 1024

// Sink produces records to Kafka.
type Sink struct {
	name     string
	cl       *kgo.Client
	log      *slog.Logger
	topic    template
	static   string // the topic when the template has no field
	routes   map[string]route
	fallback string
	keyField string
	maxBytes int // max_message_bytes

	topicsMu sync.Mutex
	topics   map[string]string // rendered topic names, to not allocate one per record

	closeOnce sync.Once
	closed    atomic.Bool
	closeErr  error

	truncated atomic.Int64
	fallbacks atomic.Int64

	bufsMu sync.Mutex
	bufs   []*produceBuf // buffers of finished Consumes, for the next ones
}

// route is the topic of one route: a template, or static when it has no field.
type route struct {
	topic  template
	static string
}

// New builds a kafka sink named name from c. extra options are appended to the
// client's (tests use them). Credentials and certificates are read here.
func New(name string, c config.KafkaSink, log *slog.Logger, extra ...kgo.Opt) (*Sink, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fields, ok := config.TopicFields(c.Topic)
	if !ok || c.Topic == "" {
		return nil, fmt.Errorf("kafka sink %s: bad topic template %q", name, c.Topic)
	}
	if len(c.Brokers) == 0 {
		return nil, fmt.Errorf("kafka sink %s: no brokers", name)
	}
	maxBytes := int(c.MaxMessageBytes)
	if maxBytes <= 0 {
		maxBytes = int(config.MiB)
	}
	s := &Sink{
		name:     name,
		log:      log,
		topic:    compileTemplate(c.Topic, fields),
		fallback: c.TopicFallback,
		keyField: c.KeyField,
		maxBytes: maxBytes,
		topics:   map[string]string{},
	}
	if s.topic.static() {
		s.static = c.Topic
	} else if c.TopicFallback == "" {
		return nil, fmt.Errorf("kafka sink %s: topic %q refers to fields but topic_fallback is empty", name, c.Topic)
	}
	for rn, t := range c.Routes {
		f, ok := config.TopicFields(t)
		if !ok || t == "" {
			return nil, fmt.Errorf("kafka sink %s: route %s: bad topic template %q", name, rn, t)
		}
		rt := route{topic: compileTemplate(t, f)}
		if rt.topic.static() {
			rt.static = t
		} else if c.TopicFallback == "" {
			return nil, fmt.Errorf("kafka sink %s: route %s: topic %q refers to fields but topic_fallback is empty", name, rn, t)
		}
		if s.routes == nil {
			s.routes = map[string]route{}
		}
		s.routes[rn] = rt
	}
	compress, err := compression(c.Compression)
	if err != nil {
		return nil, fmt.Errorf("kafka sink %s: %w", name, err)
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent production is franz-go's default
		compress,
		kgo.ProducerBatchMaxBytes(int32(maxBytes)),
	}
	if c.Linger > 0 {
		opts = append(opts, kgo.ProducerLinger(c.Linger))
	}
	if c.DeliveryTimeout > 0 {
		opts = append(opts, kgo.RecordDeliveryTimeout(c.DeliveryTimeout))
	}
	if c.ClientID != "" {
		opts = append(opts, kgo.ClientID(c.ClientID))
	}
	if c.AutoCreateTopics != nil && *c.AutoCreateTopics {
		opts = append(opts, kgo.AllowAutoTopicCreation())
	}
	if c.TLS.Enabled != nil && *c.TLS.Enabled {
		tc, err := tlsConfig(c.TLS)
		if err != nil {
			return nil, fmt.Errorf("kafka sink %s: tls: %w", name, err)
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if c.SASL.Mechanism != "" {
		m, err := saslMechanism(c.SASL)
		if err != nil {
			return nil, fmt.Errorf("kafka sink %s: sasl: %w", name, err)
		}
		opts = append(opts, kgo.SASL(m))
	}
	opts = append(opts, extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka sink %s: %w", name, err)
	}
	s.cl = cl
	return s, nil
}

// compression returns the client option of a compression setting: zstd, lz4 and
// gzip through compressors that keep their encoders (compress.go), snappy (which
// keeps nothing) and none through franz-go's.
func compression(name string) (kgo.Opt, error) {
	switch name {
	case "", "zstd":
		return kgo.WithCompressor(newZstdCompressor()), nil
	case "lz4":
		return kgo.WithCompressor(newLz4Compressor()), nil
	case "snappy":
		return kgo.ProducerBatchCompression(kgo.SnappyCompression()), nil
	case "gzip":
		return kgo.WithCompressor(newGzipCompressor()), nil
	case "none":
		return kgo.ProducerBatchCompression(kgo.NoCompression()), nil
	}
	return nil, fmt.Errorf("unknown compression %q", name)
}

func tlsConfig(c config.KafkaTLS) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.InsecureSkipVerify != nil && *c.InsecureSkipVerify {
		tc.InsecureSkipVerify = true
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" || c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// secret returns v, or the content of file without trailing newlines. Errors name
// the file, never the value.
// saslMechanism returns the SASL mechanism of c. Credentials kept in files are read
// now (an error if they cannot be) and again, when they changed, at every new
// connection's authentication.
func saslMechanism(c config.KafkaSASL) (sasl.Mechanism, error) {
	user, err := secret.Value(c.Username, c.UsernameFile)
	if err != nil {
		return nil, err
	}
	pass, err := secret.Value(c.Password, c.PasswordFile)
	if err != nil {
		return nil, err
	}
	creds := func() (u, p string, err error) {
		if u, err = user(); err == nil {
			p, err = pass()
		}
		return u, p, err
	}
	scramAuth := func(context.Context) (scram.Auth, error) {
		u, p, err := creds()
		return scram.Auth{User: u, Pass: p}, err
	}
	switch c.Mechanism {
	case "PLAIN":
		return plain.Plain(func(context.Context) (plain.Auth, error) {
			u, p, err := creds()
			return plain.Auth{User: u, Pass: p}, err
		}), nil
	case "SCRAM-SHA-256":
		return scram.Sha256(scramAuth), nil
	case "SCRAM-SHA-512":
		return scram.Sha512(scramAuth), nil
	}
	return nil, fmt.Errorf("unknown mechanism %q", c.Mechanism)
}

// Name implements sink.Sink.
func (s *Sink) Name() string { return s.name }

// Truncated returns how many records were too large and sent truncated.
func (s *Sink) Truncated() int64 { return s.truncated.Load() }

// Fallbacks returns how many records went to the fallback topic.
func (s *Sink) Fallbacks() int64 { return s.fallbacks.Load() }

// Counts implements sink.Counter.
func (s *Sink) Counts() sink.Counts {
	return sink.Counts{Truncated: uint64(s.truncated.Load()), Fallback: uint64(s.fallbacks.Load())}
}

// produceState follows the records of one Consume.
type produceState struct {
	pending atomic.Int64
	failed  atomic.Int64
	done    chan struct{}
	mu      sync.Mutex
	first   error
	retry   bool   // some failure is retriable
	release func() // called once every record is acknowledged or failed
}

func (p *produceState) promise(_ *kgo.Record, err error) {
	if err != nil {
		p.failed.Add(1)
		p.mu.Lock()
		if p.first == nil || (!p.retry && !permanent(err)) {
			p.first = err
		}
		if !permanent(err) {
			p.retry = true
		}
		p.mu.Unlock()
	}
	if p.pending.Add(-1) == 0 {
		p.release()
		close(p.done)
	}
}

// Consume implements sink.Sink: it produces every record of b and returns nil once
// all of them are acknowledged.
func (s *Sink) Consume(ctx context.Context, b *pipeline.Batch) error {
	if s.closed.Load() {
		return sink.Permanent(sink.ErrClosed)
	}
	if len(b.Chunks) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Records reference the chunks' data. The client may still hold them after
	// Consume returns (on cancellation), and a chunk's data is recycled once each of
	// its consumers is done with it: the sink holds a reference of its own on every
	// chunk and gives it back only when the client has finished with every record.
	pb := s.getBuf(b.Chunks, b.Records)
	st := &produceState{done: make(chan struct{}), release: func() { s.putBuf(pb) }}
	st.pending.Store(1) // released once every record is handed to the client
	var topicBuf []byte
	for _, c := range pb.chunks {
		// Records of one file share their key and topic when the chunk's Consts
		// decide them (a pod UID key, a topic per namespace): resolved once here
		// instead of scanning every record.
		var chunkWide *addressing
		if c.Consts != nil {
			f := record.Fields{Consts: c.Consts}
			if a, buf := s.address(&f, topicBuf); !f.Undecided {
				chunkWide = &a
				topicBuf = buf
			}
		}
		for data := c.Data; len(data) > 0; {
			line := data
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				line, data = data[:i], data[i+1:]
			} else {
				data = nil
			}
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			var r *kgo.Record
			r, topicBuf = s.record(pb, line, c.Consts, chunkWide, topicBuf)
			st.pending.Add(1)
			s.cl.Produce(ctx, r, st.promise)
		}
	}
	st.promise(nil, nil)
	select {
	case <-st.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if n := st.failed.Load(); n > 0 {
		err := fmt.Errorf("kafka sink %s: %d of %d records not acknowledged: %w", s.name, n, b.Records, st.first)
		if !st.retry {
			return sink.Permanent(err)
		}
		return err
	}
	return nil
}

// maxFreeBufs bounds Sink.bufs: one Consume runs at a time, and a cancelled one may
// leave its buffer with the client for a while.
const maxFreeBufs = 2

// produceBuf holds what the client references while it produces one batch: the
// batch's chunks, each retained until the client is done, and the records. A later
// Consume reuses it, so that a busy sink does not allocate a record per line (nor,
// as it did before, a copy of every batch): garbage that made the collector run
// all the time under pipeline.memory_limit.
type produceBuf struct {
	chunks []*pipeline.Chunk
	recs   []kgo.Record
}

// getBuf returns a free buffer, or a new one, holding a reference on each of
// chunks and with room for records records.
func (s *Sink) getBuf(chunks []*pipeline.Chunk, records int) *produceBuf {
	s.bufsMu.Lock()
	var pb *produceBuf
	if k := len(s.bufs); k > 0 {
		pb, s.bufs = s.bufs[k-1], s.bufs[:k-1]
	}
	s.bufsMu.Unlock()
	if pb == nil {
		pb = &produceBuf{}
	}
	if cap(pb.recs) < records {
		pb.recs = make([]kgo.Record, 0, records)
	}
	pb.chunks = append(pb.chunks[:0], chunks...)
	for _, c := range pb.chunks {
		c.Retain(1)
	}
	return pb
}

// putBuf releases pb's chunks and keeps pb for a later Consume: the client no
// longer references any of it.
func (s *Sink) putBuf(pb *produceBuf) {
	for _, c := range pb.chunks {
		c.Done()
	}
	clear(pb.chunks)
	clear(pb.recs) // drop the records' references (data, topics, contexts)
	pb.recs = pb.recs[:0]
	s.bufsMu.Lock()
	if len(s.bufs) < maxFreeBufs {
		s.bufs = append(s.bufs, pb)
	}
	s.bufsMu.Unlock()
}

// record returns the record of line, in pb's slab while it has room (the slab
// never grows: the client holds pointers into it), with its topic and key (from
// chunkWide when not nil: the same for every record of the chunk) and, when too
// large, truncated value. consts are the chunk's Consts; buf is scratch space,
// returned for reuse.
func (s *Sink) record(pb *produceBuf, line, consts []byte, chunkWide *addressing, buf []byte) (*kgo.Record, []byte) {
	var r *kgo.Record
	if len(pb.recs) < cap(pb.recs) {
		pb.recs = append(pb.recs, kgo.Record{Value: line})
		r = &pb.recs[len(pb.recs)-1]
	} else {
		r = &kgo.Record{Value: line}
	}
	a := chunkWide
	if a == nil {
		var own addressing
		own, buf = s.address(&record.Fields{Consts: consts, Rec: line}, buf)
		a = &own
	}
	r.Topic, r.Key = a.topic, a.key
	if a.fallback {
		s.fallbacks.Add(1)
	}
	if limit := max(s.maxBytes-recordOverhead-len(r.Key), 256); len(line) > limit {
		r.Value = truncate(line, limit)
		s.truncated.Add(1)
	}
	return r, buf
}

// addressing is where a record goes: its topic (fallback when that is the fallback
// topic because a field was missing) and its key.
type addressing struct {
	topic    string
	key      []byte
	fallback bool
}

// address resolves the topic and key of the record f reads: the route's topic
// (record.RouteField) when the sink maps that route, else the topic template's, the
// fallback when a field is missing. buf is scratch space, returned for reuse.
func (s *Sink) address(f *record.Fields, buf []byte) (addressing, []byte) {
	var a addressing
	if s.keyField != "" {
		if k, ok := f.Scalar(s.keyField); ok {
			if len(k) > maxKeyBytes {
				k = k[:maxKeyBytes]
			}
			a.key = k
		}
	}
	t, static := s.topic, s.static
	if len(s.routes) > 0 {
		if v, ok := f.Scalar(record.RouteField); ok {
			if rt, ok := s.routes[string(v)]; ok {
				t, static = rt.topic, rt.static
			}
		}
	}
	if static != "" {
		a.topic = static
		return a, buf
	}
	buf, ok := t.render(buf[:0], f)
	if !ok {
		a.topic, a.fallback = s.fallback, true
		return a, buf
	}
	a.topic = s.topicName(buf)
	return a, buf
}

// topicName returns rendered as a string, from the cache when it was seen before.
func (s *Sink) topicName(rendered []byte) string {
	s.topicsMu.Lock()
	defer s.topicsMu.Unlock()
	if t, ok := s.topics[string(rendered)]; ok {
		return t
	}
	if len(s.topics) >= 4096 {
		clear(s.topics)
	}
	t := string(rendered)
	s.topics[t] = t
	return t
}

// permanent reports whether a produce error is one retrying cannot fix. Kafka's
// error codes say it themselves (kerr.IsRetriable), with these exceptions:
// UNKNOWN_TOPIC_OR_PARTITION is retriable (the topic may yet be created), as are the
// client's own timeouts; a closed client, MESSAGE_TOO_LARGE (the broker's limit is
// below max_message_bytes), authorization and invalid topic errors are not.
// Errors without a Kafka code (network, TLS handshake) are treated as retriable.
func permanent(err error) bool {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, kgo.ErrRecordTimeout), errors.Is(err, kgo.ErrRecordRetries),
		errors.Is(err, kerr.UnknownTopicOrPartition):
		return false
	case errors.Is(err, kgo.ErrClientClosed),
		errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge),
		errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed),
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed),
		errors.Is(err, kerr.InvalidTopicException), errors.Is(err, kerr.SaslAuthenticationFailed),
		errors.Is(err, kerr.UnsupportedSaslMechanism):
		return true
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return !ke.Retriable
	}
	return false
}

// Close flushes what is buffered (bounded by ctx) and closes the client. It is
// idempotent.
func (s *Sink) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if err := s.cl.Flush(ctx); err != nil {
			s.closeErr = fmt.Errorf("kafka sink %s: flush: %w", s.name, err)
		}
		s.cl.Close()
	})
	return s.closeErr
}

// FromConfig builds the kafka sink of a sink configuration (for agent.BuildSink):
// New, with a nil interface on error.
func FromConfig(name string, c config.KafkaSink, log *slog.Logger) (sink.Sink, error) {
	s, err := New(name, c, log)
	if err != nil {
		return nil, err
	}
	return s, nil
}

var _ sink.Counter = (*Sink)(nil)
