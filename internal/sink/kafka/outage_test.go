package kafka

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/sink"
)

// TestBrokerBackProbed stops the only broker, lets a batch fail on it (franz-go's
// record timeout, wrapping the failed dial), and starts a broker on the same port
// while the runner waits out a backoff of an hour: the runner's probe must see the
// port open and retry at once, and the records must arrive.
func TestBrokerBackProbed(t *testing.T) {
	first, err := kfake.NewCluster(kfake.Ports(0), kfake.SeedTopics(1, "logs-other"))
	if err != nil {
		t.Fatal(err)
	}
	addr := first.ListenAddrs()[0]
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	s := newSink(t, first, func(c *config.KafkaSink) { c.DeliveryTimeout = 3 * time.Second })
	first.Close()

	lines := []string{sampleRecord("", 1, 0, "before the broker came back"), sampleRecord("", 1, 1, "second")}
	in := make(chan *pipeline.Chunk, 1)
	b := batchOf(lines, 2)
	in <- b.Chunks[0]
	close(in)
	var failures int
	failed := make(chan error, 16)
	r := sink.NewRunner(s, in, sink.RunnerOptions{
		Backoff:       sink.Backoff{Initial: time.Hour, Max: time.Hour},
		ProbeInterval: 50 * time.Millisecond,
		Observe: func(_ time.Duration, err error) {
			if err != nil {
				failures++
				failed <- err
				t.Logf("attempt failed: %v", err)
			}
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	select {
	case err := <-failed:
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "dial" {
			t.Errorf("the failure does not carry the failed dial, so no probe can run: %v", err)
		}
	case err := <-done:
		t.Fatalf("Run ended before any failure: %v", err)
	}
	second, err := kfake.NewCluster(kfake.Ports(mustAtoi(t, port)), kfake.SeedTopics(1, "logs-other"))
	if err != nil {
		t.Fatalf("broker on %s again: %v", addr, err)
	}
	defer second.Close()
	back := time.Now()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v (after %d failures)", err, failures)
	}
	t.Logf("delivered %v after the broker came back, %d failed attempts", time.Since(back), failures)
	got := consumeAll(t, second, len(lines), "logs-other")
	if len(got) != len(lines) {
		t.Fatalf("consumed %d records, want %d", len(got), len(lines))
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
