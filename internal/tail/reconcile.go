package tail

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/logferry/logferry/internal/checkpoint"
	"github.com/logferry/logferry/internal/discover"
	"github.com/logferry/logferry/internal/format"
	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/record"
)

// reconcile brings g.files in line with the directory: renamed files keep their reader
// (identity is device + inode), new files are opened at their checkpoint, gzipped copies
// of data already known are skipped. Files that vanished from the directory stay open
// until read and acknowledged. Called with g.mu held; takes m.mu when docker metadata
// is found.
func (m *Manager) reconcile(g *group) {
	if m.beforeList != nil {
		m.beforeList(g.g.Dir)
	}
	ents, listed, err := stableList(g.g.Dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			m.o.Stats.OpenErrors.Add(1)
			m.log.Warn("dir_unreadable", "cannot list container log directory", "dir", g.g.Dir, "err", err)
		}
		return
	}
	// Docker creates config.v2.json before the log file: read the metadata after the
	// listing, so that every file the listing shows is opened with it (see instance.go).
	if g.g.RefreshMetadata() {
		m.adoptMetadata(g)
	}
	// seen: listed now, under any name (the stable listing's inodes: a later Lstat can
	// miss a file renamed meanwhile) or as a copy's data.
	seen := make(map[*file]bool, len(g.files))
	for _, f := range g.files {
		if f.r != nil && listed[f.ino] {
			seen[f] = true
		}
	}
	known := len(g.files) // files opened below are appended
	var copies []copied
	names := make([]discover.Name, len(ents))
	valid := make([]bool, len(ents))
	for i, e := range ents {
		names[i], valid[i] = g.g.ParseName(e.Name())
	}
	for i, e := range ents {
		n, ok := names[i], valid[i]
		if !ok {
			continue
		}
		if n.Gz && hasPlainSibling(n, names, valid) {
			// Still being compressed (docker writes the .gz in place and removes the
			// plain file only once it is complete): read the plain file.
			continue
		}
		path := filepath.Join(g.g.Dir, e.Name())
		if m.excluded(path) {
			continue
		}
		fi, err := os.Lstat(path)
		if err != nil {
			continue // gone since ReadDir: normal during rotation
		}
		if !fi.Mode().IsRegular() {
			continue // symlinks and devices are never followed here
		}
		dev, ino, _ := devIno(fi)
		if f := g.byInode(dev, ino); f != nil {
			seen[f] = true
			if f.path != path {
				if f.name.Live() && !n.Live() {
					m.o.Stats.Rotations.Add(1)
					g.st.rotations.Add(1)
				}
				f.path, f.name = path, n
			}
			if f.fpKnown {
				m.o.Store.Touch(f.key)
			}
			continue
		}
		if o := m.add(g, path, n, fi, dev, ino); o != nil {
			copies = append(copies, copied{o, n})
		}
	}
	for _, f := range g.files[known:] {
		seen[f] = true
	}
	// A file can be rotated, compressed and removed between two listings (docker's
	// compress: <name> to <name>.1, <name>.1.gz, then <name>.1 unlinked): it is still open
	// with the name it had when last seen, often the live file's, which would sort it
	// after the newer rotations found since. Its gzipped copy tells where it is now.
	for _, c := range copies {
		if seen[c.f] || c.f.name.SameData(c.name) {
			seen[c.f] = true
			continue
		}
		seen[c.f] = true
		if c.f.name.Live() {
			m.o.Stats.Rotations.Add(1)
			g.st.rotations.Add(1)
		}
		m.o.Logger.Debug("file rotated away unseen; placed by its copy", "path", c.f.path, "copy", c.name)
		pos := c.name
		pos.Gz = c.f.name.Gz
		c.f.name = pos
	}
	// A file that was deleted (no name, no copy, no links) keeps the name it had when
	// last seen, which can be stale by several rotations: runtimes delete the oldest
	// files first, so it is older than every file of its instance still listed. Such
	// files go first, in the order they already had. (A file merely not listed but
	// still linked was renamed after the listing: its name is the best guess.)
	gone := make(map[*file]bool)
	for _, f := range g.files {
		if !seen[f] && f.r != nil {
			if fi, err := statReader(f.r); err == nil {
				if _, _, nlink := devIno(fi); nlink == 0 {
					gone[f] = true
				}
			}
		}
	}
	sort.SliceStable(g.files, func(i, j int) bool {
		a, b := g.files[i], g.files[j]
		if a.name.Restart != b.name.Restart {
			return a.name.Restart < b.name.Restart
		}
		if gone[a] || gone[b] {
			return gone[a] && !gone[b]
		}
		return a.name.Less(b.name)
	})
}

// stableList lists dir until two listings agree on every name's inode, and returns the
// entries and the inodes they had. A rotation
// renames several files in a row (docker shifts .1 to .2 and the live file to .1); one
// listing taken in the middle can miss a file entirely, and reading the files of a
// container in order depends on seeing all of them.
func stableList(dir string) ([]os.DirEntry, map[uint64]bool, error) {
	var prev map[string]uint64
	for attempt := 0; ; attempt++ {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, nil, err
		}
		cur := make(map[string]uint64, len(ents))
		for _, e := range ents {
			if fi, err := os.Lstat(filepath.Join(dir, e.Name())); err == nil {
				_, ino, _ := devIno(fi)
				cur[e.Name()] = ino
			}
		}
		if attempt >= 4 || sameListing(prev, cur) {
			inodes := make(map[uint64]bool, len(cur))
			for _, ino := range cur {
				inodes[ino] = true
			}
			return ents, inodes, nil
		}
		prev = cur
	}
}

func sameListing(a, b map[string]uint64) bool {
	if a == nil || len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func hasPlainSibling(n discover.Name, names []discover.Name, valid []bool) bool {
	for i, o := range names {
		if valid[i] && !o.Gz && o.SameData(n) {
			return true
		}
	}
	return false
}

func (g *group) byInode(dev, ino uint64) *file {
	for _, f := range g.files {
		if f.dev == dev && f.ino == ino && f.r != nil {
			return f
		}
	}
	return nil
}

// newerInstanceHasData reports whether a file of the group from a container instance
// newer than restart has data (the runtime moved on: kubelet layout).
func (g *group) newerInstanceHasData(restart int) bool {
	for _, o := range g.files {
		if o.name.Restart > restart && o.size > 0 {
			return true
		}
	}
	return false
}

// copied is a file of the group found again under another name (its gzipped copy).
type copied struct {
	f    *file
	name discover.Name
}

// add opens a newly seen file, unless it is a copy of data the group already has (that
// file is returned) or a file already read to its end.
func (m *Manager) add(g *group, path string, n discover.Name, fi os.FileInfo, dev, ino uint64) (copyOf *file) {
	open := os.Open
	if g.g.Open != nil {
		open = g.g.Open
	}
	osf, err := open(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			m.o.Stats.OpenErrors.Add(1)
			m.log.Warn("open_failed", "cannot open log file", "path", path, "err", err)
		}
		return nil
	}
	if g.g.Open != nil {
		// The name may have been swapped since it was listed: trust the descriptor.
		if ofi, err := osf.Stat(); err == nil {
			fi = ofi
			dev, ino, _ = devIno(fi)
		}
	}
	f := &file{path: path, name: n, dev: dev, ino: ino, size: fi.Size(), lastActive: m.o.Now(), holdOff: -1}
	if n.Gz {
		zr, err := openGz(osf)
		if err != nil {
			osf.Close()
			m.o.Stats.OpenErrors.Add(1)
			m.log.Warn("bad_gzip", "cannot read gzipped log file", "path", path, "err", err)
			return nil
		}
		f.r = zr
		f.size = gzSize(osf)
	} else {
		f.r = osf
	}
	m.fingerprint(g, f, n.Gz)
	if f.fpKnown {
		// The same data under another name (a rotation and its .gz) is read once. A
		// file opened while it was empty has no fingerprint yet, though it may have
		// been filled, rotated and compressed since: take it now, or its copy would
		// be read as new data.
		for _, o := range g.files {
			if o.r != nil {
				m.identify(g, o, false)
			}
			if o.fpKnown && o.fp == f.fp {
				f.close()
				return o
			}
		}
		if e, ok := m.o.Store.Lookup(f.key); ok {
			f.readOff = e.Offset
			// A live file can grow, unless a newer instance of the container has
			// written (as in isFinal): then it is done too, and opening it again would
			// make it the group's head and flush the newer instance's partial lines.
			if (!n.Live() || g.newerInstanceHasData(n.Restart)) && f.size >= 0 && e.Offset >= f.size {
				m.o.Logger.Debug("file already read to its end", "path", path, "fp", f.fp, "offset", e.Offset, "size", f.size)
				f.close() // already read to its end
				return nil
			}
		} else if m.startAtEnd() {
			if !n.Live() {
				f.close()
				return nil
			}
			f.readOff = lastLineStart(f.r, f.size)
		}
		m.track(f)
	}
	m.o.Stats.FilesOpen.Add(1)
	g.files = append(g.files, f)
	m.o.Logger.Debug("file opened", "path", path, "ino", ino, "fp", f.fp, "fp_known", f.fpKnown, "offset", f.readOff, "size", f.size)
	return nil
}

// identify gives a file opened before its first line was complete its fingerprint,
// once it has one, and starts tracking its acknowledgements (from its start: it had
// no checkpoint when opened). It reports whether f is identified.
func (m *Manager) identify(g *group, f *file, final bool) bool {
	if f.fpKnown {
		return true
	}
	m.fingerprint(g, f, final)
	if !f.fpKnown {
		return false
	}
	if m.startAtEnd() && f.name.Live() {
		f.readOff = lastLineStart(f.r, f.size)
	}
	m.track(f)
	return true
}

// fingerprint computes f's identity once its first line is complete.
func (m *Manager) fingerprint(g *group, f *file, final bool) {
	if f.fpKnown || f.r == nil {
		return
	}
	var buf [fingerprintMax]byte
	k, err := f.r.ReadAt(buf[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return
	}
	fp, _, ok := fingerprint(buf[:k], final)
	if !ok {
		return
	}
	f.fp, f.fpKnown = fp, true
	f.key = checkpoint.Key{Group: g.g.Key, Fingerprint: fp, Dev: f.dev, Ino: f.ino}
	if f.name.Gz {
		f.key.Dev, f.key.Ino = 0, 0
	}
	kind, certain := detectKind(f.r, buf[:k])
	if !certain && g.decKind != format.KindUnknown {
		kind = g.decKind // only garbage so far: trust the container's other files
	}
	if g.g.Layout == discover.PodFile {
		kind = format.KindRaw // an application's own file: its lines are the records
	}
	f.kind = kind
	m.setPrefix(g, f)
}

// setPrefix renders the constant part of f's records from the group's metadata.
func (m *Manager) setPrefix(g *group, f *file) {
	src := g.g.Source
	src.Path = f.path
	if g.g.Layout == discover.PodFile {
		src.Path, src.HostPath = g.g.ContainerDir+"/"+filepath.Base(f.path), f.path
	}
	if n := f.name; g.g.Layout == discover.Kubelet {
		src.RestartCount = n.Restart
	}
	src.FileID = f.fp
	src.Kube = g.kube
	if f.kind == format.KindRaw || f.kind == format.KindUnknown {
		// Raw first lines need not be unique, so the inode takes part in event ids.
		src.FileID ^= (f.dev*0x9e3779b97f4a7c15 ^ f.ino) * 0xbf58476d1ce4e5b9
	}
	f.prefix = record.NewPrefix(src)
}

// track starts acknowledgement tracking of f from its current read offset.
func (m *Manager) track(f *file) {
	store, key, path := m.o.Store, f.key, f.path
	f.tracker = pipeline.NewTracker(f.readOff, func(off int64) { store.Commit(key, path, off, off) })
}

// detectMax bounds how far detection looks for the end of the first line: docker
// pieces are 16 KiB before JSON escaping.
const detectMax = 256 << 10

// detectKind detects the format from the file's first line that parses as CRI or
// docker json-file (the kubelet uses the first line; skipping garbage lines keeps one
// malformed first line from turning a whole file into raw text). certain is false when
// no line parsed, so the result is a guess (raw).
func detectKind(r reader, head []byte) (k format.Kind, certain bool) {
	if k, ok := detectLines(head); ok {
		return k, true
	}
	if len(head) < fingerprintMax {
		return format.KindRaw, false // the whole file was looked at
	}
	// The first lines are long or garbage: look further (rare, so allocate here).
	buf := make([]byte, detectMax)
	n, _ := r.ReadAt(buf, 0)
	if k, ok := detectLines(buf[:n]); ok {
		return k, true
	}
	return format.KindRaw, false
}

// detectLines returns the format of the first complete line in data that parses as
// CRI or docker json-file.
func detectLines(data []byte) (format.Kind, bool) {
	for lines := 0; len(data) > 0 && lines < 64; lines++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if data == nil {
			break // an incomplete line proves nothing
		}
		if k := format.Detect(line); k == format.KindCRI || k == format.KindDocker {
			return k, true
		}
	}
	return format.KindRaw, false
}

// lastLineStart returns the offset just after the last newline before size.
func lastLineStart(r reader, size int64) int64 {
	if size <= 0 {
		return 0
	}
	const look = 64 << 10
	start := size - look
	if start < 0 {
		start = 0
	}
	buf := make([]byte, size-start)
	n, _ := r.ReadAt(buf, start)
	for i := n - 1; i >= 0; i-- {
		if buf[i] == '\n' {
			return start + int64(i) + 1
		}
	}
	return size
}

func (m *Manager) excluded(path string) bool {
	for _, p := range m.live().Exclude {
		if ok, _ := filepath.Match(p, path); ok {
			return true
		}
	}
	return false
}
