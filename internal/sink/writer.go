package sink

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/logferry/logferry/internal/pipeline"
)

// Writer writes each chunk's Data, in order, to an io.Writer. A record is accepted
// once Write returned for it: for an *os.File that means handed to the operating
// system, not fsynced. The writer should be unbuffered (a bufio.Writer would make
// Consume report records accepted that are still in user space).
//
// If a Write fails after writing part of a chunk, the next Consume first writes a
// '\n', so the torn line stays a line of its own instead of corrupting the first
// record of the retried batch.
type Writer struct {
	name   string
	mu     sync.Mutex
	w      io.Writer
	closer io.Closer // closed by Close; nil for NewWriter
	torn   bool      // the last write ended in the middle of a line
	closed bool
}

// NewWriter returns a sink writing to w. Close does not close w.
func NewWriter(name string, w io.Writer) *Writer {
	return &Writer{name: name, w: w}
}

// NewStdout returns a sink named "stdout" that writes to standard output. It writes
// through a duplicate of file descriptor 1, so that when stdout is a closed pipe the
// write fails with EPIPE (returned and retried like any error) instead of the Go
// runtime killing the process with SIGPIPE, which it does for writes to fds 1 and 2
// (see os/signal). Close closes the duplicate only.
func NewStdout() (*Writer, error) {
	f, err := dupStdout()
	if err != nil {
		return nil, fmt.Errorf("sink stdout: %w", err)
	}
	w := NewWriter("stdout", f)
	if f != os.Stdout {
		w.closer = f
	}
	return w, nil
}

// Name implements Sink.
func (w *Writer) Name() string { return w.name }

// Consume implements Sink.
func (w *Writer) Consume(ctx context.Context, b *pipeline.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return Permanent(ErrClosed)
	}
	if w.torn {
		if _, err := w.w.Write([]byte{'\n'}); err != nil {
			return fmt.Errorf("sink %s: %w", w.name, err)
		}
		w.torn = false
	}
	for _, c := range b.Chunks {
		if len(c.Data) == 0 {
			continue
		}
		n, err := w.w.Write(c.Data)
		if err == nil && n < len(c.Data) {
			err = io.ErrShortWrite
		}
		if err != nil {
			if n > 0 && n < len(c.Data) && c.Data[n-1] != '\n' {
				w.torn = true
			}
			return fmt.Errorf("sink %s: %w", w.name, err)
		}
	}
	return nil
}

// Close implements Sink.
func (w *Writer) Close(context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if w.closer != nil {
		return w.closer.Close()
	}
	return nil
}

// Discard accepts everything and counts it (benchmarks, dry runs).
type Discard struct {
	name    string
	records atomic.Uint64
	bytes   atomic.Uint64
	batches atomic.Uint64
}

// NewDiscard returns a sink that accepts and drops everything.
func NewDiscard(name string) *Discard { return &Discard{name: name} }

// Name implements Sink.
func (d *Discard) Name() string { return d.name }

// Consume implements Sink.
func (d *Discard) Consume(ctx context.Context, b *pipeline.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.records.Add(uint64(b.Records))
	d.bytes.Add(uint64(b.Bytes))
	d.batches.Add(1)
	return nil
}

// Close implements Sink.
func (d *Discard) Close(context.Context) error { return nil }

// Records returns the number of records accepted.
func (d *Discard) Records() uint64 { return d.records.Load() }

// Bytes returns the number of bytes accepted.
func (d *Discard) Bytes() uint64 { return d.bytes.Load() }

// Batches returns the number of batches accepted.
func (d *Discard) Batches() uint64 { return d.batches.Load() }
