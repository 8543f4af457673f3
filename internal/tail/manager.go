// Package tail reads log files through rotation, truncation and deletion, decodes
// them, and hands encoded records to the sinks, registering every chunk with its file's
// acknowledgement tracker so that checkpoints only cover what the sinks accepted.
//
// Files are grouped per container (discover.Group). Within a group files are read oldest
// first and one at a time, so a container's lines leave in the order they were written;
// a file is finished when it is read to its end and can grow no more (it is gzipped, it
// was deleted, or a newer file of the container has data). Across groups, reading is
// fair: each ready group reads at most one quantum per turn and then queues again.
package tail

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logferry/logferry/internal/checkpoint"
	"github.com/logferry/logferry/internal/discover"
	"github.com/logferry/logferry/internal/format"
	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/process"
	"github.com/logferry/logferry/internal/record"
)

// Options configures a Manager.
type Options struct {
	MaxLineBytes        int
	MaxMergedBytes      int
	PartialFlushTimeout time.Duration
	PollInterval        time.Duration
	DeletedBudget       int64
	ReadQuantum         int
	Workers             int
	// ReadFromEnd starts files that have no checkpoint at their end, on the agent's first
	// start only (when the store did not exist). Files found later always start at 0.
	ReadFromEnd bool
	Exclude     []string // filepath.Match patterns of paths never read

	Store  *checkpoint.Store
	Budget *pipeline.Budget
	Pool   *pipeline.Pool
	// Metadata, if not nil, returns what the API says about a pod's container and its
	// generation (which changes whenever any of it does); ok is false while the pod is
	// unknown. It is called once per read turn per container, never per line.
	Metadata func(podUID, container string) (v *PodView, generation uint64, ok bool)
	// ProcessStats receives the processors' counters (nil: not counted).
	ProcessStats *process.Stats
	// Send hands a sealed chunk to every sink: it calls Retain once per sink it hands
	// the chunk to, then Done for the sender's own reference. It blocks while sinks are
	// full and returns an error only when ctx is done (the chunk then stays
	// unacknowledged, so its offsets are never committed).
	Send   func(ctx context.Context, c *pipeline.Chunk) error
	Logger *slog.Logger
	Stats  *Stats
	Now    func() time.Time
}

func (o *Options) defaults() {
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = 1 << 20
	}
	if o.MaxMergedBytes <= 0 {
		o.MaxMergedBytes = 1 << 20
	}
	if o.PartialFlushTimeout <= 0 {
		o.PartialFlushTimeout = 5 * time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 250 * time.Millisecond
	}
	if o.ReadQuantum <= 0 {
		o.ReadQuantum = 256 << 10
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Stats == nil {
		o.Stats = &Stats{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Pool == nil {
		o.Pool = pipeline.NewPool(4<<20, o.Budget)
	}
}

// Manager owns every group and file. It implements discover.Handler.
type Manager struct {
	o     Options
	queue *readyQueue
	log   *limitedLogger

	// scanned is closed by the first Sync: reading starts only once every group on
	// disk is known, so that order between groups (docker restarts) holds at start.
	scanned     chan struct{}
	scannedOnce sync.Once

	liveOpts atomic.Pointer[Live]
	beat     atomic.Int64 // unix ns of the poller's last round; see Heartbeat
	epoch    time.Time    // monotonic base of group.lastTurn

	mu        sync.Mutex
	groups    map[string]*group
	instances map[string][]*group // docker instances of one container, see instance.go

	// beforeList, when set (tests only, before the first group arrives), runs just
	// before reconcile lists a group directory: it lets a test change the directory
	// at the worst moment.
	beforeList func(dir string)
}

// group is one container's files, oldest first.
type group struct {
	g      discover.Group
	mu     sync.Mutex // held for a whole read turn and by reconcile
	files  []*file
	gone   bool // the directory disappeared from the last full scan
	queued atomic.Bool
	// The decoder of the container instance being read, shared by its files in order
	// so partial lines continue across rotations; see tagOffset.
	dec        format.Decoder
	decKind    format.Kind
	decRestart int
	nextSerial int64
	links      []carried // older files whose end waits for a carried partial line

	// For docker, the other instances of the same container (see instance.go): the
	// key linking them and this instance's restart count, guarded by Manager.mu.
	inst        string
	instRestart int
	undone      atomic.Int32 // files not yet read to their end
	hasData     atomic.Bool  // some file has data
	again       atomic.Bool
	// lastTurn is when the group's last read turn that read data ended (ns since
	// Manager.epoch, 0 before the first); wakePending is set while a wake-up waits
	// for writeSettle.
	lastTurn    atomic.Int64
	wakePending atomic.Bool
	// inTurn is set while a worker has the group, from before its read until the chunks
	// read are handed to the sinks (which happens after g.mu is released).
	inTurn atomic.Bool

	st groupStats

	// The pod's API metadata rendered into the files' prefixes, and its generation
	// (see refreshMeta).
	kube    *record.Kube
	metaGen uint64
	chain   *process.Chain // nil until the pod is known; wraps dec (see chained)
}

// carried is an older file that finished while its last line was still partial; the
// file's end (slot seq of its tracker) is acknowledged with the chunk that delivers
// the line.
type carried struct {
	f      *file
	seq    uint64
	serial int64
}

// Live are the settings that may change while the manager runs (configuration
// reload). Exclude applies to files found after the change; files already open are
// read to the end of their life.
type Live struct {
	PartialFlushTimeout time.Duration
	DeletedBudget       int64
	Exclude             []string
}

// SetLive replaces the live settings; zero PartialFlushTimeout keeps its default.
func (m *Manager) SetLive(l Live) {
	if l.PartialFlushTimeout <= 0 {
		l.PartialFlushTimeout = 5 * time.Second
	}
	m.liveOpts.Store(&l)
}

func (m *Manager) live() *Live { return m.liveOpts.Load() }

// New returns a manager. Run starts its readers.
func New(o Options) *Manager {
	o.defaults()
	m := &Manager{
		o:         o,
		queue:     newReadyQueue(),
		log:       newLimitedLogger(o.Logger, 10*time.Second),
		groups:    map[string]*group{},
		instances: map[string][]*group{},
		scanned:   make(chan struct{}),
		epoch:     time.Now(),
	}
	m.SetLive(Live{PartialFlushTimeout: o.PartialFlushTimeout, DeletedBudget: o.DeletedBudget, Exclude: o.Exclude})
	return m
}

// Heartbeat returns when the poller last went round (zero before Run): it keeps
// ticking while sinks are full or down, so a stale heartbeat means the readers are
// stuck, not that delivery is slow.
func (m *Manager) Heartbeat() time.Time {
	if ns := m.beat.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Scanned reports whether the first full scan of the log directories finished.
func (m *Manager) Scanned() bool {
	select {
	case <-m.scanned:
		return true
	default:
		return false
	}
}

// Stats returns the manager's counters.
func (m *Manager) Stats() *Stats { return m.o.Stats }

// Run reads until ctx is done, then returns once every reader has stopped. Records
// already handed to the sinks stay there; nothing read but not sent is committed.
func (m *Manager) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := 0; i < m.o.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.worker(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.poller(ctx)
	}()
	<-ctx.Done()
	m.queue.close()
	wg.Wait()
	m.closeAll()
	return nil
}

func (m *Manager) worker(ctx context.Context) {
	select {
	case <-m.scanned:
	case <-ctx.Done():
		return
	}
	w := newWorker(m)
	for {
		g := m.queue.pop()
		if g == nil {
			return
		}
		g.inTurn.Store(true)
		read := g.st.bytesRead.Load()
		busy := w.turn(ctx, g)
		if g.st.bytesRead.Load() != read {
			// Only a turn that read holds the next write back (writeSettle): the
			// first line of a new or quiet file is read at once.
			g.lastTurn.Store(int64(time.Since(m.epoch)))
		}
		g.inTurn.Store(false)
		g.queued.Store(false)
		if ctx.Err() != nil {
			return
		}
		switch {
		case busy: // more than a quantum waits: read on at once
			m.queue.push(g)
		case g.again.Swap(false): // written during the turn
			m.wake(g)
		}
	}
}

// poller wakes idle groups whose files grew, flushes partial lines that waited too long,
// closes acknowledged files and enforces the deleted-file budget.
func (m *Manager) poller(ctx context.Context) {
	t := time.NewTicker(m.o.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.beat.Store(m.o.Now().UnixNano())
		m.mu.Lock()
		groups := make([]*group, 0, len(m.groups))
		for _, g := range m.groups {
			groups = append(groups, g)
		}
		m.mu.Unlock()
		now := m.o.Now()
		var held int64
		open := 0
		for _, g := range groups {
			if !g.mu.TryLock() {
				continue // being read right now
			}
			ready, h, n := m.check(g, now)
			g.updateState()
			empty := len(g.files) == 0 && g.gone
			g.mu.Unlock()
			held += h
			open += n
			if ready {
				m.queue.push(g)
			}
			if empty {
				m.mu.Lock()
				if cur := m.groups[g.g.Key]; cur == g {
					delete(m.groups, g.g.Key)
					m.unregister(g)
				}
				m.mu.Unlock()
			}
		}
		m.o.Stats.DeletedHeld.Store(held)
		m.o.Stats.FilesOpen.Store(int64(open))
		if b := m.live().DeletedBudget; held > b && b > 0 {
			m.enforceBudget(groups, held, b)
		}
	}
}

// startAtEnd reports whether a file without a checkpoint starts at its end: with
// read_from: end, on the agent's first start (no checkpoint store yet), for the files
// found by the first full scan. Files that appear later start at their beginning.
func (m *Manager) startAtEnd() bool {
	if !m.o.ReadFromEnd || m.o.Store.Existed() {
		return false
	}
	select {
	case <-m.scanned:
		return false
	default:
		return true
	}
}

// Sync implements discover.Handler: a full scan finished.
func (m *Manager) Sync(groups []discover.Group) {
	defer m.scannedOnce.Do(func() { close(m.scanned) })
	m.markGone(groups, false)
	if n := m.o.Store.NextGeneration(); n > 0 {
		m.o.Logger.Debug("forgot checkpoints of files that are gone", "entries", n)
	}
}

// SyncPodFiles is Sync for the log files inside pods (discover.PodFile groups), which
// the agent finds from pod metadata rather than by scanning: groups is the complete
// current set; each is reconciled, and those no longer in it are read to their end and
// forgotten like a deleted container's.
func (m *Manager) SyncPodFiles(groups []discover.Group) {
	for _, g := range groups {
		m.Changed(g)
	}
	m.markGone(groups, true)
}

// markGone marks the groups of one kind (pod files or not) missing from present as
// gone: they are forgotten once their files are drained.
func (m *Manager) markGone(present []discover.Group, podFiles bool) {
	keys := make(map[string]bool, len(present))
	for _, g := range present {
		keys[g.Key] = true
	}
	// Lock order is g.mu before m.mu (a reader holding its group asks for siblings):
	// collect under m.mu, mark without it.
	var gone []*group
	m.mu.Lock()
	for k, g := range m.groups {
		if !keys[k] && (g.g.Layout == discover.PodFile) == podFiles {
			gone = append(gone, g)
		}
	}
	m.mu.Unlock()
	for _, g := range gone {
		g.mu.Lock()
		g.gone = true
		g.mu.Unlock()
	}
}

// Changed implements discover.Handler.
func (m *Manager) Changed(dg discover.Group) {
	m.mu.Lock()
	g, ok := m.groups[dg.Key]
	if !ok {
		g = &group{g: dg}
		m.groups[dg.Key] = g
	}
	m.mu.Unlock()
	// The group is linked to its container's other instances before g.mu is released:
	// a worker never reads it unlinked, nor with files whose records lack metadata.
	g.mu.Lock()
	g.gone = false
	if g.g.Source.Pod == "" && dg.Source.Pod != "" {
		// Docker metadata (config.v2.json) arrived after the directory was first seen.
		g.g = dg
		m.adoptMetadata(g)
	}
	m.link(g)
	m.reconcile(g) // reads docker metadata still missing once it has listed the files
	g.updateState()
	g.mu.Unlock()
	m.queue.push(g)
}

// Written implements discover.Handler.
func (m *Manager) Written(key string) {
	m.mu.Lock()
	g := m.groups[key]
	m.mu.Unlock()
	if g != nil {
		m.wake(g)
	}
}

// writeSettle is how long after a group's last read turn a write wakes it again. A
// file written line by line gets a notification per write: reading at each one
// turned a node writing 20 MB/s (83,000 lines/s over 100 files) into tens of
// thousands of read turns a second of a few lines each, every one a pread, an fstat
// and a chunk (51 MB per CPU-second against 660 for the same bytes read in bulk).
// Waiting this long after a turn lets lines accumulate; a group idle for longer is
// read at once, so a quiet container's line still arrives within milliseconds.
const writeSettle = 25 * time.Millisecond

// wake queues g after a write: at once when its last turn ended writeSettle ago or
// more, else (at most one pending wake-up per group) when that much has passed.
func (m *Manager) wake(g *group) {
	last := g.lastTurn.Load()
	wait := time.Duration(last) + writeSettle - time.Since(m.epoch)
	if last == 0 || wait <= 0 {
		m.queue.push(g)
		return
	}
	if g.wakePending.CompareAndSwap(false, true) {
		time.AfterFunc(wait, func() {
			g.wakePending.Store(false)
			m.queue.push(g)
		})
	}
}

func (m *Manager) closeAll() {
	// Not under m.mu: discovery may still be in Changed, which holds g.mu and then
	// takes m.mu.
	m.mu.Lock()
	groups := make([]*group, 0, len(m.groups))
	for _, g := range m.groups {
		groups = append(groups, g)
	}
	m.mu.Unlock()
	for _, g := range groups {
		g.mu.Lock()
		for _, f := range g.files {
			f.close()
		}
		g.mu.Unlock()
	}
}

var _ discover.Handler = (*Manager)(nil)
