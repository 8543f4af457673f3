package sink

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/pipeline"
)

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// record renders record i as one JSON line padded to about size bytes.
func record(i, size int) string {
	s := fmt.Sprintf(`{"n":%d,"pad":"`, i)
	pad := max(size-len(s)-3, 0)
	return s + strings.Repeat("x", pad) + "\"}\n"
}

// stream renders records [from, from+n) of size bytes each.
func stream(from, n, size int) string {
	var b strings.Builder
	for i := from; i < from+n; i++ {
		b.WriteString(record(i, size))
	}
	return b.String()
}

// newChunk returns an unsealed chunk (its Done is a no-op) holding data.
func newChunk(data string) *pipeline.Chunk {
	return &pipeline.Chunk{Data: []byte(data), Records: strings.Count(data, "\n")}
}

// batchOf returns a batch of chunks, each holding per records of size bytes.
func batchOf(from, chunks, per, size int) *pipeline.Batch {
	b := &pipeline.Batch{}
	for c := 0; c < chunks; c++ {
		b.Add(newChunk(stream(from+c*per, per, size)))
	}
	return b
}

// syncBuffer is a bytes.Buffer safe for concurrent use (log capture).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeClock is a manual clock for RunnerOptions.Now.
type fakeClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration // added after every Now
}

func newFakeClock(step time.Duration) *fakeClock {
	return &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), step: step}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.t
	c.t = c.t.Add(c.step)
	return t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// immediate is an After that never waits.
func immediate(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- time.Time{}
	return ch
}

// waitErr waits for Run's result or fails the test.
func waitErr(t *testing.T, done <-chan error, d time.Duration) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("Run did not return within %v", d)
		return nil
	}
}

var _ io.Writer = (*syncBuffer)(nil)
