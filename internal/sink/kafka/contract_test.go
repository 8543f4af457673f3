package kafka

// The delivery contract (package sinktest) for the Kafka sink, against an in-process
// kfake cluster whose produce requests fail on demand.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/sink"
	"github.com/logferry/logferry/internal/sink/sinktest"
)

func TestContract(t *testing.T) { sinktest.Run(t, kafkaHarness{}) }

const contractTopic = "contract"

type kafkaHarness struct{}

func (kafkaHarness) Name() string { return "kafka" }

func (kafkaHarness) Traits() sinktest.Traits {
	return sinktest.Traits{NoRecordRejection: "an error the brokers give for a record fails the whole batch, " +
		"which the runner retries (a record too large for max_message_bytes is truncated, not rejected): " +
		"there is no per-record permanent failure and no dead-letter path"}
}

// Start starts a one-broker cluster with a one-partition topic. Produce requests go
// through a control function: while the backend is down it drops the connection of
// every other produce request and answers the others NOT_LEADER_FOR_PARTITION (the
// partition's leader is gone); a transient failure answers a few produce requests
// with retriable error codes.
func (kafkaHarness) Start(t *testing.T) sinktest.Backend {
	c := newCluster(t, contractTopic)
	b := &kafkaBackend{c: c}
	c.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		b.mu.Lock()
		down, fail, nth := b.down, b.fails > 0, b.fails
		if fail && !down {
			b.fails--
		}
		drop := b.downReqs%2 == 0
		if down {
			b.downReqs++
		}
		b.mu.Unlock()
		switch {
		case down && drop:
			c.KeepControl()
			return nil, errors.New("contract: broker down"), true
		case down:
			c.KeepControl()
			return produceError(kr.(*kmsg.ProduceRequest), kerr.NotLeaderForPartition.Code), nil, true
		case fail:
			c.KeepControl()
			codes := []int16{kerr.NotEnoughReplicas.Code, kerr.RequestTimedOut.Code, kerr.NotLeaderForPartition.Code}
			return produceError(kr.(*kmsg.ProduceRequest), codes[nth%len(codes)]), nil, true
		}
		return nil, nil, false
	})
	var err error
	b.cons, err = kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(contractTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.cons.Close)
	return b
}

// produceError answers every partition of req with code.
func produceError(req *kmsg.ProduceRequest, code int16) *kmsg.ProduceResponse {
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
	return resp
}

type kafkaBackend struct {
	c *kfake.Cluster

	mu       sync.Mutex
	down     bool
	downReqs int // produce requests seen while down
	fails    int

	readMu sync.Mutex
	cons   *kgo.Client
	recs   [][]byte // values read so far, in offset order
	next   int64    // offset after the last one read
}

func (b *kafkaBackend) NewSink(t *testing.T) sink.Sink {
	return newSink(t, b.c, func(k *config.KafkaSink) {
		k.Topic, k.TopicFallback = contractTopic, ""
		// Dropped connections are not counted by RecordRetries: with the shortest
		// delivery timeout (1s) a Consume also fails when only they happen.
		k.DeliveryTimeout = time.Second
	}, kgo.RecordRetries(2), kgo.MetadataMinAge(50*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond }))
}

// FailTransient fails the next 6 produce requests: more than RecordRetries(2) allows,
// so that the client gives up on some records and Consume fails.
func (b *kafkaBackend) FailTransient() {
	b.mu.Lock()
	b.fails = 6
	b.mu.Unlock()
}

func (b *kafkaBackend) SetDown(down bool) {
	b.mu.Lock()
	b.down = down
	b.mu.Unlock()
}

func (b *kafkaBackend) Reject(func(string) bool) { panic("kafka rejects no single record") }

func (b *kafkaBackend) DeadLettered() uint64 { return 0 }

// Contents reads the topic up to its high watermark (what acks=all made durable).
func (b *kafkaBackend) Contents() (sinktest.Contents, error) {
	b.readMu.Lock()
	defer b.readMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = contractTopic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp = 0, -1 // latest: the high watermark
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, b.cons)
	if err != nil {
		return sinktest.Contents{}, fmt.Errorf("list offsets: %w", err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return sinktest.Contents{}, fmt.Errorf("list offsets: unexpected response %+v", resp)
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		return sinktest.Contents{}, fmt.Errorf("list offsets: %w", err)
	}
	for b.next < p.Offset {
		fs := b.cons.PollFetches(ctx)
		if ctx.Err() != nil {
			return sinktest.Contents{}, fmt.Errorf("read up to offset %d of %d", b.next, p.Offset)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return sinktest.Contents{}, fmt.Errorf("fetch: %v", errs)
		}
		fs.EachRecord(func(r *kgo.Record) {
			b.recs = append(b.recs, bytes.Clone(r.Value))
			b.next = r.Offset + 1
		})
	}
	return sinktest.Contents{Delivered: append([][]byte(nil), b.recs...)}, nil
}
