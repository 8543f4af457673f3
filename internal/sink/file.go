package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/logferry/logferry/internal/pipeline"
)

// FileOptions configures a File sink.
type FileOptions struct {
	// Path is the file records are appended to; parent directories are created.
	Path string
	// MaxSize rotates the file before a record would take it past MaxSize bytes
	// (0: never rotate). A single record larger than MaxSize gets a file of its own.
	MaxSize int64
	// MaxFiles is the number of rotated files kept, Path.1 (newest) to Path.MaxFiles
	// (default and minimum 1).
	MaxFiles int
	// Fsync makes Consume fsync the file (and, after creating or rotating it, its
	// directory) before it reports the records accepted. Without it a record is
	// accepted once written to the OS; it then survives a crash of the agent but
	// not of the node.
	Fsync bool
	// Mode is the permission of created files (default 0644); directories get 0755.
	Mode os.FileMode
	// Logger receives warnings about repairs (default slog.Default()).
	Logger *slog.Logger

	fs fileSystem // tests
}

// tailScan is how far back from the end of an existing file NewFile looks for the
// end of the last complete line when the file does not end with '\n'.
const tailScan = 1 << 20

// File appends JSON lines to a file, with numbered size-based rotation (Path.1 is the
// newest rotated file, Path.MaxFiles the oldest): reading Path.N ... Path.2 Path.1
// Path in that order gives the records in delivery order.
//
// Rotation happens only at line boundaries: a batch that straddles it is split
// after the last whole record that fits. The rotated file is fsynced before it is
// renamed, whatever Fsync says.
//
// A failed Consume (short write, ENOSPC, failed fsync) leaves no torn line behind:
// the file is truncated back to its size before that Consume, so the retried batch
// starts on a clean line. If the truncation fails too, the sink appends a '\n'
// instead, so the torn fragment is at least a line of its own (an invalid JSON
// line, but every retried record stays intact and parseable); until one of the two
// succeeds, Consume writes nothing and returns the error. Records that a failed
// Consume wrote before a rotation stay in the rotated file and are written again by
// the retry (at-least-once: duplicated, never lost). On start, an existing Path
// whose last line is torn (a crash mid-write) is repaired the same way.
type File struct {
	name     string
	path     string
	dir      string
	maxSize  int64
	maxFiles int
	fsync    bool
	mode     os.FileMode
	log      *slog.Logger
	fs       fileSystem

	mu      sync.Mutex
	cur     file  // nil when closed or after a failed rotation; reopened on demand
	size    int64 // bytes in cur
	good    int64 // repair truncates cur back to this size (-1: append '\n' instead)
	torn    bool  // cur may hold a partial line after good: repair before writing
	dirty   bool  // written since the last fsync
	dirSync bool  // a file was created or renamed since the last directory fsync
	closed  bool
	bufs    [][]byte   // scratch for one write run
	iov     iovScratch // scratch for writev
}

// NewFile opens (or creates) o.Path for appending.
func NewFile(name string, o FileOptions) (*File, error) {
	if o.Path == "" {
		return nil, errors.New("sink file: no path")
	}
	if o.MaxSize < 0 {
		return nil, fmt.Errorf("sink file: negative max size %d", o.MaxSize)
	}
	if o.MaxFiles < 0 {
		return nil, fmt.Errorf("sink file: negative max files %d", o.MaxFiles)
	}
	f := &File{
		name:     name,
		path:     filepath.Clean(o.Path),
		maxSize:  o.MaxSize,
		maxFiles: max(o.MaxFiles, 1),
		fsync:    o.Fsync,
		mode:     o.Mode,
		log:      o.Logger,
		fs:       o.fs,
	}
	f.dir = filepath.Dir(f.path)
	if f.mode == 0 {
		f.mode = 0o644
	}
	if f.log == nil {
		f.log = slog.Default()
	}
	f.log = f.log.With("sink", name, "path", f.path)
	if f.fs == nil {
		f.fs = osFS{}
	}
	if err := f.open(); err != nil {
		if f.cur == nil {
			return nil, fmt.Errorf("sink %s: %w", name, err)
		}
		// Opened, but a torn tail could not be repaired (a full disk?): Consume
		// retries the repair before it writes anything.
		f.log.Warn("sink file: repair failed; will retry before the next write", "err", err)
	}
	return f, nil
}

// Name implements Sink.
func (f *File) Name() string { return f.name }

// open opens Path for appending and takes its size from the file. If the file ends
// with a torn line (a crash in the middle of a write) it repairs it; when that fails,
// open returns the error but keeps the file open and marked torn, and Consume retries
// the repair before writing.
func (f *File) open() error {
	if err := f.fs.MkdirAll(f.dir, 0o755); err != nil { // again, in case it was removed
		return err
	}
	// O_RDWR, not O_WRONLY: the tail of an existing file is read back to check it.
	cur, err := f.fs.OpenFile(f.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, f.mode)
	if err != nil {
		return err
	}
	fi, err := cur.Stat()
	if err != nil {
		cur.Close()
		return err
	}
	f.cur, f.size, f.good, f.torn, f.dirty = cur, fi.Size(), fi.Size(), false, false
	if f.size == 0 {
		f.dirSync = true // possibly just created
		return nil
	}
	if !fi.Mode().IsRegular() {
		return nil // a device or a pipe: nothing to inspect
	}
	good, err := lastLineEnd(cur, f.size)
	if err != nil {
		f.log.Warn("sink file: cannot read the tail of the file", "err", err)
		return nil
	}
	if good == f.size {
		return nil
	}
	f.log.Warn("sink file: the file ends with a torn line; repairing it", "size", f.size, "good", good)
	f.good, f.torn = good, true
	return f.repair()
}

// lastLineEnd returns the offset just after the last '\n' in r, a file of size bytes:
// size when the file ends with '\n', 0 when it holds no '\n' at all, and -1 when there
// is none in its last tailScan bytes (repair then terminates the line instead of
// truncating).
func lastLineEnd(r io.ReaderAt, size int64) (int64, error) {
	var buf [32 << 10]byte
	end := size
	for end > 0 && size-end < tailScan {
		n := min(int64(len(buf)), end)
		p := buf[:n]
		if _, err := r.ReadAt(p, end-n); err != nil && err != io.EOF {
			return 0, err
		}
		if i := bytes.LastIndexByte(p, '\n'); i >= 0 {
			return end - n + int64(i) + 1, nil
		}
		end -= n
	}
	if end == 0 {
		return 0, nil
	}
	return -1, nil
}

// repair removes a torn tail: truncate cur back to good or, if that fails, end the
// torn line with '\n'.
func (f *File) repair() error {
	if f.good >= 0 {
		terr := f.cur.Truncate(f.good)
		if terr == nil {
			f.size, f.torn = f.good, false
			return nil
		}
		f.log.Warn("sink file: cannot truncate a torn line; terminating it instead",
			"err", terr, "size", f.size, "good", f.good)
	}
	n, err := f.cur.Write([]byte{'\n'})
	f.size += int64(n)
	if err == nil && n != 1 {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("repairing a torn line: %w", err)
	}
	f.good, f.torn, f.dirty = f.size, false, true
	return nil
}

// Consume implements Sink.
func (f *File) Consume(ctx context.Context, b *pipeline.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return Permanent(ErrClosed)
	}
	if f.cur == nil {
		if err := f.open(); err != nil {
			return fmt.Errorf("sink %s: %w", f.name, err)
		}
	}
	if f.torn {
		if err := f.repair(); err != nil {
			return fmt.Errorf("sink %s: %w", f.name, err)
		}
	}
	f.good = f.size
	err := f.write(b)
	if err == nil && f.fsync {
		err = f.sync()
	}
	clear(f.bufs[:cap(f.bufs)]) // keep no reference to chunk data
	f.bufs = f.bufs[:0]
	if err != nil {
		f.fail()
		return fmt.Errorf("sink %s: %w", f.name, err)
	}
	return nil
}

// write appends the chunks of b, rotating between records as needed.
func (f *File) write(b *pipeline.Batch) error {
	var run int64 // bytes in f.bufs, not yet written
	for _, c := range b.Chunks {
		d := c.Data
		for len(d) > 0 {
			n := f.fit(d, f.size+run)
			if n == 0 {
				if err := f.flushRun(run); err != nil {
					return err
				}
				run = 0
				if err := f.rotate(); err != nil {
					return err
				}
				continue
			}
			f.bufs = append(f.bufs, d[:n])
			run += int64(n)
			d = d[n:]
		}
	}
	return f.flushRun(run)
}

// fit returns how many leading bytes of d go into a file of size bytes before it
// must rotate: all of d, or a prefix ending at a line boundary, or 0 to rotate first.
func (f *File) fit(d []byte, size int64) int {
	if f.maxSize <= 0 || size+int64(len(d)) <= f.maxSize {
		return len(d)
	}
	if room := f.maxSize - size; room > 0 {
		if i := bytes.LastIndexByte(d[:room], '\n'); i >= 0 {
			return i + 1
		}
	}
	if size > 0 {
		return 0
	}
	// An empty file and a first record larger than MaxSize: it gets the file alone.
	if i := bytes.IndexByte(d, '\n'); i >= 0 {
		return i + 1
	}
	return len(d)
}

// flushRun writes the buffered run of run bytes.
func (f *File) flushRun(run int64) error {
	if run == 0 {
		return nil
	}
	n, err := writeBuffers(f.cur, f.bufs, &f.iov)
	f.size += n
	f.dirty = true
	clear(f.bufs[:cap(f.bufs)])
	f.bufs = f.bufs[:0]
	if err == nil && n != run {
		err = io.ErrShortWrite
	}
	return err
}

// sync fsyncs cur and, when a file was created or renamed, the directory.
func (f *File) sync() error {
	if f.dirty {
		if err := f.cur.Sync(); err != nil {
			return err
		}
		f.dirty = false
	}
	if f.dirSync {
		if err := f.fs.SyncDir(f.dir); err != nil {
			return err
		}
		f.dirSync = false
	}
	return nil
}

// fail is called after a failed write or fsync: whatever this Consume wrote to cur
// after good is removed now, or before the next write.
func (f *File) fail() {
	if f.cur == nil || f.size == f.good {
		return
	}
	// After a failed fsync the written pages' state is unknown: rewrite them too.
	f.torn = true
	if err := f.repair(); err != nil {
		f.log.Warn("sink file: repair failed; will retry before the next write", "err", err)
	}
}

// rotate fsyncs and renames the current file to Path.1 (shifting older ones up and
// deleting those beyond MaxFiles) and opens a fresh Path.
func (f *File) rotate() error {
	if err := f.cur.Sync(); err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	// Everything in the file is now whole records, durable: nothing to truncate back.
	f.dirty, f.good = false, f.size
	kept := f.prune()
	for i := f.maxFiles - 1; i >= 1; i-- {
		if kept != nil && !kept[i] {
			continue // known not to exist: spare a rename per missing file
		}
		err := f.fs.Rename(f.rotated(i), f.rotated(i+1))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotate: %w", err)
		}
	}
	if err := f.fs.Rename(f.path, f.rotated(1)); err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	f.dirSync = true
	old := f.cur
	f.cur = nil
	if err := old.Close(); err != nil {
		f.log.Warn("sink file: closing the rotated file", "err", err)
	}
	if err := f.open(); err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	f.dirSync = true
	return nil
}

func (f *File) rotated(i int) string { return f.path + "." + strconv.Itoa(i) }

// prune deletes the rotated files a larger MaxFiles left behind: Path.MaxFiles+1,
// +2, ... for as long as they exist (Path.MaxFiles itself is replaced by the shift).
// Stopping at the first gap leaves an unrelated Path.2024 alone. It returns the
// numbers of the rotated files kept, or nil if the directory cannot be listed.
func (f *File) prune() map[int]bool {
	ents, err := f.fs.ReadDir(f.dir)
	if err != nil {
		f.log.Warn("sink file: listing rotated files", "err", err)
		return nil
	}
	found := map[int]bool{}
	prefix := filepath.Base(f.path) + "."
	for _, e := range ents {
		suffix, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || suffix == "" || suffix[0] < '1' || suffix[0] > '9' {
			continue // not a number, or one with a leading zero
		}
		if i, err := strconv.Atoi(suffix); err == nil {
			found[i] = true
		}
	}
	for i := f.maxFiles + 1; found[i]; i++ {
		delete(found, i)
		if err := f.fs.Remove(f.rotated(i)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			f.log.Warn("sink file: removing an old rotated file", "err", err)
		}
	}
	return found
}

// Close fsyncs and closes the file. Later Consumes fail with ErrClosed.
func (f *File) Close(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	if f.cur == nil {
		return nil
	}
	var err error
	if f.torn {
		err = f.repair()
	}
	if serr := f.cur.Sync(); err == nil {
		err = serr
	}
	if f.fsync && f.dirSync && err == nil {
		err = f.fs.SyncDir(f.dir)
	}
	if cerr := f.cur.Close(); err == nil {
		err = cerr
	}
	f.cur = nil
	if err != nil {
		return fmt.Errorf("sink %s: close: %w", f.name, err)
	}
	return nil
}
