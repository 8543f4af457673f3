// Package checkpoint keeps the durable read positions of log files. It stores only
// acknowledged offsets (the agent's trackers decide what that is) and writes them
// atomically: a temp file, fsync, rename, fsync of the directory.
package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// FileName is the name of the store inside the data directory.
const FileName = "checkpoints.json"

const formatVersion = 1

// Entry is the position of one file. A file is identified by its group (the container
// it belongs to), the fingerprint of its first line and, for plain files, device and
// inode. A gzipped copy of a rotated file has other device and inode numbers but the
// same group and fingerprint, which is how it is matched after a restart.
type Entry struct {
	Group       string    `json:"group"`
	Fingerprint uint64    `json:"fp"`
	Dev         uint64    `json:"dev"`
	Ino         uint64    `json:"ino"`
	Offset      int64     `json:"offset"` // every byte below is acknowledged by every sink
	Size        int64     `json:"size"`   // size of the file when last seen, for status only
	Path        string    `json:"path"`
	Updated     time.Time `json:"updated"`

	seen uint64 // scan generation in which a file on disk last matched
}

// Key identifies an entry in the store.
type Key struct {
	Group       string
	Fingerprint uint64
	Dev, Ino    uint64
}

func (e *Entry) key() Key { return Key{e.Group, e.Fingerprint, e.Dev, e.Ino} }

type fileFormat struct {
	Version int       `json:"version"`
	Written time.Time `json:"written"`
	Files   []*Entry  `json:"files"`
}

// Store holds the entries in memory and writes them on Sync. It is safe for concurrent use.
type Store struct {
	path string

	mu      sync.Mutex
	entries map[Key]*Entry
	dirty   bool
	gen     uint64
	existed bool
}

// ErrCorrupt is returned (wrapped) by Open when the store could not be read; the store
// is then empty and the bad file has been set aside.
var ErrCorrupt = errors.New("corrupt checkpoint file")

// Open loads the store from dir. A missing file is an empty store. A file that cannot be
// parsed is renamed to checkpoints.json.corrupt-<unix time> and Open returns an empty,
// usable store together with an error wrapping ErrCorrupt: the caller logs and counts
// it, and reading restarts from the beginning of every file (duplicates, never loss).
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("checkpoint: create data dir %s: %w", dir, err)
	}
	s := &Store{path: filepath.Join(dir, FileName), entries: map[Key]*Entry{}}
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: read %s: %w", s.path, err)
	}
	var f fileFormat
	perr := json.Unmarshal(data, &f)
	if perr == nil && f.Version != formatVersion {
		perr = fmt.Errorf("unsupported version %d", f.Version)
	}
	if perr == nil {
		for i, e := range f.Files {
			if e == nil || e.Offset < 0 || e.Group == "" {
				perr = fmt.Errorf("entry %d is invalid", i)
				break
			}
		}
	}
	if perr != nil {
		aside := fmt.Sprintf("%s.corrupt-%d", s.path, time.Now().Unix())
		if rerr := os.Rename(s.path, aside); rerr != nil {
			return nil, fmt.Errorf("checkpoint: %s is unreadable (%v) and could not be set aside: %w", s.path, perr, rerr)
		}
		return s, fmt.Errorf("checkpoint: %w %s (%v); moved to %s, reading restarts from the start of every file", ErrCorrupt, s.path, perr, aside)
	}
	s.existed = true
	for _, e := range f.Files {
		s.entries[e.key()] = e
	}
	return s, nil
}

// Existed reports whether a valid store was loaded, i.e. this is not the agent's first
// start on this node (or the previous store was corrupt).
func (s *Store) Existed() bool { return s.existed }

// Path returns the store's file.
func (s *Store) Path() string { return s.path }

// Lookup finds the position of a file's content. The same content can have several
// entries: the plain file (device, inode) and its gzipped copy, or a file re-created
// under a new inode. Every entry of a group with the same fingerprint describes the
// same bytes (the first line of a runtime-written log carries a nanosecond timestamp),
// and each offset in them was acknowledged, so the furthest one wins: resuming from an
// older one would replay lines, and could split a partial line that continued into the
// container's next file. Matching entries are marked as seen in this scan generation.
func (s *Store) Lookup(k Key) (Entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var best *Entry
	for _, e := range s.entries {
		if e.Group == k.Group && e.Fingerprint == k.Fingerprint {
			e.seen = s.gen
			if best == nil || e.Offset > best.Offset {
				best = e
			}
		}
	}
	if best == nil {
		return Entry{}, false
	}
	return *best, true
}

// Commit records that every byte of the file below offset is acknowledged. Offsets only
// move forward, except through Reset.
func (s *Store) Commit(k Key, path string, offset, size int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, created := s.entry(k)
	if !created && offset < e.Offset {
		return
	}
	e.Offset, e.Path, e.seen = offset, path, s.gen
	if size > e.Size {
		e.Size = size
	}
	e.Updated = time.Now().UTC()
	s.dirty = true
}

// Reset sets the offset of k even if it goes backwards (truncation).
func (s *Store) Reset(k Key, path string, offset int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, _ := s.entry(k)
	e.Offset, e.Size, e.Path, e.seen = offset, offset, path, s.gen
	e.Updated = time.Now().UTC()
	s.dirty = true
}

// entry returns the entry of k, creating it if needed. s.mu held.
func (s *Store) entry(k Key) (e *Entry, created bool) {
	if e, ok := s.entries[k]; ok {
		return e, false
	}
	e = &Entry{Group: k.Group, Fingerprint: k.Fingerprint, Dev: k.Dev, Ino: k.Ino}
	s.entries[k] = e
	return e, true
}

// Touch marks k as seen in the current scan generation.
func (s *Store) Touch(k Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[k]; ok {
		e.seen = s.gen
	}
}

// Remove forgets k.
func (s *Store) Remove(k Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entries[k]; ok {
		delete(s.entries, k)
		s.dirty = true
	}
}

// NextGeneration starts a full scan of the disk; entries not matched by any file in the
// previous two generations are dropped (their files are gone, and so are any gzipped
// copies). It returns how many entries were dropped.
func (s *Store) NextGeneration() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	if s.gen >= 2 {
		for k, e := range s.entries {
			if e.seen+2 <= s.gen {
				delete(s.entries, k)
				n++
			}
		}
	}
	if n > 0 {
		s.dirty = true
	}
	s.gen++
	return n
}

// Len returns the number of entries.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// Entries returns a copy of every entry, sorted by path.
func (s *Store) Entries() []Entry {
	s.mu.Lock()
	out := make([]Entry, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, *e)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Sync writes the store if it changed since the last successful Sync. On error the
// store stays dirty, so the next Sync retries; the previous file stays intact.
func (s *Store) Sync() error {
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return nil
	}
	f := fileFormat{Version: formatVersion, Written: time.Now().UTC(), Files: make([]*Entry, 0, len(s.entries))}
	for _, e := range s.entries {
		c := *e
		f.Files = append(f.Files, &c)
	}
	s.dirty = false
	s.mu.Unlock()
	sort.Slice(f.Files, func(i, j int) bool { return f.Files[i].Path < f.Files[j].Path })
	data, err := json.Marshal(&f)
	if err == nil {
		err = writeAtomic(s.path, data)
	}
	if err != nil {
		s.mu.Lock()
		s.dirty = true
		s.mu.Unlock()
		return fmt.Errorf("checkpoint: write %s: %w", s.path, err)
	}
	return nil
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, derr := os.Open(filepath.Dir(path)); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
