// Package sinktest is the delivery contract every sink must honour, as a test any
// sink's package can run against its real backend (or the closest in-process stand-in:
// kfake for Kafka, an httptest server for Elasticsearch, a pipe for stdout). Only
// _test.go files import it.
//
// # The contract
//
// Records are fed through a real sink.Runner (fast backoff) as a reader would feed
// them: in chunks from a pipeline.Pool (so a sink that keeps chunk Data after Consume
// returns sees it overwritten), sealed to a pipeline.Tracker per simulated file and
// holding bytes of a pipeline.Budget. Whatever the backend goes through:
//
//   - no record is lost: every record sent is held by the backend or, for sinks that
//     have one, dead-lettered;
//   - every copy the backend holds is byte for byte the record sent;
//   - duplicates only within unacknowledged batches: a record the backend holds more
//     than once was in a batch whose Consume failed (or was cut short by a restart);
//   - checkpoints are never ahead of the backend: each time a file's committed offset
//     advances, the backend is queried at once, from the acknowledgement itself,
//     and must already hold every record below it;
//   - records the backend rejects permanently are dead-lettered (never delivered,
//     never retried forever), and only those; the sink's own dead-letter count
//     matches what the dead-letter destination holds;
//   - every chunk is acknowledged exactly once in the end (the trackers commit
//     everything, the budget is released, the runner's record count is exact).
//
// Run executes these subtests, each on a fresh backend:
//
//   - "success": nothing goes wrong;
//   - "transient failures then success": the backend fails a few write attempts with
//     retryable errors (Backend.FailTransient), twice during the run;
//   - "permanent failure of some records": one record in 13 is rejected by the
//     backend on every attempt (Backend.Reject), mixed with transient failures;
//     skipped, with the reason given in Traits.NoRecordRejection, for sinks that
//     have no per-record permanent failure;
//   - "sink down for a while": the backend is unavailable (Backend.SetDown) for
//     about 1.5 s while records keep coming;
//   - "restart with unacknowledged batches": with the backend down and batches in
//     flight, the runner is cancelled and the sink closed (a crash, as far as the
//     checkpoints know); a new sink from Backend.NewSink then gets every record from
//     the committed checkpoints on, as a restarted agent would re-read them.
//
// # Writing a harness
//
// A sink's test implements Harness (and Backend) and calls Run:
//
//	func TestContract(t *testing.T) { sinktest.Run(t, myHarness{}) }
//
// Harness.Start is called once per subtest and returns a fresh, empty Backend;
// resources are released with t.Cleanup. Backend.NewSink builds a sink that writes to
// the backend as it is now; Run calls it once per subtest, twice in the restart
// subtest, and closes every sink it gets. The fault methods act on the backend itself
// (or on the narrowest layer under the sink that can fail in production: the file
// system for the file sink, the pipe for stdout), never on the sink's code.
//
// Contents is called from the runner's goroutine, right after each successful Consume
// and, when a record is still missing then, inside the acknowledgement (the tracker's
// lock is held: it must not feed the sink or wait for Run), as well as at the end of
// each subtest; never concurrently. It must return what the backend durably
// holds right now: every copy of every record (duplicates included; a backend that
// overwrites by id, like Elasticsearch, reports each accepted write) as the record's
// JSON without its newline, and the records it dead-lettered. Records are identified
// by their event.id field; a backend that does not store the record verbatim must
// rebuild the record as sent (compared byte for byte). Lines that are not records
// (the torn fragment a failed write of the stdout sink leaves on a line of its own, by
// design) are counted in Fragments; a harness for which a fragment is a bug returns
// an error instead. None of the Backend methods may call t.Fatal (they run on other
// goroutines); they return errors or report with t.Errorf.
//
// Records are ECS-shaped (see Record), with namespace "contract", so a sink
// configured with a static topic, index or stream, or one templated on
// kubernetes.namespace, works unchanged.
package sinktest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/sink"
)

// Traits describe how a sink may legitimately behave; they relax no other rule.
type Traits struct {
	// NoRecordRejection, when not empty, says why the sink has no per-record
	// permanent failure (no dead-letter path, no error that concerns one record
	// only). The "permanent failure of some records" subtest is skipped with this
	// reason, prefixed by the harness's sink name.
	NoRecordRejection string
	// DownBlocks says that while the backend is down, Consume blocks instead of
	// failing (stdout into a pipe nobody reads). Run then checks that a Consume did
	// block instead of checking that some failed.
	DownBlocks bool
}

// Harness builds backends and sinks for the contract.
type Harness interface {
	// Name names the sink in messages ("file", "kafka", ...).
	Name() string
	// Traits returns the sink's traits.
	Traits() Traits
	// Start returns a fresh, empty backend; it may call t.Fatal.
	Start(t *testing.T) Backend
}

// Backend is one backend instance of a subtest, with its fault injection.
type Backend interface {
	// NewSink returns a new sink writing to the backend in its current state; it may
	// call t.Fatal. Run closes the sinks it gets.
	NewSink(t *testing.T) sink.Sink
	// FailTransient makes the backend fail the next few write attempts (requests,
	// writes, ...) with errors that are worth retrying; the harness chooses how many
	// and of what kinds (whole requests, single records, partial writes). The
	// backend recovers by itself.
	FailTransient()
	// SetDown makes the backend unavailable (true) until SetDown(false).
	SetDown(down bool)
	// Reject makes the backend reject, on every attempt, the records whose event.id
	// reject returns true for, as it rejects a record it will never accept (a
	// mapping error). Only called when Traits.NoRecordRejection is empty.
	Reject(reject func(id string) bool)
	// Contents returns what the backend durably holds now (see the package doc).
	Contents() (Contents, error)
	// DeadLettered returns the number of records the sinks built by NewSink report
	// having dead-lettered (their own statistics), summed over those sinks; 0 for
	// sinks without a dead-letter path.
	DeadLettered() uint64
}

// Contents is what a backend holds.
type Contents struct {
	// Delivered holds every copy of every record the backend holds, each the
	// record's JSON without its newline.
	Delivered [][]byte
	// DeadLettered holds the records the sink dead-lettered, likewise.
	DeadLettered [][]byte
	// Fragments counts the lines that are not records and are allowed to be there.
	Fragments int
}

// Options of the runner driving the sink: batches are kept small so that a subtest
// sees many of them, and retries are quick.
var runnerOptions = sink.RunnerOptions{
	MaxBytes: 16 << 10,
	MaxWait:  20 * time.Millisecond,
	Backoff:  sink.Backoff{Initial: 2 * time.Millisecond, Max: 40 * time.Millisecond, Factor: 2},
}

const (
	files       = 3   // simulated source files, one tracker each
	perFile     = 200 // records per file and subtest
	downFor     = 1500 * time.Millisecond
	subtestTime = 30 * time.Second // a subtest that takes longer has hung
	// budgetBytes exceeds what a subtest sends (about 500 KiB): the feeder never
	// waits, so a backend that is down has batches in flight.
	budgetBytes = 8 << 20
	maxShown    = 10 // messages shown per kind of violation
)

// Run runs the delivery contract on h; see the package doc.
func Run(t *testing.T, h Harness) {
	t.Run("success", func(t *testing.T) {
		w := newWorld(t, h, "ok")
		w.runSimple(func(feed func(n int)) { feed(total()) })
	})
	t.Run("transient failures then success", func(t *testing.T) {
		w := newWorld(t, h, "tr")
		w.runSimple(func(feed func(n int)) {
			w.be.FailTransient()
			feed(total() / 2)
			w.be.FailTransient()
			feed(total() - total()/2)
		})
		if w.failures == 0 {
			t.Errorf("%s: FailTransient made no Consume fail: the fault injection does not work", h.Name())
		}
	})
	t.Run("permanent failure of some records", func(t *testing.T) {
		if why := h.Traits().NoRecordRejection; why != "" {
			t.Skipf("does not apply to the %s sink: %s", h.Name(), why)
		}
		w := newWorld(t, h, "pf")
		w.rejected = func(id string) bool { return w.number(id)%13 == 5 }
		w.be.Reject(w.rejected)
		w.runSimple(func(feed func(n int)) {
			feed(total() / 3)
			w.be.FailTransient()
			feed(total() - total()/3)
		})
	})
	t.Run("sink down for a while", func(t *testing.T) {
		w := newWorld(t, h, "dn")
		w.runSimple(func(feed func(n int)) {
			feed(total() / 3)
			w.waitAcked(t)
			start := time.Now()
			w.be.SetDown(true)
			feed(total() / 3)
			time.Sleep(downFor - time.Since(start))
			w.be.SetDown(false)
			feed(total() - 2*(total()/3))
		})
		if h.Traits().DownBlocks {
			if w.maxConsume < downFor/2 {
				t.Errorf("%s: while the backend was down no Consume blocked (longest %v)", h.Name(), w.maxConsume)
			}
		} else if w.failures == 0 {
			t.Errorf("%s: while the backend was down no Consume failed", h.Name())
		}
	})
	t.Run("restart with unacknowledged batches", func(t *testing.T) {
		w := newWorld(t, h, "rs")
		w.runRestart(h.Traits().DownBlocks)
	})
}

// world is the state of one subtest.
type world struct {
	t      *testing.T
	h      Harness
	be     Backend
	tag    string
	pool   *pipeline.Pool
	rnd    *rand.Rand // chunking only; record contents are deterministic
	budget *pipeline.Budget

	mu         sync.Mutex
	streams    [files]*stream
	sent       map[string][]byte // id -> record (without '\n')
	inFailed   map[string]bool   // in a batch whose Consume failed at least once
	inFlight   map[string]bool   // sent but not acknowledged when a runner was cut short
	held       map[string]bool   // seen in the backend (or its dead letters): backends never lose them
	violations map[string][]string
	calls      int
	failures   int
	maxConsume time.Duration
	rejected   func(id string) bool
}

// stream is one simulated source file: record n has offset n (its safe offset is n+1).
type stream struct {
	f       int
	tracker *pipeline.Tracker
	next    int // next record number to read
	checked int // records below this were verified held at a commit
}

func newWorld(t *testing.T, h Harness, tag string) *world {
	w := &world{
		t: t, h: h, tag: tag,
		pool:       pipeline.NewPool(64<<10, nil),
		rnd:        rand.New(rand.NewPCG(uint64(len(tag)), 7)),
		sent:       map[string][]byte{},
		inFailed:   map[string]bool{},
		inFlight:   map[string]bool{},
		held:       map[string]bool{},
		violations: map[string][]string{},
	}
	for f := range w.streams {
		w.streams[f] = &stream{f: f}
	}
	w.reset()
	w.be = h.Start(t)
	return w
}

// reset starts new trackers at the committed offsets and a new budget, as a restarted
// agent does: reading resumes from the checkpoints.
func (w *world) reset() {
	w.budget = pipeline.NewBudget(budgetBytes)
	for _, s := range w.streams {
		start := 0
		if s.tracker != nil {
			start = int(s.tracker.Committed())
		}
		s.next, s.checked = start, start
		s.tracker = pipeline.NewTracker(int64(start), func(off int64) { w.committed(s, int(off)) })
	}
}

// ID returns the event.id of record n of file f in a subtest tagged tag.
func ID(tag string, f, n int) string { return fmt.Sprintf("%s-f%d-%05d", tag, f, n) }

// Record returns record n of file f: an ECS-shaped JSON document (no newline) whose
// event.id is ID(tag, f, n), the same every time it is asked for. Its size varies from
// about 250 bytes to 20 KiB, and its message holds non-ASCII text and escapes.
func Record(tag string, f, n int) []byte {
	r := rand.New(rand.NewPCG(uint64(f)+1, uint64(n)+1))
	pad := r.IntN(400)
	switch {
	case n%97 == 13:
		pad = 20000 // larger than the runner's batches and a file's rotation size
	case n%7 == 3:
		pad = 1000 + r.IntN(2000)
	}
	msg := fmt.Sprintf("contract %s line %d of file %d: ünïcödé \"quoted\" \\ tab\t %s", tag, n, f,
		strings.Repeat(string(rune('a'+n%26)), pad))
	m, _ := json.Marshal(msg)
	return fmt.Appendf(nil, `{"@timestamp":"2026-11-22T10:%02d:%02d.%09dZ","message":%s,"stream":"stdout",`+
		`"kubernetes":{"namespace":"contract","pod":{"name":"pod-%d","uid":"uid-%d"}},"log":{"offset":%d},"event":{"id":%q}}`,
		n/60%60, n%60, n, m, f, f, n, ID(tag, f, n))
}

// number returns the record number in an id made by ID.
func (w *world) number(id string) int {
	var n int
	if i := strings.LastIndexByte(id, '-'); i >= 0 {
		fmt.Sscanf(id[i+1:], "%d", &n)
	}
	return n
}

// violate records a violation of kind.
func (w *world) violate(kind, format string, args ...any) {
	w.mu.Lock()
	w.violations[kind] = append(w.violations[kind], fmt.Sprintf(format, args...))
	w.mu.Unlock()
}

// committed runs in an acknowledgement, with s's tracker locked: every record of s
// below off must already be in the backend.
func (w *world) committed(s *stream, off int) {
	w.mu.Lock()
	var missing []string
	for n := s.checked; n < off; n++ {
		if id := ID(w.tag, s.f, n); !w.held[id] {
			missing = append(missing, id)
		}
	}
	w.mu.Unlock()
	if len(missing) > 0 {
		c, err := w.be.Contents()
		if err != nil {
			w.violate("contents", "reading the backend at a commit: %v", err)
			return
		}
		w.mu.Lock()
		w.noteHeld(c)
		still := missing[:0]
		for _, id := range missing {
			if !w.held[id] {
				still = append(still, id)
			}
		}
		w.mu.Unlock()
		for _, id := range still {
			w.violate("ahead", "file %d committed offset %d but the backend does not hold %s", s.f, off, id)
		}
	}
	w.mu.Lock()
	s.checked = max(s.checked, off)
	w.mu.Unlock()
}

// noteHeld adds the ids c holds to w.held; w.mu is held.
func (w *world) noteHeld(c Contents) {
	for _, set := range [][][]byte{c.Delivered, c.DeadLettered} {
		for _, r := range set {
			if id, err := eventID(r); err == nil {
				w.held[id] = true
			}
		}
	}
}

// idKey precedes the event.id of a record made by Record.
var idKey = []byte(`"event":{"id":"`)

// eventID returns the event.id of record r.
func eventID(r []byte) (string, error) {
	// Fast path for the records of Record, held as sent: an id without escapes
	// closing the document. Anything else is decoded.
	if i := bytes.LastIndex(r, idKey); i >= 0 {
		rest := r[i+len(idKey):]
		if j := bytes.IndexByte(rest, '"'); j > 0 && string(rest[j:]) == `"}}` && bytes.IndexByte(rest[:j], '\\') < 0 {
			return string(rest[:j]), nil
		}
	}
	var v struct {
		Event struct {
			ID string `json:"id"`
		} `json:"event"`
	}
	if err := json.Unmarshal(r, &v); err != nil {
		return "", err
	}
	if v.Event.ID == "" {
		return "", fmt.Errorf("no event.id")
	}
	return v.Event.ID, nil
}

// observed is the sink under test as the runner sees it: it notes which records were
// in a failed Consume, and how long Consume took.
type observed struct {
	sink.Sink
	w *world
}

func (o *observed) Consume(ctx context.Context, b *pipeline.Batch) error {
	var ids []string
	for _, c := range b.Chunks {
		for line := range strings.SplitSeq(strings.TrimSuffix(string(c.Data), "\n"), "\n") {
			if id, err := eventID([]byte(line)); err == nil {
				ids = append(ids, id)
			}
		}
	}
	t0 := time.Now()
	err := o.Sink.Consume(ctx, b)
	d := time.Since(t0)
	var c Contents
	var cerr error
	if err == nil {
		// What the backend holds once Consume has returned, before the runner
		// acknowledges: the commit checks then rarely need to ask again (they
		// do when a record is missing here).
		c, cerr = o.w.be.Contents()
	}
	o.w.mu.Lock()
	if err == nil && cerr == nil {
		o.w.noteHeld(c)
	}
	o.w.calls++
	o.w.maxConsume = max(o.w.maxConsume, d)
	if err != nil {
		o.w.failures++
		for _, id := range ids {
			o.w.inFailed[id] = true
		}
	}
	o.w.mu.Unlock()
	return err
}

// feeder hands chunks of records to a runner's input, round-robin over the files.
type feeder struct {
	w   *world
	ctx context.Context
	in  chan *pipeline.Chunk
	n   int // records handed on
}

// feed generates n more records (a file stops at perFile records) in chunks of 1
// to 16 records, pacing itself a little so that batches stay small.
func (fd *feeder) feed(n int) {
	w := fd.w
	for n > 0 {
		progressed := false
		for _, s := range w.streams {
			if n == 0 {
				break
			}
			w.mu.Lock()
			if s.next >= perFile {
				w.mu.Unlock()
				continue
			}
			k := min(1+w.rnd.IntN(16), n, perFile-s.next)
			c := w.pool.Get()
			for i := s.next; i < s.next+k; i++ {
				r := Record(w.tag, s.f, i)
				w.sent[ID(w.tag, s.f, i)] = r
				c.Data = append(c.Data, r...)
				c.Data = append(c.Data, '\n')
			}
			c.Records = k
			c.InBytes = int64(len(c.Data))
			s.next += k
			safe := s.next
			w.mu.Unlock()
			if err := w.budget.Acquire(fd.ctx, int64(len(c.Data))); err != nil {
				return
			}
			c.Seal(s.tracker, int64(safe), 0, w.budget, int64(len(c.Data)))
			select {
			case fd.in <- c:
			case <-fd.ctx.Done():
				return
			}
			n -= k
			fd.n += k
			progressed = true
			time.Sleep(200 * time.Microsecond)
		}
		if !progressed {
			return
		}
	}
}

// total returns the number of records of all files (sent or not).
func total() int { return files * perFile }

// startRunner starts a runner over s; done receives Run's result.
func (w *world) startRunner(ctx context.Context, s sink.Sink) (*sink.Runner, chan *pipeline.Chunk, chan error) {
	in := make(chan *pipeline.Chunk, 64)
	o := runnerOptions
	o.Logger = quietLogger()
	r := sink.NewRunner(&observed{Sink: s, w: w}, in, o)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return r, in, done
}

// waitAcked waits until every record handed on so far is committed.
func (w *world) waitAcked(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(subtestTime / 2)
	for {
		all := true
		for _, s := range w.streams {
			w.mu.Lock()
			next := s.next
			w.mu.Unlock()
			if s.tracker.Committed() < int64(next) {
				all = false
			}
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: records handed on were not acknowledged within %v", w.h.Name(), subtestTime/2)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runSimple runs one runner over one sink; scenario feeds every record, injecting
// faults along the way.
func (w *world) runSimple(scenario func(feed func(n int))) {
	t := w.t
	start := time.Now()
	s := w.be.NewSink(t)
	ctx, cancel := context.WithTimeout(context.Background(), subtestTime)
	defer cancel()
	r, in, done := w.startRunner(ctx, s)
	fd := &feeder{w: w, ctx: ctx, in: in}
	scenario(fd.feed)
	fd.feed(total()) // whatever the scenario did not feed
	close(in)
	var runErr error
	select {
	case runErr = <-done:
	case <-ctx.Done():
		runErr = ctx.Err()
	}
	st := r.Stats()
	if runErr != nil {
		cancel()
		<-done
		t.Errorf("%s: Run: %v (last error %q, stats %+v)", w.h.Name(), runErr, st.LastError, st)
	}
	w.closeSink(s, runErr == nil)
	if runErr == nil {
		if st.Dropped != 0 {
			t.Errorf("%s: the runner dropped %d records", w.h.Name(), st.Dropped)
		}
		if st.Records != uint64(fd.n) || st.InFlight != 0 {
			t.Errorf("%s: runner acknowledged %d records (%d in flight), %d were sent", w.h.Name(), st.Records, st.InFlight, fd.n)
		}
		if in := w.budget.InUse(); in != 0 {
			t.Errorf("%s: %d budget bytes never released", w.h.Name(), in)
		}
		for _, s := range w.streams {
			if c, o := s.tracker.Committed(), s.tracker.Outstanding(); c != perFile || o != 0 {
				t.Errorf("%s: file %d committed %d of %d, %d chunks outstanding", w.h.Name(), s.f, c, perFile, o)
			}
		}
	}
	w.verify(start, st)
}

// runRestart: part of the records is delivered; then, with the backend down and
// batches in flight, the runner is cancelled and the sink closed; a new sink gets
// everything from the committed offsets on.
func (w *world) runRestart(downBlocks bool) {
	t := w.t
	start := time.Now()
	s1 := w.be.NewSink(t)
	ctx1, cancel1 := context.WithTimeout(context.Background(), subtestTime)
	defer cancel1()
	_, in1, done1 := w.startRunner(ctx1, s1)
	fd1 := &feeder{w: w, ctx: ctx1, in: in1}
	fd1.feed(total() / 3)
	w.waitAcked(t)
	w.be.SetDown(true)
	fd1.feed(total() / 3)
	time.Sleep(300 * time.Millisecond)
	cancel1() // the crash, as far as the checkpoints are concerned
	if downBlocks {
		w.be.SetDown(false) // a blocked Consume does not watch ctx
	}
	select {
	case <-done1:
	case <-time.After(subtestTime / 2):
		t.Fatalf("%s: Run did not return within %v of its context being cancelled", w.h.Name(), subtestTime/2)
	}
	w.be.SetDown(false)
	w.closeSink(s1, false)
	w.mu.Lock()
	unacked := 0
	for _, s := range w.streams {
		for n := int(s.tracker.Committed()); n < s.next; n++ {
			w.inFlight[ID(w.tag, s.f, n)] = true
			unacked++
		}
	}
	w.mu.Unlock()
	t.Logf("%s: restart with %d records sent and not acknowledged", w.h.Name(), unacked)

	w.reset()
	s2 := w.be.NewSink(t)
	ctx2, cancel2 := context.WithTimeout(context.Background(), subtestTime)
	defer cancel2()
	r2, in2, done2 := w.startRunner(ctx2, s2)
	fd2 := &feeder{w: w, ctx: ctx2, in: in2}
	fd2.feed(total())
	close(in2)
	var runErr error
	select {
	case runErr = <-done2:
	case <-ctx2.Done():
		runErr = ctx2.Err()
	}
	st := r2.Stats()
	if runErr != nil {
		cancel2()
		<-done2
		t.Errorf("%s: Run after the restart: %v (last error %q)", w.h.Name(), runErr, st.LastError)
	}
	w.closeSink(s2, runErr == nil)
	if runErr == nil && (st.Records != uint64(fd2.n) || w.budget.InUse() != 0) {
		t.Errorf("%s: after the restart the runner acknowledged %d of %d records, budget in use %d",
			w.h.Name(), st.Records, fd2.n, w.budget.InUse())
	}
	w.verify(start, st)
}

func (w *world) closeSink(s sink.Sink, mustSucceed bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil && mustSucceed {
		w.t.Errorf("%s: Close: %v", w.h.Name(), err)
	}
}

// verify checks the backend's final contents and reports every violation.
func (w *world) verify(start time.Time, st sink.Stats) {
	t := w.t
	c, err := w.be.Contents()
	if err != nil {
		t.Fatalf("%s: reading the backend: %v", w.h.Name(), err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	delivered := map[string][][]byte{}
	dead := map[string][][]byte{}
	for _, set := range []struct {
		recs [][]byte
		to   map[string][][]byte
		what string
	}{{c.Delivered, delivered, "record"}, {c.DeadLettered, dead, "dead-lettered record"}} {
		for _, r := range set.recs {
			id, err := eventID(r)
			if err != nil {
				w.violations["foreign"] = append(w.violations["foreign"], fmt.Sprintf("the backend holds a %s without an event.id (%v): %.200s", set.what, err, r))
				continue
			}
			if _, ok := w.sent[id]; !ok {
				w.violations["foreign"] = append(w.violations["foreign"], fmt.Sprintf("the backend holds a %s that was never sent: %.200s", set.what, r))
				continue
			}
			set.to[id] = append(set.to[id], r)
		}
	}
	ids := make([]string, 0, len(w.sent))
	for id := range w.sent {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	dups, deadTotal := 0, 0
	for _, id := range ids {
		want := w.sent[id]
		d, x := delivered[id], dead[id]
		deadTotal += len(x)
		if len(d)+len(x) == 0 {
			w.violations["lost"] = append(w.violations["lost"], id)
			continue
		}
		for _, r := range append(append([][]byte(nil), d...), x...) {
			if string(r) != string(want) {
				w.violations["content"] = append(w.violations["content"], fmt.Sprintf("%s: held %.120q..., sent %.120q...", id, r, want))
			}
		}
		if len(d)+len(x) > 1 {
			dups++
			if !w.inFailed[id] && !w.inFlight[id] {
				w.violations["duplicate"] = append(w.violations["duplicate"], fmt.Sprintf("%s held %d times (%d dead-lettered) although every batch holding it was accepted at once", id, len(d)+len(x), len(x)))
			}
		}
		rejected := w.rejected != nil && w.rejected(id)
		switch {
		case rejected && len(d) > 0:
			w.violations["rejected"] = append(w.violations["rejected"], fmt.Sprintf("%s was rejected by the backend and yet is held %d times", id, len(d)))
		case rejected && len(x) == 0:
			w.violations["rejected"] = append(w.violations["rejected"], fmt.Sprintf("%s was rejected by the backend and is not dead-lettered", id))
		case !rejected && len(x) > 0:
			w.violations["rejected"] = append(w.violations["rejected"], fmt.Sprintf("%s was dead-lettered although the backend never rejected it", id))
		}
	}
	for _, s := range w.streams {
		if s.checked != int(s.tracker.Committed()) {
			w.violations["ahead"] = append(w.violations["ahead"], fmt.Sprintf("file %d: commits checked up to %d, committed %d", s.f, s.checked, s.tracker.Committed()))
		}
	}
	if n := w.be.DeadLettered(); n != uint64(deadTotal) {
		w.violations["stats"] = append(w.violations["stats"], fmt.Sprintf("the sink reports %d records dead-lettered, the dead letters hold %d", n, deadTotal))
	}
	t.Logf("%s: %d records sent, %d copies held, %d dead-lettered, %d duplicated, %d fragments; %d Consume calls, %d failed, longest %v; runner %d retries; %v",
		w.h.Name(), len(w.sent), len(c.Delivered), deadTotal, dups, c.Fragments, w.calls, w.failures,
		w.maxConsume.Round(time.Millisecond), st.Retries, time.Since(start).Round(time.Millisecond))
	for _, k := range []struct{ kind, what string }{
		{"lost", "records lost (neither held nor dead-lettered)"},
		{"ahead", "checkpoints ahead of the backend (acknowledged before it held the record)"},
		{"content", "copies differing from the record sent"},
		{"duplicate", "duplicates outside failed or unacknowledged batches"},
		{"rejected", "rejection handling errors"},
		{"foreign", "unexpected records"},
		{"stats", "dead-letter statistics"},
		{"contents", "backend read errors"},
	} {
		v := w.violations[k.kind]
		if len(v) == 0 {
			continue
		}
		shown := v[:min(len(v), maxShown)]
		t.Errorf("%s: %d %s:\n\t%s", w.h.Name(), len(v), k.what, strings.Join(shown, "\n\t"))
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// ReadDeadLetters reads the dead-letter file at path, one JSON line per record (none
// when the file does not exist): record checks each line and returns the record it
// carries. It returns copies of the records.
func ReadDeadLetters(path string, record func(line []byte) ([]byte, error)) ([][]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		r, err := record(sc.Bytes())
		if err != nil {
			return out, err
		}
		if len(r) == 0 {
			return out, fmt.Errorf("dead-letter line without the record: %.200q", sc.Text())
		}
		out = append(out, bytes.Clone(r))
	}
	return out, sc.Err()
}
