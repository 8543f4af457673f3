package gen

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

const filePerm = 0o640 // containerd, conmon and dockerd create logs 0640

// runner is the state shared by every container of one Run.
type runner struct {
	o    Options
	loc  *time.Location
	plan plan
	root string // Out/pods or Out/docker
}

// container simulates one container: the application writing lines, the
// runtime turning them into records in the log file, and (docker) the
// runtime's rotation. The simulated kubelet works on it from another goroutine.
//
// Lock order: rotMu before mu. The writer holds mu while it writes a unit (one
// line, or an interleaved pair); the kubelet renames the live file under mu, so
// a rotation falls between units. rotMu serialises the kubelet's work on
// rotated files with the removal of an old instance's files at a restart.
type container struct {
	r                           *runner
	idx                         int
	ns, pod, uid, name, podPath string
	key                         string // ns/pod/name
	dir                         string // CRI: the container's log directory

	rotMu sync.Mutex
	mu    sync.Mutex
	// guarded by mu
	f           *os.File
	path        string // live file
	size        int64
	restart     int
	running     bool
	pending     bool   // the kubelet renamed path and waits for the reopen
	lateLeft    int    // lines still to write to the renamed file
	rotatedPath string // where the kubelet renamed path to
	rotations   int
	lastStamp   time.Time // simulated kubelet clock of this container

	// docker, writer only
	dockerIDs   []string
	compressing chan struct{} // closed when the running compression ends
	compressErr error         // set before compressing is closed
	lastTS      time.Time     // timestamp of the last record (gzip header metadata)

	// writer only (read by Run after the writer ended)
	lines, longLines, malformed int64
	records, bytes, msgBytes    int64
	instLines                   int64
	buf, msgA, msgB             []byte
	pcA, pcB                    []piece
}

func newContainer(r *runner, idx int, ns, pod, uid, name string) *container {
	c := &container{r: r, idx: idx, ns: ns, pod: pod, uid: uid, name: name}
	c.key = ns + "/" + pod + "/" + name
	if r.o.Format != FormatDocker {
		c.podPath = filepath.Join(r.root, ns+"_"+pod+"_"+uid)
		c.dir = filepath.Join(c.podPath, name)
	}
	return c
}

// open starts instance c.restart. Called with mu held (or before the writer starts).
func (c *container) open() error {
	if c.r.o.Format == FormatDocker {
		id := dockerID(c.r.o.Seed, c.idx, c.restart)
		c.dockerIDs = append(c.dockerIDs, id)
		dir := filepath.Join(c.r.root, id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := c.writeDockerConfig(dir, id); err != nil {
			return err
		}
		c.path = filepath.Join(dir, id+"-json.log")
	} else {
		if err := os.MkdirAll(c.dir, 0o755); err != nil {
			return err
		}
		c.path = filepath.Join(c.dir, strconv.Itoa(c.restart)+".log")
	}
	f, err := os.OpenFile(c.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, filePerm)
	if err != nil {
		return err
	}
	c.f, c.size = f, 0
	return nil
}

// writeDockerConfig writes a minimal config.v2.json with the labels dockershim
// (cri-dockerd) puts on Kubernetes containers, so that an agent can map a
// container id to its pod without the API server.
func (c *container) writeDockerConfig(dir, id string) error {
	cfg := map[string]any{
		"ID":      id,
		"Name":    fmt.Sprintf("/k8s_%s_%s_%s_%s_%d", c.name, c.pod, c.ns, c.uid, c.restart),
		"LogPath": filepath.Join(dir, id+"-json.log"),
		"Config": map[string]any{
			"Labels": map[string]string{
				"io.kubernetes.container.name": c.name,
				"io.kubernetes.pod.name":       c.pod,
				"io.kubernetes.pod.namespace":  c.ns,
				"io.kubernetes.pod.uid":        c.uid,
				"io.kubernetes.docker.type":    "container",
			},
		},
		"HostConfig": map[string]any{"LogConfig": map[string]any{"Type": "json-file"}},
		"State":      map[string]any{"Running": true},
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	// Docker writes it atomically, before the container (and its log) starts.
	tmp := filepath.Join(dir, ".config.v2.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "config.v2.json"))
}

// start opens the first instance.
func (c *container) start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.open(); err != nil {
		return err
	}
	c.running = true
	return nil
}

// run writes lines until the line count is reached or ctx ends, then stops the container.
func (c *container) run(ctx context.Context, pace *pacer) (err error) {
	defer func() {
		if ferr := c.stop(); err == nil {
			err = ferr
		}
	}()
	o := &c.r.o
	for seq := int64(0); o.Lines == 0 || seq < o.Lines; {
		if ctx.Err() != nil {
			return nil
		}
		if o.RestartEvery > 0 && c.instLines >= o.RestartEvery {
			if err := c.doRestart(); err != nil {
				return err
			}
		}
		n := int64(1)
		if c.r.plan.pairSecond(seq + 1) {
			n = 2
		}
		if pace != nil && !pace.wait(ctx, int(n)) {
			return nil
		}
		if err := c.writeUnit(seq, n); err != nil {
			return err
		}
		seq += n
	}
	return nil
}

// writeUnit writes lines seq..seq+n-1 (n is 2 for an interleaved pair), then
// any garbage line due, then does the runtime's part of a pending reopen.
func (c *container) writeUnit(seq, n int64) error {
	p := &c.r.plan
	lenA := fitLength(c.ns, c.pod, c.name, int(seq), p.length(c.idx, seq))
	c.msgA = AppendMessageFiller(c.msgA[:0], c.r.o.Filler, c.ns, c.pod, c.name, int(seq), lenA)
	if n == 2 {
		lenB := fitLength(c.ns, c.pod, c.name, int(seq+1), p.length(c.idx, seq+1))
		c.msgB = AppendMessageFiller(c.msgB[:0], c.r.o.Filler, c.ns, c.pod, c.name, int(seq+1), lenB)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	var err error
	if n == 2 {
		err = c.writePair(streamName(p.stderr(seq)), c.msgA, streamName(p.stderr(seq+1)), c.msgB)
	} else {
		err = c.writeLine(streamName(p.stderr(seq)), c.msgA)
	}
	if err != nil {
		return err
	}
	for s := seq; s < seq+n; s++ {
		c.lines++
		c.instLines++
		if p.long(s) {
			c.longLines++
		}
		if o := c.r.o.MalformedEvery; o > 0 && (s+1)%o == 0 {
			if err := c.writeJunk(); err != nil {
				return err
			}
		}
	}
	c.msgBytes += int64(len(c.msgA))
	if n == 2 {
		c.msgBytes += int64(len(c.msgB))
	}
	if c.pending {
		c.lateLeft -= int(n)
		if c.lateLeft <= 0 {
			return c.reopenLocked()
		}
	}
	return nil
}

func (c *container) now() time.Time { return time.Now().In(c.r.loc) }

// writeLine writes one logical line as the runtime does.
func (c *container) writeLine(stream string, msg []byte) error {
	format := c.r.o.Format
	c.pcA = appendSplit(c.pcA[:0], format, len(msg))
	if format == FormatDocker {
		ts := time.Now().UTC() // every piece reuses the first piece's timestamp
		for _, pc := range c.pcA {
			c.buf = appendDocker(c.buf[:0], ts, stream, msg[pc.off:pc.end], !pc.partial)
			if err := c.writeRecord(c.buf, ts); err != nil {
				return err
			}
		}
		return nil
	}
	for _, pc := range c.pcA {
		c.buf = appendCRI(c.buf[:0], format, c.now(), stream, pc.partial, msg[pc.off:pc.end])
		if err := c.writeRecord(c.buf, time.Time{}); err != nil {
			return err
		}
	}
	return nil
}

// writePair writes line A (first seq) and line B (next seq) interleaved: B's
// first record, then A's, alternating, with every record of A before B's last.
func (c *container) writePair(streamA string, msgA []byte, streamB string, msgB []byte) error {
	format := c.r.o.Format
	c.pcA = appendSplit(c.pcA[:0], format, len(msgA))
	c.pcB = appendSplit(c.pcB[:0], format, len(msgB))
	i, j, turnB := 0, 0, true
	for i < len(c.pcA) || j < len(c.pcB) {
		var msg []byte
		var pc piece
		var stream string
		if (turnB && j < len(c.pcB)-1) || i == len(c.pcA) {
			pc, msg, stream = c.pcB[j], msgB, streamB
			j++
		} else {
			pc, msg, stream = c.pcA[i], msgA, streamA
			i++
		}
		turnB = !turnB
		c.buf = appendCRI(c.buf[:0], format, c.now(), stream, pc.partial, msg[pc.off:pc.end])
		if err := c.writeRecord(c.buf, time.Time{}); err != nil {
			return err
		}
	}
	return nil
}

func (c *container) writeJunk() error {
	c.buf = appendJunk(c.buf[:0], c.r.o.Format, c.now(), c.key, c.malformed)
	c.malformed++
	return c.writeRecord(c.buf, time.Now().UTC())
}

// writeRecord writes one record with one write(2). docker checks its rotation first.
func (c *container) writeRecord(b []byte, ts time.Time) error {
	if c.r.o.Format == FormatDocker {
		if err := c.dockerMaybeRotate(); err != nil {
			return err
		}
		c.lastTS = ts
	}
	n, err := c.f.Write(b)
	c.size += int64(n)
	c.bytes += int64(n)
	c.records++
	if err != nil {
		return fmt.Errorf("write %s: %w", c.path, err)
	}
	return nil
}

// reopenLocked is the runtime's ReopenContainerLog: close the renamed file and
// open a fresh live file. mu is held.
func (c *container) reopenLocked() error {
	if err := c.f.Close(); err != nil {
		return err
	}
	f, err := os.OpenFile(c.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, filePerm)
	if err != nil {
		return err
	}
	c.f, c.size = f, 0
	c.pending, c.lateLeft, c.rotatedPath = false, 0, ""
	c.rotations++
	return nil
}

// endInstanceLocked ends the running instance: a rotation waiting for its
// reopen fails as ReopenContainerLog fails for an exited container, and the
// kubelet renames the rotated file back; the file is closed. mu is held.
func (c *container) endInstanceLocked() error {
	var errs []error
	if c.pending {
		if err := os.Rename(c.rotatedPath, c.path); err != nil {
			errs = append(errs, err)
		}
		c.pending, c.lateLeft, c.rotatedPath = false, 0, ""
	}
	if c.f != nil {
		errs = append(errs, c.f.Close())
		c.f = nil
	}
	if c.r.o.Format == FormatDocker {
		errs = append(errs, c.waitCompress())
	}
	return errors.Join(errs...)
}

// doRestart starts the next instance of the container.
func (c *container) doRestart() error {
	c.rotMu.Lock()
	defer c.rotMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.endInstanceLocked(); err != nil {
		return err
	}
	c.restart++
	c.instLines = 0
	if !c.r.o.KeepRestarts && c.restart >= 2 {
		// The kubelet keeps one dead container (the previous instance) and
		// removes the logs of the one before it.
		if err := c.removeInstance(c.restart - 2); err != nil {
			return err
		}
	}
	return c.open()
}

// removeInstance removes the files of instance n.
func (c *container) removeInstance(n int) error {
	if c.r.o.Format == FormatDocker {
		return os.RemoveAll(filepath.Join(c.r.root, c.dockerIDs[n]))
	}
	old, err := filepath.Glob(filepath.Join(c.dir, strconv.Itoa(n)+".log*"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// stop ends the container for good.
func (c *container) stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		return nil
	}
	c.running = false
	return c.endInstanceLocked()
}

// dockerMaybeRotate is moby's LogFile rotation, checked before every write once
// the live file has reached max-size: remove <name>.<max-1>[.gz], shift
// <name>.<i-1> to <name>.<i> down to 2, rename <name> to <name>.1, open a fresh
// <name>; with compress, gzip <name>.1 to <name>.1.gz in the background and
// remove <name>.1 once the .gz is complete. The next rotation waits for that
// compression, as moby's rotateMu does. mu is held.
func (c *container) dockerMaybeRotate() error {
	o := &c.r.o
	if o.RotateSize <= 0 || c.size < o.RotateSize {
		return nil
	}
	if err := c.waitCompress(); err != nil {
		return err
	}
	name := c.path
	if err := c.f.Close(); err != nil {
		return err
	}
	if o.MaxFiles < 2 {
		// max-file=1: the history is dropped.
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	} else {
		ext := ""
		if o.Compress {
			ext = ".gz"
		}
		last := name + "." + strconv.Itoa(o.MaxFiles-1) + ext
		if err := os.Remove(last); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		for i := o.MaxFiles - 1; i > 1; i-- {
			from := name + "." + strconv.Itoa(i-1) + ext
			to := name + "." + strconv.Itoa(i) + ext
			if err := os.Rename(from, to); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		if err := os.Rename(name, name+".1"); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, filePerm)
	if err != nil {
		return err
	}
	c.f, c.size = f, 0
	c.rotations++
	if o.Compress && o.MaxFiles > 1 {
		done := make(chan struct{})
		c.compressing = done
		src, ts := name+".1", c.lastTS
		go func() {
			defer close(done)
			c.compressErr = compressDocker(src, ts)
		}()
	}
	return nil
}

// waitCompress waits for a running docker compression and returns its error.
func (c *container) waitCompress() error {
	if c.compressing == nil {
		return nil
	}
	<-c.compressing
	c.compressing = nil
	err := c.compressErr
	c.compressErr = nil
	return err
}

// compressDocker is moby's compressFile: write <src>.gz directly (a reader can
// see it growing), with {"lastTime": ...} in the gzip header's Extra field, and
// remove src only once the .gz is complete; on failure remove the .gz.
func compressDocker(src string, lastTime time.Time) (err error) {
	in, err := os.Open(src)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(src+".gz", os.O_CREATE|os.O_TRUNC|os.O_RDWR, filePerm)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(src + ".gz")
			return
		}
		if rerr := os.Remove(src); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = rerr
		}
	}()
	zw := gzip.NewWriter(out)
	extra, _ := json.Marshal(struct {
		LastTime time.Time `json:"lastTime,omitempty"`
	}{lastTime})
	zw.Header.Extra = extra
	if _, err := io.Copy(zw, in); err != nil {
		return err
	}
	return zw.Close()
}

// appendSplit appends splitLine's pieces to dst.
func appendSplit(dst []piece, format string, n int) []piece {
	off := 0
	switch format {
	case FormatCRIO:
		for n+1-off > conmonBufSize {
			dst = append(dst, piece{off, off + conmonBufSize, true})
			off += conmonBufSize
		}
	case FormatDocker:
		for n-off >= dockerBufSize {
			dst = append(dst, piece{off, off + dockerBufSize, true})
			off += dockerBufSize
		}
	default:
		for n-off > containerdMaxLen {
			dst = append(dst, piece{off, off + containerdMaxLen, true})
			off += containerdMaxLen
		}
	}
	return append(dst, piece{off, n, false})
}
