package sink

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/testenv"
)

func TestDialAddr(t *testing.T) {
	addr := testenv.ClosedAddr(t)
	_, refused := net.Dial("tcp", addr)
	if refused == nil {
		t.Fatalf("dial %s succeeded", addr)
	}
	_, httpErr := http.Get("http://" + addr + "/_bulk")
	if httpErr == nil {
		t.Fatalf("GET %s succeeded", addr)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	_, readErr := c.Read(make([]byte, 1)) // an error on a connection that was made
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"connection refused", refused, addr},
		{"through net/http and two wrappers", Permanent(fmt.Errorf("bulk: %w", httpErr)), addr},
		{"joined, as franz-go's record timeout", fmt.Errorf("%w, last err: %w", errors.New("records have timed out"), refused), addr},
		{"a read on an open connection", readErr, ""},
		{"no address (DNS)", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "kafka"}}, ""},
		{"not a network error", errors.New("HTTP 503"), ""},
		{"nil", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dialAddr(tt.err); got != tt.want {
				t.Errorf("dialAddr(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

// dialSink's Consume dials addr and fails with the dial's error until a connection
// succeeds.
type dialSink struct {
	addr  string
	calls chan time.Time
}

func (s *dialSink) Name() string { return "dial" }

func (s *dialSink) Consume(ctx context.Context, b *pipeline.Batch) error {
	s.calls <- time.Now()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("dial sink: %w", err)
	}
	return c.Close()
}

func (s *dialSink) Close(context.Context) error { return nil }

func TestRunnerProbesUnreachableDestination(t *testing.T) {
	tests := []struct {
		name      string
		probe     time.Duration
		wantEarly bool
	}{
		{"probing retries as soon as the destination listens", 20 * time.Millisecond, true},
		{"without probing the backoff is waited out", -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &dialSink{addr: testenv.ClosedAddr(t), calls: make(chan time.Time, 10)}
			in := make(chan *pipeline.Chunk, 1)
			in <- newChunk(record(0, 10))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// A backoff far longer than the test: only a probe can end the wait.
			r := NewRunner(s, in, RunnerOptions{Backoff: Backoff{Initial: time.Hour, Max: time.Hour},
				ProbeInterval: tt.probe, Logger: quietLogger()})
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()
			<-s.calls // the first attempt fails: nothing listens
			l, err := net.Listen("tcp", s.addr)
			if err != nil {
				t.Fatalf("listen again on %s: %v", s.addr, err)
			}
			defer l.Close()
			listening := time.Now()
			select {
			case at := <-s.calls:
				if !tt.wantEarly {
					t.Fatalf("retried %v after the destination listened, within the backoff", at.Sub(listening))
				}
				if d := at.Sub(listening); d > 2*time.Second {
					t.Errorf("retried %v after the destination listened", d)
				}
				deadline := time.After(5 * time.Second)
				for r.Stats().Batches != 1 {
					select {
					case <-deadline:
						t.Fatalf("batch not delivered: %+v", r.Stats())
					case <-time.After(5 * time.Millisecond):
					}
				}
			case <-time.After(500 * time.Millisecond):
				if tt.wantEarly {
					t.Fatalf("no retry within 500ms of the destination listening: %+v", r.Stats())
				}
			}
			cancel()
			if err := waitErr(t, done, 5*time.Second); !errors.Is(err, context.Canceled) {
				t.Errorf("Run = %v", err)
			}
		})
	}
}
