package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/sink"
	"github.com/logferry/logferry/internal/testenv"
)

var _ sink.Sink = (*Sink)(nil)

func newCluster(t *testing.T, topics ...string) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.Ports(0), kfake.SeedTopics(1, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func newSink(t *testing.T, c *kfake.Cluster, edit func(*config.KafkaSink), extra ...kgo.Opt) *Sink {
	t.Helper()
	cfg := config.DefaultKafkaSink()
	cfg.Brokers = c.ListenAddrs()
	cfg.Topic = "logs.{kubernetes.namespace}"
	cfg.TopicFallback = "logs-other"
	cfg.DeliveryTimeout = 10 * time.Second
	if edit != nil {
		edit(&cfg)
	}
	s, err := New("kafka-test", cfg, nil, extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	return s
}

// sampleRecord returns one ECS-shaped record line (without newline).
func sampleRecord(ns string, pod, i int, msg string) string {
	k := fmt.Sprintf(`"kubernetes":{"namespace":%q,"pod":{"name":"p%d","uid":"uid-%d"}},`, ns, pod, pod)
	if ns == "" {
		k = ""
	}
	return fmt.Sprintf(`{"@timestamp":"2026-11-22T10:00:00Z","message":%q,"stream":"stdout","log":{"file":{"path":"/p/%d.log"},"offset":%d},%s"event":{"id":"e-%d-%d"}}`,
		msg, pod, i, k, pod, i)
}

// batchOf packs lines into chunks of per lines each.
func batchOf(lines []string, per int) *pipeline.Batch {
	b := &pipeline.Batch{}
	for len(lines) > 0 {
		n := min(per, len(lines))
		c := &pipeline.Chunk{Data: []byte(strings.Join(lines[:n], "\n") + "\n"), Records: n}
		b.Add(c)
		lines = lines[n:]
	}
	return b
}

type got struct{ topic, key, value string }

// consumeAll reads topics from the start until n records arrived.
func consumeAll(t *testing.T, c *kfake.Cluster, n int, topics ...string) []got {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []got
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("got %d of %d records before the timeout", len(out), n)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatal(errs)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, got{r.Topic, string(r.Key), string(r.Value)}) })
	}
	return out
}

func TestProduceAndConsumeBack(t *testing.T) {
	c := newCluster(t, "logs.default", "logs.kube-system", "logs-other")
	for _, comp := range []string{"zstd", "lz4", "snappy", "gzip", "none"} {
		t.Run(comp, func(t *testing.T) {
			s := newSink(t, c, func(k *config.KafkaSink) {
				k.Compression = comp
				k.MaxMessageBytes = 8 * config.KiB
			})
			var lines []string
			want := map[string]got{}
			for i := range 60 {
				ns := []string{"default", "kube-system", ""}[i%3]
				l := sampleRecord(ns, i%5, i, fmt.Sprintf("%s line %d", comp, i))
				topic, key := "logs."+ns, fmt.Sprintf("uid-%d", i%5)
				if ns == "" {
					topic, key = "logs-other", ""
				}
				lines = append(lines, l)
				want[l] = got{topic, key, l}
			}
			big := sampleRecord("default", 9, 99, comp+" "+strings.Repeat("x", 20000))
			lines = append(lines, big)
			if err := s.Consume(context.Background(), batchOf(lines, 7)); err != nil {
				t.Fatal(err)
			}
			if s.Truncated() != 1 {
				t.Errorf("truncated %d, want 1", s.Truncated())
			}
			all := consumeAll(t, c, len(lines)*(slices.Index([]string{"zstd", "lz4", "snappy", "gzip", "none"}, comp)+1),
				"logs.default", "logs.kube-system", "logs-other")
			var sawBig bool
			seen := map[string]bool{}
			for _, g := range all {
				if !strings.Contains(g.value, comp+" ") {
					continue // an earlier subtest's
				}
				if strings.Contains(g.value, `"truncated"`) {
					sawBig = true
					if len(g.value) > 8*1024 || !json.Valid([]byte(g.value)) || g.key != "uid-9" || g.topic != "logs.default" {
						t.Errorf("truncated record: %d bytes, key %q, topic %q", len(g.value), g.key, g.topic)
					}
					continue
				}
				w, ok := want[g.value]
				if !ok || w != g {
					t.Errorf("unexpected %+v", g)
				}
				seen[g.value] = true
			}
			if len(seen) != len(want) || !sawBig {
				t.Errorf("saw %d of %d records, truncated one: %v", len(seen), len(want), sawBig)
			}
		})
	}
}

func TestKeyFieldNone(t *testing.T) {
	c := newCluster(t, "plain")
	s := newSink(t, c, func(k *config.KafkaSink) { k.Topic, k.TopicFallback, k.KeyField = "plain", "", "" })
	if err := s.Consume(context.Background(), batchOf([]string{sampleRecord("a", 1, 1, "m")}, 1)); err != nil {
		t.Fatal(err)
	}
	if g := consumeAll(t, c, 1, "plain"); g[0].key != "" || g[0].topic != "plain" {
		t.Fatalf("%+v", g)
	}
}

// failProduce makes the cluster answer the next n produce requests with code, or
// every one when n < 0. It returns the number of requests it answered.
func failProduce(c *kfake.Cluster, n int, code int16) *atomic.Int64 {
	var count atomic.Int64
	c.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		if n >= 0 && count.Load() >= int64(n) {
			return nil, nil, false
		}
		c.KeepControl()
		count.Add(1)
		req := kr.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	return &count
}

// TestRetriableThenSuccess: the broker fails produce requests with a retriable
// error a few times; Consume fails (not permanently), the caller retries the whole
// batch as the Runner does, and finally every record is there at least once.
func TestRetriableThenSuccess(t *testing.T) {
	c := newCluster(t, "logs.default", "logs-other")
	s := newSink(t, c, nil, kgo.RecordRetries(1), kgo.MetadataMinAge(50*time.Millisecond), kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond }))
	failed := failProduce(c, 4, kerr.NotEnoughReplicas.Code)
	var lines []string
	for i := range 50 {
		lines = append(lines, sampleRecord("default", i%3, i, fmt.Sprint("retry ", i)))
	}
	var errs []error
	for attempt := 0; ; attempt++ {
		if attempt == 10 {
			t.Fatalf("still failing after %d attempts: %v", attempt, errs)
		}
		t0 := time.Now()
		err := s.Consume(context.Background(), batchOf(lines, 8))
		t.Logf("attempt %d: %v in %v", attempt, err != nil, time.Since(t0))
		if err == nil {
			break
		}
		if sink.IsPermanent(err) {
			t.Fatalf("retriable failure marked permanent: %v", err)
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 || failed.Load() < 4 {
		t.Fatalf("no failure seen (%d injected)", failed.Load())
	}
	if !errors.Is(errs[0], kerr.NotEnoughReplicas) {
		t.Errorf("first error %v does not wrap NOT_ENOUGH_REPLICAS", errs[0])
	}
	t.Logf("%d failed Consume calls; first: %v", len(errs), errs[0])
	// At least once: every record, possibly duplicated.
	all := consumeAll(t, c, len(lines), "logs.default")
	seen := map[string]bool{}
	for _, g := range all {
		seen[g.value] = true
	}
	for _, l := range lines {
		if !seen[l] {
			t.Errorf("record lost: %s", l)
		}
	}
}

func TestPermanentError(t *testing.T) {
	for _, code := range []int16{kerr.TopicAuthorizationFailed.Code, kerr.InvalidTopicException.Code, kerr.MessageTooLarge.Code} {
		t.Run(kerr.ErrorForCode(code).Error(), func(t *testing.T) {
			c := newCluster(t, "logs.default")
			s := newSink(t, c, nil)
			failProduce(c, -1, code)
			err := s.Consume(context.Background(), batchOf([]string{sampleRecord("default", 1, 1, "m")}, 1))
			if err == nil || !sink.IsPermanent(err) || !errors.Is(err, kerr.ErrorForCode(code)) {
				t.Fatalf("got %v, want a permanent %v", err, kerr.ErrorForCode(code))
			}
		})
	}
}

func TestPermanentMapping(t *testing.T) {
	for _, tc := range []struct {
		err  error
		perm bool
	}{
		{kerr.UnknownTopicOrPartition, false},
		{kerr.NotLeaderForPartition, false},
		{kerr.NotEnoughReplicas, false},
		{kerr.RequestTimedOut, false},
		{fmt.Errorf("wrapped: %w", kerr.NotEnoughReplicasAfterAppend), false},
		{kgo.ErrRecordTimeout, false},
		{kgo.ErrRecordRetries, false},
		{context.DeadlineExceeded, false},
		{errors.New("dial tcp: connection refused"), false},
		{kerr.MessageTooLarge, true},
		{fmt.Errorf("%w (uncompressed_bytes=5)", kerr.MessageTooLarge), true},
		{kerr.TopicAuthorizationFailed, true},
		{kerr.InvalidTopicException, true},
		{kerr.SaslAuthenticationFailed, true},
		{kerr.CorruptMessage, false},
		{kerr.InvalidRecord, true},
		{kgo.ErrClientClosed, true},
	} {
		if got := permanent(tc.err); got != tc.perm {
			t.Errorf("permanent(%v) = %v, want %v", tc.err, got, tc.perm)
		}
	}
}

func TestCancelAndClose(t *testing.T) {
	c := newCluster(t, "logs.default")
	s := newSink(t, c, nil)
	// A broker that never answers: Consume must return when ctx ends.
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		time.Sleep(50 * time.Millisecond)
		return nil, errors.New("drop the connection"), true
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Consume(ctx, batchOf([]string{sampleRecord("default", 1, 1, "m")}, 1))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Fatalf("got %v after %v", err, time.Since(start))
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer ccancel()
	s.Close(cctx)
	if err := s.Close(context.Background()); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second close: %v", err)
	}
	if err := s.Consume(context.Background(), batchOf([]string{"{}"}, 1)); !errors.Is(err, sink.ErrClosed) || !sink.IsPermanent(err) {
		t.Fatalf("consume after close: %v", err)
	}
	if err := s.Consume(context.Background(), &pipeline.Batch{}); !errors.Is(err, sink.ErrClosed) {
		t.Fatalf("empty consume after close: %v", err)
	}
}

// TestKcat consumes what the sink produced with Debian's kcat (librdkafka), from
// outside the process, and compares it with what was sent: with every compression
// (librdkafka decodes our own zstd, lz4 and gzip compressors' batches).
func TestKcat(t *testing.T) {
	kcat := testenv.NeedTool(t, "kcat", "apt-get install -y kcat")
	for _, comp := range []string{"zstd", "lz4", "gzip", "snappy", "none"} {
		t.Run(comp, func(t *testing.T) {
			topic := "logs.kcat-" + comp
			c := newCluster(t, topic)
			s := newSink(t, c, func(k *config.KafkaSink) {
				k.Compression = comp
				k.Topic = topic
			})
			var lines []string
			for i := range 200 {
				lines = append(lines, sampleRecord("default", i%7, i, fmt.Sprintf("kcat %s %d ünïcode \"q\" %s", comp, i, strings.Repeat("abc", i))))
			}
			if err := s.Consume(context.Background(), batchOf(lines, 16)); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, kcat, "-b", c.ListenAddrs()[0], "-C", "-t", topic, "-e", "-o", "beginning", "-q")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("kcat: %v\n%s", err, stderr.Bytes())
			}
			gotLines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
			if !slices.Equal(gotLines, lines) { // one partition: in order
				t.Fatalf("kcat saw %d records, sent %d; first got %.100q\n%s", len(gotLines), len(lines), gotLines[0], stderr.Bytes())
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	base := config.DefaultKafkaSink()
	base.Brokers, base.Topic = []string{"127.0.0.1:1"}, "logs"
	for name, edit := range map[string]func(*config.KafkaSink){
		"no fallback":  func(k *config.KafkaSink) { k.Topic = "logs.{a}" },
		"bad template": func(k *config.KafkaSink) { k.Topic = "logs.{a" },
		"no brokers":   func(k *config.KafkaSink) { k.Brokers = nil },
		"compression":  func(k *config.KafkaSink) { k.Compression = "brotli" },
		"missing CA": func(k *config.KafkaSink) {
			on := true
			k.TLS = config.KafkaTLS{Enabled: &on, CAFile: "/nonexistent/ca.pem"}
		},
		"bad mechanism": func(k *config.KafkaSink) { k.SASL = config.KafkaSASL{Mechanism: "GSSAPI"} },
	} {
		k := base
		edit(&k)
		if s, err := New("x", k, nil); err == nil {
			s.Close(context.Background())
			t.Errorf("%s: accepted", name)
		}
	}
	s, err := FromConfig("x", base, nil)
	if err != nil || s.Name() != "x" {
		t.Fatalf("FromConfig: %v", err)
	}
	s.Close(context.Background())
	if s, err := FromConfig("x", config.KafkaSink{}, nil); err == nil || s != nil {
		t.Fatalf("FromConfig of nothing: %v, %v", s, err)
	}
}

// BenchmarkConsume produces 4MiB batches of ECS records into an in-process kfake
// cluster with zstd (the cluster's own work is included in the figures).
func BenchmarkConsume(b *testing.B) {
	c, err := kfake.NewCluster(kfake.Ports(0), kfake.SeedTopics(3, "logs.default", "logs.kube-system", "logs-other"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	cfg := config.DefaultKafkaSink()
	cfg.Brokers, cfg.Topic, cfg.TopicFallback = c.ListenAddrs(), "logs.{kubernetes.namespace}", "logs-other"
	s, err := New("bench", cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	var lines []string
	size := 0
	for i := 0; size < 4<<20; i++ {
		l := sampleRecord([]string{"default", "kube-system"}[i%2], i%50, i, fmt.Sprintf("GET /api/v1/items/%d 200 %dms user-agent=curl/8 %s", i, i%97, strings.Repeat("x", i%200)))
		lines = append(lines, l)
		size += len(l) + 1
	}
	batch := batchOf(lines, 500)
	b.SetBytes(int64(batch.Bytes))
	b.ResetTimer()
	for b.Loop() {
		if err := s.Consume(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
}
