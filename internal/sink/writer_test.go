package sink

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/logferry/logferry/internal/pipeline"
)

// flakyWriter accepts up to limit bytes (limit < 0: unlimited); the write that
// crosses it is cut short and fails with err.
type flakyWriter struct {
	buf   bytes.Buffer
	limit int
	err   error
	short bool // report the short count without an error
}

func (w *flakyWriter) Write(p []byte) (int, error) {
	if w.limit < 0 || len(p) <= w.limit {
		if w.limit >= 0 {
			w.limit -= len(p)
		}
		return w.buf.Write(p)
	}
	n, _ := w.buf.Write(p[:w.limit])
	w.limit = 0
	if w.short {
		return n, nil
	}
	return n, w.err
}

func TestWriter(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		limit   int // bytes accepted before the failure
		short   bool
		wantErr error
		want    string // after the failure and a successful retry
	}{
		{"no failure", -1, false, nil, stream(0, 6, 50)},
		{"fails on a boundary", 100, false, boom, stream(0, 2, 50) + stream(0, 6, 50)},
		{"fails mid line", 120, false, boom, stream(0, 2, 50) + record(2, 50)[:20] + "\n" + stream(0, 6, 50)},
		{"fails at once", 0, false, boom, stream(0, 6, 50)},
		{"short write", 120, true, io.ErrShortWrite, stream(0, 2, 50) + record(2, 50)[:20] + "\n" + stream(0, 6, 50)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &flakyWriter{limit: tt.limit, err: boom, short: tt.short}
			s := NewWriter("w", w)
			if s.Name() != "w" {
				t.Errorf("Name = %q", s.Name())
			}
			b := batchOf(0, 3, 2, 50)
			err := s.Consume(context.Background(), b)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Consume = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				w.limit = -1
				consume(t, s, b)
			}
			if got := w.buf.String(); got != tt.want {
				t.Errorf("output:\n%s\nwant:\n%s", got, tt.want)
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := s.Consume(context.Background(), b); !errors.Is(err, ErrClosed) {
				t.Errorf("Consume after Close = %v", err)
			}
		})
	}
}

func TestWriterBrokenPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r.Close()
	s := NewWriter("pipe", w)
	err = s.Consume(context.Background(), batchOf(0, 1, 1, 20))
	if !errors.Is(err, syscall.EPIPE) {
		t.Errorf("Consume = %v, want EPIPE", err)
	}
}

// TestStdoutBrokenPipe runs the test binary with stdout a pipe nobody reads: the
// sink must get EPIPE back instead of the process dying of SIGPIPE.
func TestStdoutBrokenPipe(t *testing.T) {
	if os.Getenv("SINK_STDOUT_CHILD") == "1" {
		s, err := NewStdout()
		if err != nil {
			os.Stderr.WriteString("NewStdout: " + err.Error() + "\n")
			os.Exit(3)
		}
		err = s.Consume(context.Background(), batchOf(0, 1, 1, 20))
		if errors.Is(err, syscall.EPIPE) {
			os.Stderr.WriteString("got EPIPE\n")
		} else {
			os.Stderr.WriteString("got " + errString(err) + "\n")
		}
		if err := s.Close(context.Background()); err != nil {
			os.Exit(4)
		}
		os.Exit(0)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	cmd := exec.Command(exe, "-test.run=^TestStdoutBrokenPipe$")
	cmd.Env = append(os.Environ(), "SINK_STDOUT_CHILD=1")
	cmd.Stdout = w
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	w.Close()
	if err != nil {
		t.Fatalf("child: %v; stderr: %s", err, stderr.String())
	}
	if !bytes.Contains(stderr.Bytes(), []byte("got EPIPE")) {
		t.Errorf("child stderr: %s", stderr.String())
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

func TestStdout(t *testing.T) {
	s, err := NewStdout()
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "stdout" {
		t.Errorf("Name = %q", s.Name())
	}
	if err := s.Consume(context.Background(), &pipeline.Batch{}); err != nil {
		t.Error(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Error(err)
	}
	// stdout itself stays usable
	if _, err := os.Stdout.Write(nil); err != nil {
		t.Error(err)
	}
}

func TestDiscard(t *testing.T) {
	d := NewDiscard("null")
	if d.Name() != "null" {
		t.Errorf("Name = %q", d.Name())
	}
	consume(t, d, batchOf(0, 3, 2, 50))
	consume(t, d, batchOf(6, 1, 4, 50))
	if d.Records() != 10 || d.Bytes() != 500 || d.Batches() != 2 {
		t.Errorf("records %d bytes %d batches %d", d.Records(), d.Bytes(), d.Batches())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Consume(ctx, batchOf(0, 1, 1, 50)); !errors.Is(err, context.Canceled) {
		t.Errorf("Consume with a done context = %v", err)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Error(err)
	}
	// Discard works under a Runner (the benchmark setup).
	in := make(chan *pipeline.Chunk, 4)
	for i := range 4 {
		in <- newChunk(record(i, 30))
	}
	close(in)
	d2 := NewDiscard("null")
	if err := NewRunner(d2, in, RunnerOptions{Logger: quietLogger()}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d2.Records() != 4 {
		t.Errorf("records %d", d2.Records())
	}
}

// The sinks satisfy the interface.
var (
	_ Sink = (*Writer)(nil)
	_ Sink = (*Discard)(nil)
	_ Sink = (*File)(nil)
)
