package tail

import (
	"bytes"
	"compress/gzip"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// gzReader must serve the same bytes as the uncompressed data for any sequence of
// reads the tailer makes: mostly forward, sometimes re-reading a partial line.
func TestGzReaderMatchesPlainBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 5<<20)
	for i := range data {
		data[i] = byte('a' + r.IntN(26))
		if r.IntN(80) == 0 {
			data[i] = '\n'
		}
	}
	path := filepath.Join(t.TempDir(), "x.gz")
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	zw.Close()
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	g, err := openGz(f)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if got := gzSize(f); got != int64(len(data)) {
		t.Fatalf("gzSize = %d, want %d", got, len(data))
	}
	off := int64(0)
	for off < int64(len(data)) {
		n := 1 + r.IntN(300<<10)
		switch r.IntN(10) {
		case 0:
			off -= int64(r.IntN(4096)) // re-read a partial line
			if off < 0 {
				off = 0
			}
		case 1:
			off += int64(r.IntN(3 << 20)) // resume further on (checkpoint)
		}
		p := make([]byte, n)
		k, err := g.ReadAt(p, off)
		want := data[min(off, int64(len(data))):min(off+int64(n), int64(len(data)))]
		if !bytes.Equal(p[:k], want) {
			t.Fatalf("ReadAt(%d, %d) returned %d bytes that differ from the data (want %d)", n, off, k, len(want))
		}
		if k < n && err != io.EOF {
			t.Fatalf("short read without EOF: %v", err)
		}
		off += int64(k)
	}
}
