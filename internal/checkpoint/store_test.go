package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Existed() {
		t.Fatal("a new store must not claim to have existed")
	}
	k := Key{Group: "g", Fingerprint: 7, Dev: 1, Ino: 2}
	s.Commit(k, "/p/0.log", 100, 100)
	s.Commit(k, "/p/0.log", 50, 50) // never backwards
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !s2.Existed() {
		t.Fatal("reopened store must say it existed")
	}
	e, ok := s2.Lookup(k)
	if !ok || e.Offset != 100 || e.Path != "/p/0.log" {
		t.Fatalf("lookup = %+v %v", e, ok)
	}
	// A gzipped copy has other device/inode numbers: found by group + fingerprint,
	// and the furthest acknowledged offset of that content wins.
	s2.Commit(Key{Group: "g", Fingerprint: 7}, "/p/0.log.gz", 60, 60)
	e, ok = s2.Lookup(Key{Group: "g", Fingerprint: 7})
	if !ok || e.Offset != 100 {
		t.Fatalf("fingerprint lookup = %+v %v", e, ok)
	}
	if _, ok := s2.Lookup(Key{Group: "other", Fingerprint: 7}); ok {
		t.Fatal("a fingerprint must not match across groups")
	}
	if _, err := os.Stat(filepath.Join(dir, FileName+".tmp")); !os.IsNotExist(err) {
		t.Fatal("temp file left behind")
	}
}

func TestStoreCorruptIsSetAside(t *testing.T) {
	for name, content := range map[string]string{
		"garbage":      "{not json",
		"truncated":    `{"version":1,"files":[{"group":"g","offset":`,
		"bad version":  `{"version":99,"files":[]}`,
		"negative":     `{"version":1,"files":[{"group":"g","offset":-5}]}`,
		"binary zeros": "\x00\x00\x00",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, FileName)
			if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
				t.Fatal(err)
			}
			s, err := Open(dir)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
			if s == nil || s.Len() != 0 || s.Existed() {
				t.Fatal("a corrupt store must give an empty, usable store that reads from the start")
			}
			m, _ := filepath.Glob(p + ".corrupt-*")
			if len(m) != 1 {
				t.Fatalf("corrupt file not set aside: %v", m)
			}
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error does not name the file: %v", err)
			}
			s.Commit(Key{Group: "g"}, "x", 1, 1)
			if err := s.Sync(); err != nil {
				t.Fatalf("store unusable after corruption: %v", err)
			}
		})
	}
}

func TestStoreSyncFailureKeepsOldFileAndRetries(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir)
	k := Key{Group: "g", Fingerprint: 1}
	s.Commit(k, "a", 10, 10)
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	// Block the temp file path so the next write fails (as a full disk would).
	tmp := filepath.Join(dir, FileName+".tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	s.Commit(k, "a", 20, 20)
	if err := s.Sync(); err == nil {
		t.Fatal("sync must fail when the temp file cannot be written")
	}
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := s2.Lookup(k); e.Offset != 10 {
		t.Fatalf("old checkpoint damaged: %+v", e)
	}
	os.Remove(tmp)
	if err := s.Sync(); err != nil {
		t.Fatalf("retry after the disk recovered: %v", err)
	}
	s3, _ := Open(dir)
	if e, _ := s3.Lookup(k); e.Offset != 20 {
		t.Fatalf("retried sync not written: %+v", e)
	}
}

func TestStorePrunesEntriesNotSeen(t *testing.T) {
	s, _ := Open(t.TempDir())
	keep := Key{Group: "g", Fingerprint: 1}
	gone := Key{Group: "g", Fingerprint: 2}
	s.Commit(keep, "a", 1, 1)
	s.Commit(gone, "b", 1, 1)
	for i := 0; i < 4; i++ {
		s.Touch(keep)
		s.NextGeneration()
	}
	if _, ok := s.Lookup(gone); ok {
		t.Fatal("an entry no file matched for several scans must be pruned")
	}
	if _, ok := s.Lookup(keep); !ok {
		t.Fatal("a seen entry must be kept")
	}
}
