package tail

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/logferry/logferry/internal/format"
	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/record"
)

// worker reads groups one turn at a time. Its buffers are reused across files, so
// memory does not grow with the number of files.
type worker struct {
	m      *Manager
	buf    []byte // one read; ReadQuantum bytes
	big    []byte // lines longer than buf; allocated on demand, MaxLineBytes+1
	enc    record.Encoder
	chunk  *pipeline.Chunk
	g      *group // the group being read
	f      *file  // the file being read
	now    time.Time
	emitFn func(*format.Entry)

	reserved int64 // budget bytes reserved for this turn and not yet used
	lines    int64 // records in chunk
	// first and last are the log times (unix ns) of chunk's oldest and newest records
	// (the read time for raw lines, which carry none).
	first, last int64
	sealed      []*pipeline.Chunk // chunks of this turn, sent once the group is unlocked
	// chunkPrefix is the prefix of the current chunk's records; mixedPrefix is set
	// once a record used another (a line that began in an older file).
	chunkPrefix *record.Prefix
	mixedPrefix bool
}

func newWorker(m *Manager) *worker {
	w := &worker{m: m, buf: make([]byte, m.o.ReadQuantum)}
	w.emitFn = w.emit
	w.chunk = m.o.Pool.Get()
	return w
}

// emit encodes an entry, attributed to the file and offset where its first piece is.
func (w *worker) emit(e *format.Entry) {
	serial, off := splitOffset(e.Offset)
	src := w.f
	if serial != src.serial {
		for _, o := range w.g.files {
			if o.serial == serial && o.prefix != nil {
				src = o
				break
			}
		}
	}
	e.Offset = off
	ts := w.now.UnixNano()
	if !e.Time.IsZero() {
		ts = e.Time.UnixNano()
	}
	if w.first == 0 || ts < w.first {
		w.first = ts
	}
	if ts > w.last {
		w.last = ts
	}
	w.chunk.Data = w.enc.Append(w.chunk.Data, src.prefix, e, w.now)
	if w.chunk.Records == 0 {
		w.chunkPrefix, w.mixedPrefix = src.prefix, false
	} else if src.prefix != w.chunkPrefix {
		w.mixedPrefix = true
	}
	w.chunk.Records++
	w.lines++
	if w.enc.InvalidUTF8 > 0 {
		w.enc.InvalidUTF8 = 0
		w.m.o.Stats.InvalidUTF8.Add(1)
		w.m.log.Warn("invalid_utf8", "line with invalid UTF-8: each invalid byte replaced by U+FFFD, the record flagged invalid_utf8",
			"path", src.path, "offset", e.Offset)
	}
}

// turn reads one quantum from group g, oldest file first, and reports whether the group
// probably has more to read right away. The chunks it produces are handed to the sinks
// after the group's lock is released, so a full sink queue never blocks discovery or
// status; the group stays owned by this worker until then, so its order is kept.
func (w *worker) turn(ctx context.Context, g *group) (busy bool) {
	busy = w.readTurn(ctx, g)
	for i, c := range w.sealed {
		if err := w.m.o.Send(ctx, c); err != nil {
			busy = false // stopping: the chunk is never fully acknowledged, so never committed
		}
		w.sealed[i] = nil
	}
	if len(w.sealed) > 0 {
		// Let the sinks' runners take the chunks now, while their bytes are still in
		// this CPU's cache, instead of at the end of the time slice, when the reader
		// has written megabytes more: BenchmarkMetadataOverhead measured 15-20% less
		// CPU with it, and the cost of metadata bytes fell from 12-27% to under 10%.
		runtime.Gosched()
	}
	w.sealed = w.sealed[:0]
	return busy
}

func (w *worker) readTurn(ctx context.Context, g *group) (busy bool) {
	o := &w.m.o
	reserve := int64(2 * o.ReadQuantum)
	if err := o.Budget.Acquire(ctx, reserve); err != nil {
		return false
	}
	w.reserved = reserve
	defer func() {
		if w.reserved > 0 {
			o.Budget.Release(w.reserved)
			w.reserved = 0
		}
	}()
	if w.m.olderUnfinished(g) {
		return false // an older instance of this container first
	}
	g.mu.Lock()
	defer func() {
		g.updateState()
		g.mu.Unlock()
	}()
	w.g = g
	w.now = o.Now()
	w.refreshMeta(g)
	quantum := o.ReadQuantum
	for quantum > 0 && w.reserved > 0 {
		f := g.head()
		if f == nil {
			return false
		}
		n, atEOF, err := w.read(ctx, g, f, quantum)
		if err != nil {
			return false
		}
		quantum -= n
		if !atEOF {
			continue
		}
		if !f.finalSeen {
			if w.isFinal(g, f) {
				o.Logger.Debug("file can grow no more; reading to its end", "path", f.path, "offset", f.readOff, "size", f.size, "deleted", f.deleted)
				f.finalSeen = true // read once more: bytes may have landed before the check
				continue
			}
			w.partialTimeout(ctx, f)
			return false
		}
		if err := w.finish(ctx, g, f); err != nil {
			return false
		}
	}
	return true
}

// head returns the oldest file that is not finished.
func (g *group) head() *file {
	for _, f := range g.files {
		if !f.done && f.r != nil {
			return f
		}
	}
	return nil
}

// isFinal reports whether f can grow no more: it is gzipped, it was deleted, or a newer
// file of the same container already has data (the runtime moved on).
func (w *worker) isFinal(g *group, f *file) bool {
	if f.name.Gz || f.deleted {
		return true
	}
	if f.name.Live() && w.m.newerHasData(g) {
		return true // a newer instance of the container (docker restart) has written
	}
	after := false
	for _, o := range g.files {
		if o == f {
			after = true
			continue
		}
		if after && o.size > 0 {
			return true
		}
		if after && o.r != nil && !o.name.Gz {
			if fi, err := statReader(o.r); err == nil && fi.Size() > 0 {
				o.size = fi.Size()
				return true
			}
		}
	}
	return false
}

// read reads up to max bytes of f from its read offset and decodes the complete lines.
// atEOF is true when the file has nothing more to read right now.
func (w *worker) read(ctx context.Context, g *group, f *file, max int) (n int, atEOF bool, err error) {
	o := &w.m.o
	if !f.name.Gz {
		fi, serr := statReader(f.r)
		if serr == nil {
			_, _, nlink := devIno(fi)
			f.deleted = nlink == 0
			f.size = fi.Size()
			// Also while skipping the rest of an over-long line: a file truncated then
			// would otherwise not be read again until it grew past the old offset.
			if f.size < f.readOff {
				w.truncated(g, f)
			}
		}
	}
	if !w.m.identify(g, f, f.finalSeen) {
		return 0, true, nil
	}
	if f.serial == 0 {
		if err := w.bind(ctx, g, f); err != nil {
			return 0, true, err
		}
	}
	if max > len(w.buf) {
		max = len(w.buf)
	}
	buf := w.buf[:max]
	k, rerr := f.r.ReadAt(buf, f.readOff)
	if rerr != nil && !errors.Is(rerr, io.EOF) {
		o.Stats.OpenErrors.Add(1)
		w.m.log.Warn("read_failed", "cannot read log file; will retry", "path", f.path, "offset", f.readOff, "err", rerr)
		return 0, true, nil
	}
	if k == 0 {
		return 0, true, nil
	}
	f.lastActive = w.now
	w.f = f
	data := buf[:k]
	pos := 0
	limit := int(w.reserved)
	w.reserve(f, data, limit)
	for pos < k && len(w.chunk.Data) < limit {
		i := bytes.IndexByte(data[pos:], '\n')
		if i < 0 {
			break
		}
		start := f.readOff + int64(pos)
		if f.skipping {
			w.m.countDropped(w.g, int64(i))
			f.skipping, f.holdOff = false, -1
		} else if i > o.MaxLineBytes {
			// Over the cap but within one read (max_line_bytes below read_quantum): cut
			// as longLine cuts a line that does not fit a read.
			w.m.log.Warn("line_truncated", "line longer than max_line_bytes: its first max_line_bytes are sent flagged truncated, the rest is skipped",
				"path", f.path, "offset", start, "max_line_bytes", o.MaxLineBytes)
			w.m.countDropped(w.g, int64(i-o.MaxLineBytes))
			w.line(f, data[pos:pos+o.MaxLineBytes], start, start+int64(i)+1, true)
		} else {
			w.line(f, data[pos:pos+i], start, start+int64(i)+1, false)
		}
		pos += i + 1
	}
	consumed := pos
	limited := len(w.chunk.Data) >= limit // stopped by this turn's budget, not by the data
	if pos == 0 && (k == max || f.skipping) && !limited {
		// No newline in a full buffer: the current line is longer than one read. While
		// the rest of an over-long line is skipped, what is written of it so far is
		// dropped even when it does not fill a buffer, so that a writer pausing inside
		// the line does not leave its tail to be read again at every poll.
		consumed = w.longLine(f)
	}
	f.readOff += int64(consumed)
	o.Stats.BytesRead.Add(int64(consumed))
	w.g.st.bytesRead.Add(int64(consumed))
	if err := w.flush(ctx, f); err != nil {
		return consumed, true, err
	}
	if limited {
		return consumed, false, nil
	}
	return consumed, k < max || consumed == 0, nil
}

// reserve grows the chunk's buffer once for the records data will make, rather than
// letting appends double it step by step (with pod metadata a record is several times
// its line, and the copies of a growing buffer cost as much as the encoding); the
// buffer comes from the pool when one of that size is kept. The estimate is bounded
// by what the turn may encode (limit) plus one record.
func (w *worker) reserve(f *file, data []byte, limit int) {
	perRecord := recordOverhead
	if f.prefix != nil {
		perRecord += f.prefix.Len()
	}
	lines := bytes.Count(data, newline)
	est := min(len(data)+lines*perRecord, limit+perRecord+len(data)/max(lines, 1))
	w.m.o.Pool.Grow(w.chunk, est)
}

// recordOverhead is about what a record adds besides its message and prefix
// (timestamp, stream, offset, event id, field names).
const recordOverhead = 128

var newline = []byte{'\n'}

// longLine handles a line that does not fit one read buffer: it is decoded whole if it
// ends within MaxLineBytes, else its first MaxLineBytes are emitted as a truncated line
// and the rest is skipped up to the next newline. It returns the bytes consumed.
func (w *worker) longLine(f *file) int {
	o := &w.m.o
	if f.skipping {
		k, _ := f.r.ReadAt(w.buf, f.readOff)
		// This read can see more than the caller's (a whole buffer, and the file may
		// have grown since): drop only up to the newline that ends the skipped line,
		// never the lines after it.
		if i := bytes.IndexByte(w.buf[:k], '\n'); i >= 0 {
			k = i
		}
		w.m.countDropped(w.g, int64(k))
		return k
	}
	if w.big == nil {
		w.big = make([]byte, o.MaxLineBytes+1)
	}
	k, _ := f.r.ReadAt(w.big, f.readOff)
	data := w.big[:k]
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		w.line(f, data[:i], f.readOff, f.readOff+int64(i)+1, false)
		return i + 1
	}
	if k <= o.MaxLineBytes {
		return 0 // an incomplete long line: wait for the rest
	}
	cut := o.MaxLineBytes
	w.m.log.Warn("line_truncated", "line longer than max_line_bytes: its first max_line_bytes are sent flagged truncated, the rest is skipped",
		"path", f.path, "offset", f.readOff, "max_line_bytes", o.MaxLineBytes)
	w.line(f, data[:cut], f.readOff, f.readOff+int64(cut), true)
	f.skipping, f.holdOff = true, f.readOff
	return cut
}

// bind makes f the file the group's decoder reads next. The decoder (and any partial
// line it holds) carries over from the previous file of the same container instance
// and format; otherwise what it holds is flushed and a new one starts.
func (w *worker) bind(ctx context.Context, g *group, f *file) error {
	g.nextSerial++
	f.serial, f.start = g.nextSerial, f.readOff
	if g.dec != nil && g.decKind == f.kind && g.decRestart == f.name.Restart {
		return nil
	}
	if g.dec != nil {
		if _, ok := g.dec.Pending(); ok {
			w.m.o.Logger.Debug("new container instance or format; flushing partial lines", "path", f.path, "kind", f.kind, "was", g.decKind)
			w.m.o.Stats.PartialFlush.Add(1)
		}
		w.f = f
		g.dec.Flush(w.emitFn)
		if err := w.flush(ctx, f); err != nil {
			return err
		}
	}
	g.dec = format.New(f.kind, format.Options{MaxMergedBytes: w.m.o.MaxMergedBytes})
	if g.chain != nil {
		g.dec = &chained{Decoder: g.dec, chain: g.chain, now: w.now}
	}
	g.decKind, g.decRestart = f.kind, f.name.Restart
	return nil
}

func (w *worker) line(f *file, data []byte, off, end int64, truncated bool) {
	if err := w.g.dec.Line(data, tagOffset(f.serial, off), tagOffset(f.serial, end), truncated, w.emitFn); err != nil {
		reason := "malformed"
		var fe *format.Error
		if errors.As(err, &fe) {
			reason = fe.Reason
			fe.Offset = off // the decoder saw the serial-tagged offset (tagOffset)
		}
		w.m.countMalformed(w.g, reason)
		w.m.log.Warn("malformed:"+reason, "malformed line skipped", "path", f.path, "offset", off, "err", err)
	}
}

// flush hands the records decoded so far to the sinks, registering the chunk with the
// file's tracker at the file's safe offset. A chunk without records just advances the
// tracker (a run of malformed lines still moves the checkpoint).
func (w *worker) flush(ctx context.Context, f *file) error {
	o := &w.m.o
	g := w.g
	if d := g.dec.Dropped(); d > 0 {
		w.m.countDropped(g, d)
	}
	c := w.chunk
	safe := f.safeOffset(g.dec)
	// Older files whose carried partial line is no longer pending end with this chunk.
	var done []carried
	if len(g.links) > 0 {
		minSerial := int64(1) << 62
		if p, ok := g.dec.Pending(); ok {
			minSerial, _ = splitOffset(p)
		}
		keep := g.links[:0]
		for _, l := range g.links {
			if l.serial < minSerial {
				done = append(done, l)
			} else {
				keep = append(keep, l)
			}
		}
		g.links = keep
	}
	if c.Records == 0 {
		f.tracker.Advance(safe)
		for _, l := range done {
			l.f.tracker.Done(l.seq)
		}
		return nil
	}
	for _, l := range done {
		c.Link(l.f.tracker, l.seq)
	}
	held := int64(len(c.Data))
	if held > w.reserved {
		if err := o.Budget.Acquire(ctx, held-w.reserved); err != nil {
			c.Data, c.Records = c.Data[:0], 0
			return err
		}
		w.reserved = held
	}
	w.reserved -= held
	c.InBytes = 0
	if !w.mixedPrefix && w.chunkPrefix != nil {
		c.Consts = w.chunkPrefix.Consts()
	}
	w.chunkPrefix, w.mixedPrefix = nil, false
	c.Seal(f.tracker, safe, w.first, o.Budget, held)
	o.Stats.LinesRead.Add(w.lines)
	g.st.linesRead.Add(w.lines)
	if w.last > g.st.lastLine.Load() {
		g.st.lastLine.Store(w.last)
	}
	w.lines, w.first, w.last = 0, 0, 0
	w.chunk = o.Pool.Get()
	w.sealed = append(w.sealed, c)
	return nil
}

// partialTimeout flushes a partial line that has waited PartialFlushTimeout for its
// final fragment.
func (w *worker) partialTimeout(ctx context.Context, f *file) {
	if w.g.dec == nil {
		return
	}
	if w.multilineDue(w.g, f) {
		_ = w.flush(ctx, f)
	}
	off, ok := w.g.dec.Pending()
	if !ok {
		f.pendingSince = time.Time{}
		return
	}
	// The clock restarts whenever the file moved on: a long line written slowly, piece
	// by piece, keeps the same start offset but is not stuck.
	if f.pendingSince.IsZero() || off != f.pendingOff || f.readOff != f.pendingAt {
		f.pendingSince, f.pendingOff, f.pendingAt = w.now, off, f.readOff
		return
	}
	if w.now.Sub(f.pendingSince) < w.m.live().PartialFlushTimeout {
		return
	}
	w.m.o.Logger.Debug("partial line timed out; flushing", "path", f.path, "offset", f.readOff)
	w.f = f
	w.g.dec.Flush(w.emitFn)
	w.m.o.Stats.PartialFlush.Add(1)
	f.pendingSince = time.Time{}
	_ = w.flush(ctx, f)
}

// finish ends a file that can grow no more: an unterminated last line is decoded; a
// partial line is carried into the container's next file if there is one (the file's
// end is then acknowledged with that line), else flushed. The file closes once
// acknowledged.
func (w *worker) finish(ctx context.Context, g *group, f *file) error {
	w.f = f
	// Which file comes next must be known exactly: look at the directory now rather
	// than rely on events that may still be on their way.
	w.m.reconcile(g)
	if g.dec != nil && f.serial != 0 {
		if w.big == nil {
			w.big = make([]byte, w.m.o.MaxLineBytes+1)
		}
		// Only an unterminated last line is left (the caller read to the end), but
		// split on newlines anyway so that no complete line is ever merged into it.
		k, _ := f.r.ReadAt(w.big, f.readOff)
		data := w.big[:k]
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			n := len(data)
			if i >= 0 {
				n = i + 1
			}
			if f.skipping {
				w.m.o.Stats.DroppedBytes.Add(int64(n))
				f.skipping, f.holdOff = false, -1
			} else {
				line := data[:n]
				if i >= 0 {
					line = data[:i]
				}
				cut := len(line)
				if cut > w.m.o.MaxLineBytes {
					cut = w.m.o.MaxLineBytes
				}
				w.line(f, line[:cut], f.readOff, f.readOff+int64(n), cut < len(line))
			}
			f.readOff += int64(n)
			data = data[n:]
		}
		// Partial lines are carried into the next file whichever file they started in:
		// with both streams mid-line, the oldest pending fragment can be in an earlier
		// file (already carried) while the other stream's began in this one.
		carry := false
		if _, ok := g.dec.Pending(); ok {
			carry = g.hasNext(f)
		}
		if !carry {
			if _, ok := g.dec.Pending(); ok {
				w.m.o.Logger.Debug("file ended inside a partial line and no newer file follows; flushing", "path", f.path)
			}
			g.dec.Flush(w.emitFn)
		}
		if err := w.flush(ctx, f); err != nil {
			return err
		}
		if carry {
			g.links = append(g.links, carried{f: f, seq: f.tracker.Add(f.readOff, 0), serial: f.serial})
		}
	}
	f.done = true
	w.m.o.Logger.Debug("file finished", "path", f.path, "offset", f.readOff)
	return nil
}

// hasNext reports whether a newer file of the same container instance follows f.
func (g *group) hasNext(f *file) bool {
	after := false
	for _, o := range g.files {
		if o == f {
			after = true
			continue
		}
		if after && o.r != nil && !o.done && o.name.Restart == f.name.Restart {
			return true
		}
	}
	return false
}

// truncated handles a file that shrank below the read offset (copytruncate, conmon's
// log_size_max): reading restarts at 0 as a new file identity. Lines written between the
// copy and the truncation may be lost by design of copytruncate; the event is counted.
func (w *worker) truncated(g *group, f *file) {
	o := &w.m.o
	o.Stats.Truncations.Add(1)
	g.st.truncations.Add(1)
	w.m.log.Warn("truncated", "file shrank below the read offset; reading again from its start", "path", f.path, "offset", f.readOff, "size", f.size)
	o.Store.Remove(f.key)
	f.readOff, f.skipping, f.holdOff = 0, false, -1
	f.fpKnown, f.finalSeen = false, false
	f.tracker, f.serial = nil, 0
	g.dec = nil
	for _, l := range g.links {
		l.f.tracker.Done(l.seq)
	}
	g.links = nil
	f.pendingSince = time.Time{}
}

func statReader(r reader) (os.FileInfo, error) {
	if f, ok := r.(*os.File); ok {
		return f.Stat()
	}
	return nil, errors.ErrUnsupported
}
