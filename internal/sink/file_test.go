package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/logferry/logferry/internal/testenv"

	"github.com/logferry/logferry/internal/pipeline"
)

// faultFS is the real file system with injectable faults and counters.
type faultFS struct {
	osFS
	mu        sync.Mutex
	space     int64 // bytes that may still be written; < 0: unlimited
	truncErr  error // Truncate fails with it
	syncErr   error // Sync fails with it
	renameErr error // Rename to Path.1 fails with it (once)
	fakeSync  bool  // count fsyncs but do not make them (fast tests)
	syncs     int
	dirSyncs  int
	writes    int
}

func newFaultFS() *faultFS { return &faultFS{space: -1} }

func (fs *faultFS) OpenFile(name string, flag int, perm os.FileMode) (file, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: f, fs: fs}, nil
}

func (fs *faultFS) Rename(oldpath, newpath string) error {
	fs.mu.Lock()
	err := fs.renameErr
	if strings.HasSuffix(newpath, ".1") {
		fs.renameErr = nil
	} else {
		err = nil
	}
	fs.mu.Unlock()
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return os.Rename(oldpath, newpath)
}

func (fs *faultFS) SyncDir(name string) error {
	fs.mu.Lock()
	fs.dirSyncs++
	fs.mu.Unlock()
	return fs.osFS.SyncDir(name)
}

func (fs *faultFS) set(fn func(fs *faultFS)) {
	fs.mu.Lock()
	fn(fs)
	fs.mu.Unlock()
}

func (fs *faultFS) counts() (syncs, dirSyncs, writes int) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.syncs, fs.dirSyncs, fs.writes
}

type faultFile struct {
	*os.File
	fs *faultFS
}

// Write writes what fits in the remaining space and fails with ENOSPC for the rest,
// like a file system filling up in the middle of a write.
func (f *faultFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	f.fs.writes++
	space := f.fs.space
	if space >= 0 && int64(len(p)) > space {
		f.fs.space = 0
	} else if space >= 0 {
		f.fs.space -= int64(len(p))
	}
	f.fs.mu.Unlock()
	if space >= 0 && int64(len(p)) > space {
		n, _ := f.File.Write(p[:space])
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	return f.File.Write(p)
}

func (f *faultFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	err := f.fs.truncErr
	f.fs.mu.Unlock()
	if err != nil {
		return &os.PathError{Op: "truncate", Path: f.Name(), Err: err}
	}
	return f.File.Truncate(size)
}

func (f *faultFile) Sync() error {
	f.fs.mu.Lock()
	f.fs.syncs++
	err := f.fs.syncErr
	fake := f.fs.fakeSync
	f.fs.mu.Unlock()
	if err != nil {
		return &os.PathError{Op: "sync", Path: f.Name(), Err: err}
	}
	if fake {
		return nil
	}
	return f.File.Sync()
}

func newTestFile(t *testing.T, o FileOptions) *File {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quietLogger()
	}
	f, err := NewFile("file", o)
	if err != nil {
		t.Fatalf("NewFile: %v", err)
	}
	t.Cleanup(func() { f.Close(context.Background()) })
	return f
}

func consume(t *testing.T, s Sink, b *pipeline.Batch) {
	t.Helper()
	if err := s.Consume(context.Background(), b); err != nil {
		t.Fatalf("Consume: %v", err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// rotatedSet lists the rotation suffixes present for path ("" for path itself).
func rotatedSet(t *testing.T, path string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	base := filepath.Base(path)
	for _, e := range ents {
		if s, ok := strings.CutPrefix(e.Name(), base); ok {
			out = append(out, s)
		}
	}
	return out
}

// readAll concatenates path.N ... path.1 path.
func readAll(t *testing.T, path string, maxFiles int) string {
	t.Helper()
	var b strings.Builder
	for i := maxFiles; i >= 1; i-- {
		data, err := os.ReadFile(fmt.Sprintf("%s.%d", path, i))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	b.WriteString(readFile(t, path))
	return b.String()
}

// checkLines fails unless every line of s is a whole JSON document.
func checkLines(t *testing.T, name, s string) {
	t.Helper()
	if s != "" && !strings.HasSuffix(s, "\n") {
		t.Errorf("%s does not end with a newline", name)
	}
	for i, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if s == "" {
			break
		}
		if !json.Valid([]byte(l)) {
			t.Errorf("%s line %d is not JSON: %.60q", name, i+1, l)
		}
	}
}

func TestFileAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "out.log") // parents created
	f := newTestFile(t, FileOptions{Path: path})
	consume(t, f, batchOf(0, 3, 2, 40))
	consume(t, f, batchOf(6, 1, 4, 40))
	consume(t, f, &pipeline.Batch{}) // empty batch
	if got := readFile(t, path); got != stream(0, 10, 40) {
		t.Errorf("content = %q", got)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode())
	}
}

func TestFileRotation(t *testing.T) {
	tests := []struct {
		name      string
		size      int   // record size
		records   int   // total records
		perChunk  int   // records per chunk
		perBatch  int   // chunks per batch
		maxSize   int64 // file size limit
		maxFiles  int
		wantFiles []string // suffixes present at the end
	}{
		// 10 records of 100 bytes fit exactly in a file of 1000.
		{"exact fit", 100, 30, 1, 1, 1000, 5, []string{"", ".1", ".2"}},
		{"batch straddles", 100, 30, 7, 3, 1000, 5, []string{"", ".1", ".2"}},
		{"chunk straddles", 100, 25, 25, 1, 1000, 5, []string{"", ".1", ".2"}},
		{"not a multiple", 100, 30, 3, 2, 950, 5, []string{"", ".1", ".2", ".3"}},
		{"pruned to MaxFiles", 100, 100, 5, 2, 1000, 3, []string{"", ".1", ".2", ".3"}},
		{"MaxFiles 1", 100, 100, 5, 2, 1000, 1, []string{"", ".1"}},
		{"MaxFiles 0 means 1", 100, 100, 5, 2, 1000, 0, []string{"", ".1"}},
		{"never rotate", 100, 100, 5, 2, 0, 3, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.log")
			f := newTestFile(t, FileOptions{Path: path, MaxSize: tt.maxSize, MaxFiles: tt.maxFiles})
			i := 0
			for i < tt.records {
				b := &pipeline.Batch{}
				for c := 0; c < tt.perBatch && i < tt.records; c++ {
					n := min(tt.perChunk, tt.records-i)
					b.Add(newChunk(stream(i, n, tt.size)))
					i += n
				}
				consume(t, f, b)
			}
			if err := f.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := rotatedSet(t, path); fmt.Sprint(got) != fmt.Sprint(tt.wantFiles) {
				t.Errorf("files %q, want %q", got, tt.wantFiles)
			}
			keep := max(tt.maxFiles, 1)
			all := readAll(t, path, keep)
			want := stream(0, tt.records, tt.size)
			if !strings.HasSuffix(want, all) || !strings.HasPrefix(all, "{") {
				t.Errorf("the kept files are not the tail of the stream")
			}
			if len(tt.wantFiles) <= keep && all != want {
				t.Errorf("nothing was pruned but the files differ from the stream")
			}
			for _, s := range tt.wantFiles {
				data := readFile(t, path+s)
				checkLines(t, "out.log"+s, data)
				if tt.maxSize > 0 && int64(len(data)) > tt.maxSize {
					t.Errorf("out.log%s holds %d bytes, over %d", s, len(data), tt.maxSize)
				}
			}
		})
	}
}

func TestFileRotationRandom(t *testing.T) {
	// Random record sizes, chunkings and limits: files stay within MaxSize (unless one
	// record is larger), and the files read in order are the stream.
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			path := filepath.Join(t.TempDir(), "out.log")
			maxSize := int64(100 + rng.IntN(1000))
			fs := newFaultFS()
			fs.fakeSync = true // rotations fsync; real ones would make this test slow
			f := newTestFile(t, FileOptions{Path: path, MaxSize: maxSize, MaxFiles: 1000, fs: fs})
			var want strings.Builder
			largest := 0
			n := 0
			for range 20 {
				b := &pipeline.Batch{}
				for range 1 + rng.IntN(5) {
					var c strings.Builder
					for range 1 + rng.IntN(6) {
						r := record(n, 20+rng.IntN(120))
						largest = max(largest, len(r))
						c.WriteString(r)
						n++
					}
					b.Add(newChunk(c.String()))
					want.WriteString(c.String())
				}
				consume(t, f, b)
			}
			if all := readAll(t, path, 1000); all != want.String() {
				t.Fatalf("files differ from the stream")
			}
			for _, s := range rotatedSet(t, path) {
				data := readFile(t, path+s)
				checkLines(t, "out.log"+s, data)
				if int64(len(data)) > maxSize && strings.Count(data, "\n") > 1 {
					t.Errorf("out.log%s: %d bytes over %d with several records", s, len(data), maxSize)
				}
			}
		})
	}
}

func TestFileOversizedRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.log")
	f := newTestFile(t, FileOptions{Path: path, MaxSize: 100, MaxFiles: 10})
	small, big := record(0, 30), record(1, 500)
	consume(t, f, &pipeline.Batch{Chunks: []*pipeline.Chunk{newChunk(small + big + small)}})
	// small | big alone | small
	for suffix, want := range map[string]string{".2": small, ".1": big, "": small} {
		if got := readFile(t, path+suffix); got != want {
			t.Errorf("out.log%s = %.40q, want %.40q", suffix, got, want)
		}
	}
}

func TestFileReopenKeepsSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.log")
	f := newTestFile(t, FileOptions{Path: path, MaxSize: 1000, MaxFiles: 3})
	consume(t, f, batchOf(0, 1, 9, 100)) // 900 bytes
	if err := f.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	g := newTestFile(t, FileOptions{Path: path, MaxSize: 1000, MaxFiles: 3})
	consume(t, g, batchOf(9, 1, 2, 100)) // the first fits (1000), the second rotates
	if got := readFile(t, path+".1"); got != stream(0, 10, 100) {
		t.Errorf("out.log.1 has %d bytes", len(got))
	}
	if got := readFile(t, path); got != record(10, 100) {
		t.Errorf("out.log = %q", got)
	}
	// An existing file already over MaxSize rotates before the first write.
	if err := g.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := newTestFile(t, FileOptions{Path: path, MaxSize: 50, MaxFiles: 3})
	consume(t, h, batchOf(11, 1, 1, 40))
	if got := readFile(t, path+".1"); got != record(10, 100) {
		t.Errorf("out.log.1 = %q", got)
	}
	if got := readFile(t, path); got != record(11, 40) {
		t.Errorf("out.log = %q", got)
	}
}

func TestFilePrunesBeyondMaxFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.log")
	for _, s := range []string{".1", ".2", ".3", ".4", ".7", ".01", ".x", ".3.gz"} {
		if err := os.WriteFile(path+s, []byte("old"+s+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := newTestFile(t, FileOptions{Path: path, MaxSize: 100, MaxFiles: 2})
	consume(t, f, batchOf(0, 2, 1, 100)) // the second record rotates
	got := rotatedSet(t, path)
	// .3 and .4 go (a larger MaxFiles left them); .7, after a gap, is not ours.
	want := []string{"", ".01", ".1", ".2", ".3.gz", ".7", ".x"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("files %q, want %q", got, want)
	}
	if s := readFile(t, path+".2"); s != "old.1\n" {
		t.Errorf(".2 = %q, want the old .1", s)
	}
}

func TestFileFsync(t *testing.T) {
	tests := []struct {
		name      string
		fsync     bool
		consumes  int
		maxSize   int64
		wantSyncs int // file fsyncs, rotations included
		wantDir   bool
	}{
		{"fsync", true, 5, 0, 5, true},
		{"no fsync", false, 5, 0, 0, false},
		{"fsync with rotations", true, 4, 200, 4 + 3, true},
		{"rotation fsyncs anyway", false, 4, 200, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFaultFS()
			path := filepath.Join(t.TempDir(), "out.log")
			f := newTestFile(t, FileOptions{Path: path, Fsync: tt.fsync, MaxSize: tt.maxSize, MaxFiles: 9, fs: fs})
			for i := range tt.consumes {
				consume(t, f, batchOf(i*2, 1, 2, 100)) // 200 bytes: fills the file
			}
			syncs, dirSyncs, _ := fs.counts()
			if syncs != tt.wantSyncs {
				t.Errorf("%d fsyncs, want %d", syncs, tt.wantSyncs)
			}
			if (dirSyncs > 0) != tt.wantDir {
				t.Errorf("%d directory fsyncs", dirSyncs)
			}
			if err := f.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, path, 9); got != stream(0, tt.consumes*2, 100) {
				t.Errorf("content differs")
			}
		})
	}
}

func TestFileTornWriteRepaired(t *testing.T) {
	tests := []struct {
		name     string
		space    int64 // bytes writable after the first batch before ENOSPC
		truncErr error
		maxSize  int64
		want     string // content after the retry, or "" for prefix+batch
	}{
		{"mid first record", 37, nil, 0, ""},
		{"mid a later chunk", 250, nil, 0, ""},
		{"on a record boundary", 200, nil, 0, ""},
		{"nothing written", 0, nil, 0, ""},
		// The failed write leaves 37 bytes of record 3; truncate fails, so a '\n'
		// ends them and the retried batch follows on a line of its own.
		{"truncate fails", 37, syscall.EIO, 0, stream(0, 3, 100) + record(3, 100)[:37] + "\n" + stream(3, 6, 100)},
		// Rotation happens after 500 bytes; the failure hits the new file, which is
		// truncated back to empty; the retry duplicates the records before rotation.
		{"after a rotation", 250, nil, 500, stream(0, 3, 100) + stream(3, 2, 100) + stream(3, 6, 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFaultFS()
			path := filepath.Join(t.TempDir(), "out.log")
			f := newTestFile(t, FileOptions{Path: path, MaxSize: tt.maxSize, MaxFiles: 9, fs: fs})
			consume(t, f, batchOf(0, 1, 3, 100)) // records 0-2
			fs.set(func(fs *faultFS) { fs.space, fs.truncErr = tt.space, tt.truncErr })
			b := batchOf(3, 3, 2, 100) // records 3-8 in three chunks
			err := f.Consume(context.Background(), b)
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Consume = %v, want ENOSPC", err)
			}
			if tt.truncErr == nil && tt.maxSize == 0 {
				if got := readFile(t, path); got != stream(0, 3, 100) {
					t.Errorf("after the failure the file holds %d bytes, want it truncated to 300", len(got))
				}
			}
			fs.set(func(fs *faultFS) { fs.space = -1 }) // space is back; truncate may still fail
			consume(t, f, b)                            // the runner's retry
			want := tt.want
			if want == "" {
				want = stream(0, 9, 100)
			}
			got := readAll(t, path, 9)
			if got != want {
				t.Errorf("content:\n%s\nwant:\n%s", got, want)
			}
			if tt.truncErr == nil {
				checkLines(t, "output", got)
			}
		})
	}
}

func TestFileDiskStaysFull(t *testing.T) {
	// Truncate and the '\n' fallback both fail: Consume keeps failing without
	// writing, and once space returns the torn line is gone before new records.
	fs := newFaultFS()
	path := filepath.Join(t.TempDir(), "out.log")
	f := newTestFile(t, FileOptions{Path: path, fs: fs})
	consume(t, f, batchOf(0, 1, 2, 100))
	fs.set(func(fs *faultFS) { fs.space, fs.truncErr = 50, syscall.EIO })
	b := batchOf(2, 2, 2, 100)
	for range 3 {
		if err := f.Consume(context.Background(), b); !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("Consume = %v, want ENOSPC", err)
		}
	}
	_, _, writesBefore := fs.counts()
	if err := f.Consume(context.Background(), b); err == nil {
		t.Fatal("Consume succeeded on a full disk")
	}
	if _, _, w := fs.counts(); w != writesBefore+1 { // only the '\n' attempt
		t.Errorf("%d writes while the torn line is unrepaired, want 1", w-writesBefore)
	}
	fs.set(func(fs *faultFS) { fs.space, fs.truncErr = -1, nil }) // space is back
	consume(t, f, b)
	got := readFile(t, path)
	if got != stream(0, 6, 100) {
		t.Errorf("content:\n%s", got)
	}
}

func TestFileFsyncFailure(t *testing.T) {
	fs := newFaultFS()
	path := filepath.Join(t.TempDir(), "out.log")
	f := newTestFile(t, FileOptions{Path: path, Fsync: true, fs: fs})
	consume(t, f, batchOf(0, 1, 2, 100))
	fs.set(func(fs *faultFS) { fs.syncErr = syscall.EIO })
	b := batchOf(2, 2, 2, 100)
	if err := f.Consume(context.Background(), b); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Consume = %v, want EIO", err)
	}
	// The records whose fsync failed are removed and written again by the retry.
	if got := readFile(t, path); got != stream(0, 2, 100) {
		t.Errorf("after the failure: %d bytes", len(got))
	}
	fs.set(func(fs *faultFS) { fs.syncErr = nil })
	consume(t, f, b)
	if got := readFile(t, path); got != stream(0, 6, 100) {
		t.Errorf("content:\n%s", got)
	}
}

func TestFileRotationFailure(t *testing.T) {
	fs := newFaultFS()
	path := filepath.Join(t.TempDir(), "out.log")
	f := newTestFile(t, FileOptions{Path: path, MaxSize: 300, MaxFiles: 5, fs: fs})
	consume(t, f, batchOf(0, 1, 2, 100))
	fs.set(func(fs *faultFS) { fs.renameErr = syscall.EACCES })
	b := batchOf(2, 2, 2, 100) // record 2 fits, record 3 needs a rotation
	if err := f.Consume(context.Background(), b); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("Consume = %v, want EACCES", err)
	}
	consume(t, f, b)
	// Record 2 was written and fsynced before the failed rename; the retry
	// duplicates it: delivered at least once, in order, no torn line.
	want := stream(0, 3, 100) + stream(2, 4, 100)
	got := readAll(t, path, 5)
	if got != want {
		t.Errorf("content:\n%s\nwant:\n%s", got, want)
	}
	checkLines(t, "output", got)
}

func TestFileTornTailOnOpen(t *testing.T) {
	long := strings.Repeat("y", tailScan+10)
	tests := []struct {
		name     string
		existing string
		want     string // after NewFile
	}{
		{"clean", stream(0, 2, 30), stream(0, 2, 30)},
		{"empty", "", ""},
		{"torn last line", stream(0, 2, 30) + `{"n":2,"pa`, stream(0, 2, 30)},
		{"only a torn line", `{"n":0`, ""},
		{"torn line longer than the scan", "{}\n" + long, "{}\n" + long + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.log")
			if err := os.WriteFile(path, []byte(tt.existing), 0o644); err != nil {
				t.Fatal(err)
			}
			f := newTestFile(t, FileOptions{Path: path})
			if got := readFile(t, path); got != tt.want {
				t.Errorf("after open: %.80q, want %.80q", got, tt.want)
			}
			consume(t, f, batchOf(7, 1, 1, 30))
			if got := readFile(t, path); got != tt.want+record(7, 30) {
				t.Errorf("after Consume: %.80q", got)
			}
		})
	}
}

func TestFileDevFull(t *testing.T) {
	// A real ENOSPC: /dev/full accepts opens and fails every write.
	if _, err := os.Stat("/dev/full"); err != nil {
		testenv.SkipOrFail(t, "no /dev/full on this machine: %v", err)
	}
	f, err := NewFile("full", FileOptions{Path: "/dev/full", Fsync: true, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("cannot open /dev/full: %v", err)
	}
	for range 2 {
		if err := f.Consume(context.Background(), batchOf(0, 3, 2, 100)); !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("Consume = %v, want ENOSPC", err)
		}
	}
	f.Close(context.Background()) // fsync of a device may fail; it must not panic
}

func TestFileClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.log")
	f := newTestFile(t, FileOptions{Path: path})
	ctx := context.Background()
	if err := f.Close(ctx); err != nil { // without any Consume
		t.Fatal(err)
	}
	if err := f.Close(ctx); err != nil { // idempotent
		t.Fatal(err)
	}
	err := f.Consume(ctx, batchOf(0, 1, 1, 30))
	if !errors.Is(err, ErrClosed) || !IsPermanent(err) {
		t.Errorf("Consume after Close = %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	g := newTestFile(t, FileOptions{Path: path})
	if err := g.Consume(cctx, batchOf(0, 1, 1, 30)); !errors.Is(err, context.Canceled) {
		t.Errorf("Consume with a done context = %v", err)
	}
}

func TestNewFileErrors(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    FileOptions
	}{
		{"no path", FileOptions{}},
		{"negative size", FileOptions{Path: filepath.Join(dir, "x"), MaxSize: -1}},
		{"negative files", FileOptions{Path: filepath.Join(dir, "x"), MaxFiles: -1}},
		{"parent is a file", FileOptions{Path: filepath.Join(blocker, "x")}},
		{"path is a directory", FileOptions{Path: dir}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if f, err := NewFile("f", tt.o); err == nil {
				f.Close(context.Background())
				t.Error("NewFile succeeded")
			}
		})
	}
}

func TestWriteBuffers(t *testing.T) {
	// The writev path (an *os.File) and the Write path (any other file) agree.
	bufs := func() [][]byte {
		var out [][]byte
		for i := range 3000 { // more than IOV_MAX
			out = append(out, []byte(record(i, 10+i%50)))
			if i%7 == 0 {
				out = append(out, nil)
			}
		}
		return out
	}
	want := bytes.Join(bufs(), nil)
	dir := t.TempDir()
	for name, wrap := range map[string]func(*os.File) file{
		"os":    func(f *os.File) file { return f },
		"other": func(f *os.File) file { return &faultFile{File: f, fs: newFaultFS()} },
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			n, err := writeBuffers(wrap(f), bufs(), nil)
			if err != nil || n != int64(len(want)) {
				t.Fatalf("writeBuffers = %d, %v", n, err)
			}
			if got := readFile(t, path); got != string(want) {
				t.Error("content differs")
			}
		})
	}
}

func TestAdvance(t *testing.T) {
	tests := []struct {
		n    int
		want string
	}{
		{0, "[ab cde f]"},
		{1, "[b cde f]"},
		{2, "[cde f]"},
		{4, "[e f]"},
		{5, "[f]"},
		{6, "[]"},
	}
	for _, tt := range tests {
		bufs := [][]byte{[]byte("ab"), []byte("cde"), []byte("f")}
		got := advance(bufs, tt.n)
		if s := fmt.Sprintf("%s", got); s != tt.want {
			t.Errorf("advance(%d) = %s, want %s", tt.n, s, tt.want)
		}
	}
}
