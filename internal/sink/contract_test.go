package sink_test

// The delivery contract (package sinktest) for the file and stdout sinks.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/sink"
	"github.com/logferry/logferry/internal/sink/sinktest"
)

func TestContractFile(t *testing.T)   { sinktest.Run(t, fileHarness{}) }
func TestContractStdout(t *testing.T) { sinktest.Run(t, stdoutHarness{}) }

// splitRecords sorts the lines of data into records (JSON with an event.id) and
// fragments (anything else, including an unterminated last line).
func splitRecords(data []byte) (recs [][]byte, fragments []string) {
	for len(data) > 0 {
		line := data
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			fragments = append(fragments, string(data))
			break
		}
		line, data = data[:i], data[i+1:]
		var v struct {
			Event struct {
				ID string `json:"id"`
			} `json:"event"`
		}
		if json.Unmarshal(line, &v) != nil || v.Event.ID == "" {
			fragments = append(fragments, string(line))
			continue
		}
		recs = append(recs, bytes.Clone(line))
	}
	return recs, fragments
}

// ---- file sink ----

// fileHarness runs the file sink on the real file system, with faults injected
// through its file system hook (faults the OS gives: ENOSPC in the middle of a write,
// EIO from fsync, a failing rename during rotation, a failing truncate, a directory
// where nothing can be created).
type fileHarness struct{}

func (fileHarness) Name() string { return "file" }

func (fileHarness) Traits() sinktest.Traits {
	return sinktest.Traits{NoRecordRejection: "a write takes the whole batch or fails and the batch is " +
		"retried whole: no record can be rejected on its own, and there is no dead-letter path"}
}

func (fileHarness) Start(t *testing.T) sinktest.Backend {
	return &fileBackend{path: filepath.Join(t.TempDir(), "out", "records.jsonl"), fs: &faultyFS{FileSystem: sink.OSFileSystem}}
}

type fileBackend struct {
	path string
	fs   *faultyFS
}

func (b *fileBackend) NewSink(t *testing.T) sink.Sink {
	o := sink.FileOptions{
		Path:     b.path,
		MaxSize:  8 << 10, // rotate often; a 20 KiB record gets a file of its own
		MaxFiles: 100000,  // keep everything: the contract reads every rotated file back
		Fsync:    true,
		Logger:   slog.New(slog.DiscardHandler),
	}
	s, err := sink.NewFile("file", sink.WithFileSystem(o, b.fs))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (b *fileBackend) FailTransient() {
	b.fs.mu.Lock()
	defer b.fs.mu.Unlock()
	b.fs.writeFails, b.fs.syncFails, b.fs.renameFails, b.fs.truncFails = 3, 1, 1, 1
}

func (b *fileBackend) SetDown(down bool) {
	b.fs.mu.Lock()
	b.fs.down = down
	b.fs.mu.Unlock()
}

func (b *fileBackend) Reject(func(string) bool) { panic("the file sink rejects no record") }

func (b *fileBackend) DeadLettered() uint64 { return 0 }

// Contents reads Path.N ... Path.1 and Path. A torn line is allowed only after a
// truncation was made to fail (the sink then ends the fragment with '\n' by design).
func (b *fileBackend) Contents() (sinktest.Contents, error) {
	dir, base := filepath.Split(b.path)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return sinktest.Contents{}, err
	}
	var rotated []int
	for _, e := range ents {
		if n, err := strconv.Atoi(strings.TrimPrefix(e.Name(), base+".")); err == nil && strings.HasPrefix(e.Name(), base+".") {
			rotated = append(rotated, n)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(rotated)))
	names := make([]string, 0, len(rotated)+1)
	for _, n := range rotated {
		names = append(names, fmt.Sprintf("%s.%d", b.path, n))
	}
	names = append(names, b.path)
	var c sinktest.Contents
	b.fs.mu.Lock()
	torn := b.fs.torn
	b.fs.mu.Unlock()
	for _, name := range names {
		data, err := os.ReadFile(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return c, err
		}
		recs, frags := splitRecords(data)
		if len(frags) > 0 && !torn {
			return c, fmt.Errorf("%s holds %d torn lines, and no truncation failed; first %.100q", name, len(frags), frags[0])
		}
		c.Delivered = append(c.Delivered, recs...)
		c.Fragments += len(frags)
	}
	return c, nil
}

// faultyFS is the real file system with injected faults.
type faultyFS struct {
	sink.FileSystem
	mu          sync.Mutex
	down        bool // the disk is full and the directory unwritable
	writeFails  int  // writes that write part of their data, then fail with ENOSPC
	syncFails   int  // fsyncs that fail with EIO
	renameFails int  // renames that fail with EIO
	truncFails  int  // truncations that fail with EIO
	torn        bool // a truncation failed: a torn line may be left, on a line of its own
}

func (fs *faultyFS) OpenFile(name string, flag int, perm os.FileMode) (sink.OSFile, error) {
	fs.mu.Lock()
	down := fs.down
	fs.mu.Unlock()
	if down {
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EACCES}
	}
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultyFile{File: f, fs: fs}, nil
}

func (fs *faultyFS) Rename(oldpath, newpath string) error {
	fs.mu.Lock()
	fail := fs.down || fs.renameFails > 0
	if fs.renameFails > 0 {
		fs.renameFails--
	}
	fs.mu.Unlock()
	if fail {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: syscall.EIO}
	}
	return os.Rename(oldpath, newpath)
}

type faultyFile struct {
	*os.File
	fs *faultyFS
}

func (f *faultyFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	n := len(p)
	fail := f.fs.down || f.fs.writeFails > 0
	switch {
	case f.fs.down:
		n = 0
	case f.fs.writeFails > 0:
		f.fs.writeFails--
		n = len(p) / 2
	}
	f.fs.mu.Unlock()
	if !fail {
		return f.File.Write(p)
	}
	w, _ := f.File.Write(p[:n])
	return w, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
}

func (f *faultyFile) Sync() error {
	f.fs.mu.Lock()
	fail := f.fs.down || f.fs.syncFails > 0
	if f.fs.syncFails > 0 {
		f.fs.syncFails--
	}
	f.fs.mu.Unlock()
	if fail {
		return &os.PathError{Op: "sync", Path: f.Name(), Err: syscall.EIO}
	}
	return f.File.Sync()
}

func (f *faultyFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	fail := f.fs.truncFails > 0
	if fail {
		f.fs.truncFails--
		f.fs.torn = true
	}
	f.fs.mu.Unlock()
	if fail {
		return &os.PathError{Op: "truncate", Path: f.Name(), Err: syscall.EIO}
	}
	return f.File.Truncate(size)
}

// ---- stdout sink ----

// stdoutHarness runs the stdout sink's writer (sink.Writer, which NewStdout builds
// over a duplicate of fd 1) over a pipe, read by a goroutine that can stop reading
// (the backend is down: writes block once the pipe is full, as when whatever reads
// the agent's stdout stalls). Transient failures are writes that fail after writing
// part of their data (or none), as EAGAIN or EIO do.
//
// What the backend holds is what the kernel accepted: the bytes each write(2) on the
// pipe reports written, recorded as they are written. At the end the reader must
// have read exactly those bytes.
type stdoutHarness struct{}

func (stdoutHarness) Name() string { return "stdout" }

func (stdoutHarness) Traits() sinktest.Traits {
	return sinktest.Traits{
		NoRecordRejection: "a write takes the whole batch or fails and the batch is retried whole: " +
			"no record can be rejected on its own, and there is no dead-letter path",
		DownBlocks: true,
	}
}

func (stdoutHarness) Start(t *testing.T) sinktest.Backend {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	b := &stdoutBackend{r: r, w: w, readerDone: make(chan struct{})}
	b.cond = sync.NewCond(&b.mu)
	go b.read()
	t.Cleanup(func() {
		b.SetDown(false)
		w.Close()
		select {
		case <-b.readerDone:
		case <-time.After(10 * time.Second):
			t.Errorf("stdout: the pipe reader did not finish")
			return
		}
		r.Close()
		b.mu.Lock()
		defer b.mu.Unlock()
		if !bytes.Equal(b.got.Bytes(), b.accepted) {
			t.Errorf("stdout: the reader got %d bytes, the writes had accepted %d", b.got.Len(), len(b.accepted))
		}
	})
	return b
}

type stdoutBackend struct {
	r, w       *os.File
	readerDone chan struct{}

	mu         sync.Mutex
	cond       *sync.Cond
	paused     bool
	failWrites int
	accepted   []byte // what the pipe accepted
	parsed     int    // accepted[:parsed] is in recs and frags
	recs       [][]byte
	frags      int
	got        bytes.Buffer // what the reader read
}

func (b *stdoutBackend) read() {
	defer close(b.readerDone)
	buf := make([]byte, 32<<10)
	for {
		b.mu.Lock()
		for b.paused {
			b.cond.Wait()
		}
		b.mu.Unlock()
		n, err := b.r.Read(buf)
		b.mu.Lock()
		b.got.Write(buf[:n])
		b.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// Write is the pipe as the sink sees it.
func (b *stdoutBackend) Write(p []byte) (int, error) {
	b.mu.Lock()
	k, fail := len(p), b.failWrites > 0
	if fail {
		// Torn in the first record, nothing written, torn after a few records.
		b.failWrites--
		k = min([]int{17, len(p) / 3, 0, 17}[b.failWrites%4], len(p))
	}
	b.mu.Unlock()
	n, err := b.w.Write(p[:k])
	b.mu.Lock()
	b.accepted = append(b.accepted, p[:n]...)
	b.mu.Unlock()
	if err == nil && fail {
		err = &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.EAGAIN}
	}
	return n, err
}

func (b *stdoutBackend) NewSink(*testing.T) sink.Sink { return sink.NewWriter("stdout", b) }

func (b *stdoutBackend) FailTransient() {
	b.mu.Lock()
	b.failWrites = 4
	b.mu.Unlock()
}

func (b *stdoutBackend) SetDown(down bool) {
	b.mu.Lock()
	b.paused = down
	b.cond.Broadcast()
	b.mu.Unlock()
}

func (b *stdoutBackend) Reject(func(string) bool) { panic("the stdout sink rejects no record") }

func (b *stdoutBackend) DeadLettered() uint64 { return 0 }

// Contents parses what the pipe accepted; the complete lines already parsed are kept.
func (b *stdoutBackend) Contents() (sinktest.Contents, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if end := bytes.LastIndexByte(b.accepted, '\n') + 1; end > b.parsed {
		recs, frags := splitRecords(b.accepted[b.parsed:end])
		b.recs = append(b.recs, recs...)
		b.frags += len(frags)
		b.parsed = end
	}
	c := sinktest.Contents{Delivered: append([][]byte(nil), b.recs...), Fragments: b.frags}
	if b.parsed < len(b.accepted) {
		c.Fragments++ // a torn write not yet terminated
	}
	return c, nil
}
