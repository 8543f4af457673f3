package elastic

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/sink"
	"github.com/logferry/logferry/internal/testenv"
)

// TestNodeBackProbed: with the only node not listening, a batch fails on the dial;
// a node starts on the same address while the runner waits out a backoff of an
// hour: the runner's probe must connect and retry at once (the sink's error has to
// carry net/http's dial error for that).
func TestNodeBackProbed(t *testing.T) {
	addr := testenv.ClosedAddr(t)
	e := newEnv(t, "es8", func(o *Options) { o.URLs = []string{"http://" + addr} })

	b := batch([]string{"a", "b"})
	in := make(chan *pipeline.Chunk, len(b.Chunks))
	for _, c := range b.Chunks {
		in <- c
	}
	close(in)
	failed := make(chan error, 16)
	r := sink.NewRunner(e.sink, in, sink.RunnerOptions{
		Backoff:       sink.Backoff{Initial: time.Hour, Max: time.Hour},
		ProbeInterval: 20 * time.Millisecond,
		Observe: func(_ time.Duration, err error) {
			if err != nil {
				failed <- err
			}
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	select {
	case err := <-failed:
		t.Logf("first attempt: %v", err)
	case err := <-done:
		t.Fatalf("Run ended before any failure: %v", err)
	}

	node := httptest.NewUnstartedServer(http.HandlerFunc(e.es.serve))
	node.Listener.Close()
	var err error
	if node.Listener, err = net.Listen("tcp", addr); err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	node.Start()
	defer node.Close()
	back := time.Now()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if d := time.Since(back); d > 5*time.Second {
		t.Errorf("delivered %v after the node listened", d)
	}
	if n := len(e.es.requests()); n != 1 {
		t.Fatalf("%d requests reached the node, want 1", n)
	}
	if got := e.es.ids(0); len(got) != 2 {
		t.Fatalf("ids %v", got)
	}
}
