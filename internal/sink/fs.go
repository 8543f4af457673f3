package sink

import (
	"io"
	"os"
)

// fileSystem is the part of the OS the File sink uses; tests replace it to inject
// faults (short writes, ENOSPC, failing truncate or rename).
type fileSystem interface {
	MkdirAll(path string, perm os.FileMode) error
	OpenFile(name string, flag int, perm os.FileMode) (file, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
	ReadDir(name string) ([]os.DirEntry, error)
	// SyncDir fsyncs a directory, making renames and creations in it durable.
	SyncDir(name string) error
}

// file is an open output file. *os.File implements it; when the file is an *os.File
// the sink writes a whole run of chunks with one writev where the platform has it.
type file interface {
	io.Writer
	io.ReaderAt
	Sync() error
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
	Close() error
}

type osFS struct{}

func (osFS) MkdirAll(path string, perm os.FileMode) error { return os.MkdirAll(path, perm) }
func (osFS) OpenFile(name string, flag int, perm os.FileMode) (file, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // not a typed nil in an interface
	}
	return f, nil
}
func (osFS) Rename(oldpath, newpath string) error       { return os.Rename(oldpath, newpath) }
func (osFS) Remove(name string) error                   { return os.Remove(name) }
func (osFS) ReadDir(name string) ([]os.DirEntry, error) { return os.ReadDir(name) }
func (osFS) SyncDir(name string) error {
	d, err := os.Open(name)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeBuffers writes bufs in order to f and returns the bytes written; fewer than
// their total only with an error. It uses writev for an *os.File where available;
// scratch (may be nil) is reused for its iovecs.
func writeBuffers(f file, bufs [][]byte, scratch *iovScratch) (int64, error) {
	if osf, ok := f.(*os.File); ok && haveWritev {
		return writev(osf, bufs, scratch)
	}
	var total int64
	for _, b := range bufs {
		n, err := f.Write(b)
		total += int64(n)
		if err == nil && n < len(b) {
			err = io.ErrShortWrite
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// advance drops the first n bytes from bufs (after a partial vectored write).
func advance(bufs [][]byte, n int) [][]byte {
	for len(bufs) > 0 && n >= len(bufs[0]) {
		n -= len(bufs[0])
		bufs[0] = nil
		bufs = bufs[1:]
	}
	if len(bufs) > 0 {
		bufs[0] = bufs[0][n:]
	}
	return bufs
}
