package tail

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"hash/fnv"
	"io"
	"os"
	"syscall"
)

// fingerprintMax is how many bytes of a file's first line identify it.
const fingerprintMax = 1024

// fingerprint returns the identity hash of a file's content: FNV-1a over its first line
// (up to fingerprintMax bytes). ok is false while the file holds neither a complete first
// line nor fingerprintMax bytes, since the value would still change. final=true accepts
// whatever is there (a file that will not grow any more).
func fingerprint(head []byte, final bool) (fp uint64, n int, ok bool) {
	n = len(head)
	if n > fingerprintMax {
		n = fingerprintMax
	}
	complete := n == fingerprintMax
	for i := 0; i < n; i++ {
		if head[i] == '\n' {
			n = i + 1
			complete = true
			break
		}
	}
	if !complete && !final {
		return 0, 0, false
	}
	h := fnv.New64a()
	h.Write(head[:n])
	return h.Sum64(), n, true
}

// reader gives positioned reads over a plain file or the decompressed content of a
// gzipped one. Offsets are always offsets in the uncompressed data, so a checkpoint
// taken on a plain file is valid for its gzipped copy.
type reader interface {
	ReadAt(p []byte, off int64) (int, error)
	Close() error
}

// gzReader serves ReadAt over a gzip stream. Reads move forward; a read that starts
// before the current position reopens the stream (rare: only when a line straddled the
// previous read, which the window covers).
type gzReader struct {
	f      *os.File
	zr     *gzip.Reader
	pos    int64  // uncompressed offset of the end of window
	window []byte // the last bytes read, ending at pos
	eof    bool
}

const gzWindow = 2 << 20

func openGz(f *os.File) (*gzReader, error) {
	g := &gzReader{f: f}
	if err := g.reset(); err != nil {
		return nil, err
	}
	return g, nil
}

func (g *gzReader) reset() error {
	if _, err := g.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	br := bufio.NewReaderSize(g.f, 64<<10)
	var err error
	if g.zr == nil {
		g.zr, err = gzip.NewReader(br)
	} else {
		err = g.zr.Reset(br)
	}
	if err != nil {
		return err
	}
	g.zr.Multistream(true)
	g.pos, g.window, g.eof = 0, g.window[:0], false
	return nil
}

func (g *gzReader) ReadAt(p []byte, off int64) (int, error) {
	winStart := g.pos - int64(len(g.window))
	if off < winStart {
		if err := g.reset(); err != nil {
			return 0, err
		}
		winStart = 0
	}
	// Skip forward to off.
	for g.pos < off {
		if g.eof {
			return 0, io.EOF
		}
		if err := g.fill(int(min(off-g.pos, gzWindow))); err != nil {
			return 0, err
		}
	}
	// Offsets before off are never asked for again (reads only move forward), so the
	// window keeps nothing before it: its memory stays about one read.
	if winStart = g.pos - int64(len(g.window)); off > winStart && off <= g.pos {
		g.window = append(g.window[:0], g.window[off-winStart:]...)
	}
	n := 0
	if off < g.pos {
		winStart = g.pos - int64(len(g.window))
		n = copy(p, g.window[off-winStart:])
	}
	for n < len(p) && !g.eof {
		if err := g.fill(len(p) - n); err != nil {
			return n, err
		}
		winStart = g.pos - int64(len(g.window))
		if off+int64(n) < g.pos {
			n += copy(p[n:], g.window[off+int64(n)-winStart:])
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// fill decompresses up to want more bytes onto the window, keeping at most gzWindow
// bytes of history.
func (g *gzReader) fill(want int) error {
	if len(g.window)+want > gzWindow {
		drop := len(g.window) + want - gzWindow
		if drop > len(g.window) {
			drop = len(g.window)
		}
		g.window = append(g.window[:0], g.window[drop:]...)
	}
	start := len(g.window)
	if cap(g.window) < start+want {
		nw := make([]byte, start, start+want)
		copy(nw, g.window)
		g.window = nw
	}
	g.window = g.window[:start+want]
	n := 0
	var err error
	for n < want && err == nil {
		var k int
		k, err = g.zr.Read(g.window[start+n:])
		n += k
	}
	g.window = g.window[:start+n]
	g.pos += int64(n)
	if err == io.EOF {
		g.eof = true // a complete gzip stream: the file is final
		return nil
	}
	// io.ErrUnexpectedEOF here is a truncated stream (still being written, or
	// damaged): an error, so the file is retried rather than taken as complete.
	return err
}

func (g *gzReader) Close() error { return g.f.Close() }

// gzSize returns the uncompressed size recorded in a gzip trailer (modulo 4 GiB), or -1.
func gzSize(f *os.File) int64 {
	fi, err := f.Stat()
	if err != nil || fi.Size() < 18 {
		return -1
	}
	var b [4]byte
	if _, err := f.ReadAt(b[:], fi.Size()-4); err != nil {
		return -1
	}
	return int64(binary.LittleEndian.Uint32(b[:]))
}

// devIno returns the device and inode numbers and the link count of fi.
func devIno(fi os.FileInfo) (dev, ino uint64, nlink uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), st.Ino, uint64(st.Nlink)
	}
	return 0, 0, 1
}
