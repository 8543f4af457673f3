package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/logferry/logferry/internal/gen"
)

// criLineOverhead is what a CRI line adds to its message on average: timestamp,
// stream, tag, spaces and newline (the 1,000,000-line node: 240.8 bytes a line for
// 200-byte messages). It turns -rate into gen's lines per second.
const criLineOverhead = 41

// outageFlags configure the outage benchmark.
type outageFlags struct {
	duration, warmup, drainLimit time.Duration
	rate, rotateSize             string
	memLimit, deleted            string
	mode                         string // how the sink is down: 503 or refuse
	sampleEvery, trace           time.Duration
}

func (o *outageFlags) register() {
	flag.DurationVar(&o.duration, "outage", 0, "instead of the throughput table: run the outage benchmark with the sink down this long (e.g. 60s)")
	flag.DurationVar(&o.warmup, "outage-warmup", 10*time.Second, "outage benchmark: how long the sink is up before the outage")
	flag.DurationVar(&o.drainLimit, "drain-limit", 3*time.Minute, "outage benchmark: how long after the outage the backlog may take to drain before the figures are printed anyway")
	flag.StringVar(&o.rate, "rate", "20MB/s", "outage benchmark: node-wide write rate, bytes per second (MB = 10^6)")
	flag.StringVar(&o.rotateSize, "rotate-size", "4MiB", "outage benchmark: the simulated kubelet's containerLogMaxSize (5 files kept, older ones gzipped: the agent holds deleted files open)")
	flag.StringVar(&o.memLimit, "memory-limit", "40MiB", "outage benchmark: the agent's pipeline.memory_limit")
	flag.StringVar(&o.deleted, "deleted-budget", "1GiB", "outage benchmark: the agent's sources.deleted_budget")
	flag.StringVar(&o.mode, "outage-mode", "503", "outage benchmark: how the sink is down: 503 (the cluster answers every bulk request 503: the runner backs off) or refuse (the node is gone: connections are refused, and the runner probes the address)")
	flag.DurationVar(&o.sampleEvery, "sample", 250*time.Millisecond, "outage benchmark: how often the agent's RSS and metrics are sampled")
	flag.DurationVar(&o.trace, "trace", 5*time.Second, "outage benchmark: how often a line of the samples is printed (0: never)")
}

// bulkServer stands in for an Elasticsearch cluster: while down it answers every
// bulk request 503 or (refuse) does not listen at all, otherwise it accepts every
// item.
type bulkServer struct {
	URL      string
	addr     string // host:port, kept across an outage in refuse mode
	refuse   bool
	srv      *http.Server
	down     atomic.Bool
	accepted atomic.Int64 // items answered 201
	refused  atomic.Int64 // requests answered 503
	firstOK  atomic.Int64 // unix ns of the first request accepted after the outage
	upAt     atomic.Int64 // unix ns when the outage ended
}

func newBulkServer(mode string) (*bulkServer, error) {
	if mode != "503" && mode != "refuse" {
		return nil, fmt.Errorf("-outage-mode %q: want 503 or refuse", mode)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &bulkServer{addr: l.Addr().String(), refuse: mode == "refuse"}
	b.URL = "http://" + b.addr
	b.serve(l)
	return b, nil
}

func (b *bulkServer) serve(l net.Listener) {
	b.srv = &http.Server{Handler: b}
	go b.srv.Serve(l)
}

// setDown starts (true) or ends the outage.
func (b *bulkServer) setDown(down bool) error {
	if !b.refuse {
		b.down.Store(down)
		return nil
	}
	if down {
		return b.srv.Close() // the listener and every connection
	}
	l, err := net.Listen("tcp", b.addr)
	if err != nil {
		return fmt.Errorf("bulk server back on %s: %w", b.addr, err)
	}
	b.serve(l)
	return nil
}

// Close stops the server.
func (b *bulkServer) Close() { b.srv.Close() }

func (b *bulkServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if b.down.Load() {
		b.refused.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error":{"type":"unavailable_shards_exception","reason":"bench outage"},"status":503}`)
		return
	}
	n, err := countLines(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	items := n / 2 // an action line and a document per item
	var resp bytes.Buffer
	resp.WriteString(`{"took":1,"errors":false,"items":[`)
	for i := range items {
		if i > 0 {
			resp.WriteByte(',')
		}
		resp.WriteString(`{"index":{"_index":"logs","status":201}}`)
	}
	resp.WriteString("]}")
	w.Write(resp.Bytes())
	b.accepted.Add(items)
	if up := b.upAt.Load(); up != 0 {
		b.firstOK.CompareAndSwap(0, time.Now().UnixNano())
	}
}

// countLines counts the lines of a (possibly gzipped) request body.
func countLines(r *http.Request) (int64, error) {
	body := io.Reader(r.Body)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return 0, err
		}
		body = zr
	}
	var n int64
	buf := make([]byte, 256<<10)
	for {
		k, err := body.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// sample is one observation of the agent.
type sample struct {
	at       time.Duration // since the writing started
	phase    int           // phaseBefore, phaseOutage or phaseAfter
	rss      int64
	lag      float64 // sum of logferry_container_lag_bytes
	held     float64 // sum of logferry_container_deleted_bytes_held
	heldN    float64 // sum of logferry_container_deleted_files_held
	givenUp  float64 // sum of logferry_container_bytes_given_up_total
	scrapeOK bool
}

const (
	phaseBefore = iota
	phaseOutage
	phaseAfter
)

var phaseNames = [...]string{"before", "outage", "after"}

// observe samples a once.
func observe(a *agent, start time.Time, phase int) sample {
	s := sample{at: time.Since(start), phase: phase, rss: rss(a.pid())}
	if m, err := a.metrics(); err == nil {
		s.scrapeOK = true
		s.lag = m.sum("logferry_container_lag_bytes")
		s.held = m.sum("logferry_container_deleted_bytes_held")
		s.heldN = m.sum("logferry_container_deleted_files_held")
		s.givenUp = m.sum("logferry_container_bytes_given_up_total")
	}
	return s
}

func (s sample) String() string {
	return fmt.Sprintf("t=%5.1fs %-6s RSS %5.1f MiB  lag %7.1f MB  deleted files held %3.0f (%6.1f MB)  given up %.0f B",
		s.at.Seconds(), phaseNames[s.phase], mib(s.rss), s.lag/1e6, s.heldN, s.held/1e6, s.givenUp)
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// outageRun is the outage benchmark: gen writes at a steady rate with kubelet-like
// rotation while the agent ships to a bulkServer that goes down for a while and
// comes back. It samples the agent's RSS and metrics throughout and prints the
// peaks, the drain and the loss counters. Nothing is asserted.
func outageRun(f flags, dir string) error {
	o := f.outage
	rate, err := gen.ParseSize(strings.TrimSuffix(o.rate, "/s"))
	if err != nil {
		return fmt.Errorf("-rate: %w", err)
	}
	rotate, err := gen.ParseSize(o.rotateSize)
	if err != nil {
		return fmt.Errorf("-rotate-size: %w", err)
	}
	node := filepath.Join(dir, "node")
	if err := os.MkdirAll(filepath.Join(node, "pods"), 0o755); err != nil {
		return err
	}
	srv, err := newBulkServer(o.mode)
	if err != nil {
		return err
	}
	defer srv.Close()
	conf := agentConf{
		data: filepath.Join(dir, "data"), pods: filepath.Join(node, "pods"),
		sources:  "  deleted_budget: " + o.deleted + "\n",
		pipeline: "  memory_limit: " + o.memLimit + "\n",
		sinkName: "es",
		sink: "    type: elasticsearch\n    elasticsearch:\n      urls: [" + srv.URL + "]\n      index: logs\n" +
			"      dead_letter_path: " + filepath.Join(dir, "dead-letter.jsonl") + "\n",
	}
	if f.cpuProfile != "" {
		if conf.pprofAddr, err = freeAddr(); err != nil {
			return err
		}
	}
	cfg := filepath.Join(dir, "agent.yaml")
	if err := conf.write(cfg); err != nil {
		return err
	}
	a, err := startAgent(f.bin, cfg)
	if err != nil {
		return err
	}
	defer a.kill()
	time.Sleep(2 * time.Second) // started, first scan of an empty node done
	baseline := rss(a.pid())

	lineRate := float64(rate) / float64(f.size+criLineOverhead)
	fmt.Printf("outage: %d pods writing %.1f MB/s (%.0f lines/s of ~%d bytes), rotated at %s keeping 5 files; sink up %v, down %v (%s), then up\n",
		f.pods, float64(rate)/1e6, lineRate, f.size+criLineOverhead, o.rotateSize, o.warmup, o.duration, map[bool]string{true: "connections refused", false: "every request answered 503"}[srv.refuse])
	fmt.Printf("agent: pipeline.memory_limit %s, sources.deleted_budget %s; idle RSS (empty node) %.1f MiB\n\n", o.memLimit, o.deleted, mib(baseline))
	ctx, stopGen := context.WithCancel(context.Background())
	defer stopGen()
	genDone := make(chan genResult, 1)
	go func() {
		m, err := gen.Run(ctx, gen.Options{
			Out: node, Format: gen.FormatCRI, Namespaces: 10, Pods: f.pods, Containers: 1,
			Rate: lineRate, LineSize: f.size, RotateSize: rotate, Seed: 1, Filler: f.filler,
		})
		genDone <- genResult{m, err}
	}()
	tl := &timeline{a: a, srv: srv, start: time.Now(), every: o.sampleEvery, trace: o.trace}
	if f.cpuProfile != "" {
		// A profile of the drain: from the moment the sink returns.
		tl.onUp = func() {
			go func() {
				path := filepath.Join(f.cpuProfile, "outage-drain.pprof")
				if err := cpuProfile(conf.pprofAddr, path, f.profSecs); err != nil {
					fmt.Fprintln(os.Stderr, "bench: cpu profile:", err)
				}
			}()
		}
	}
	tl.run(o, rate)
	stopGen()
	g := <-genDone
	if g.err != nil {
		return fmt.Errorf("gen: %w", g.err)
	}
	final, err := tl.settle(g.m.Totals.Bytes)
	if err != nil {
		fmt.Println("bench:", err)
	}
	u, err := a.stop()
	if err != nil {
		return err
	}
	tl.report(o, g.m, final, u, baseline)
	return nil
}

type genResult struct {
	m   *gen.Manifest
	err error
}

// timeline drives the sink's outage and keeps the samples.
type timeline struct {
	a            *agent
	srv          *bulkServer
	start        time.Time
	every, trace time.Duration
	samples      []sample
	downAt, upAt time.Duration
	caughtUp     time.Duration // since start; 0 if never
	lastTrace    time.Duration
	onUp         func() // if not nil, called when the sink returns
}

// sampleUntil samples every tl.every until d since start, or until stop is true.
func (tl *timeline) sampleUntil(d time.Duration, phase int, stop func(sample) bool) sample {
	var s sample
	for time.Since(tl.start) < d {
		time.Sleep(tl.every)
		s = observe(tl.a, tl.start, phase)
		tl.samples = append(tl.samples, s)
		if tl.trace > 0 && s.at-tl.lastTrace >= tl.trace {
			fmt.Println(" ", s)
			tl.lastTrace = s.at
		}
		if stop != nil && stop(s) {
			break
		}
	}
	return s
}

// run goes through the phases: up for the warm-up, down for the outage, then up
// until the backlog is drained (the lag is below one second of input) or
// o.drainLimit passes (caughtUp stays 0).
func (tl *timeline) run(o outageFlags, rate int64) {
	tl.sampleUntil(o.warmup, phaseBefore, nil)
	if err := tl.srv.setDown(true); err != nil {
		fmt.Println("bench:", err)
	}
	tl.downAt = time.Since(tl.start)
	tl.sampleUntil(tl.downAt+o.duration, phaseOutage, nil)
	tl.srv.upAt.Store(time.Now().UnixNano())
	if err := tl.srv.setDown(false); err != nil {
		fmt.Println("bench:", err)
	}
	tl.upAt = time.Since(tl.start)
	if tl.onUp != nil {
		tl.onUp()
	}
	drained := func(s sample) bool { return s.scrapeOK && tl.srv.firstOK.Load() != 0 && s.lag < float64(rate) }
	if last := tl.sampleUntil(tl.upAt+o.drainLimit, phaseAfter, drained); drained(last) {
		tl.caughtUp = last.at
	}
}

// settle waits, once writing stopped, until the agent read every byte written and
// has nothing left unacknowledged, and returns its last metrics. It does not wait
// when the backlog did not drain in time.
func (tl *timeline) settle(written int64) (samples, error) {
	if tl.caughtUp == 0 {
		return tl.a.metrics()
	}
	var m samples
	err := tl.a.waitFor(250*time.Millisecond, 2*time.Minute, func() bool {
		var err error
		m, err = tl.a.metrics()
		return err == nil && m.sum("logferry_read_bytes_total") >= float64(written) && m.sum("logferry_container_lag_bytes") == 0
	})
	if err != nil {
		return m, fmt.Errorf("after writing stopped: %w", err)
	}
	return m, nil
}

// peak returns the largest value of f over the samples of phase (-1: all).
func (tl *timeline) peak(phase int, f func(sample) float64) float64 {
	var p float64
	for _, s := range tl.samples {
		if phase < 0 || s.phase == phase {
			p = max(p, f(s))
		}
	}
	return p
}

// at returns the last sample taken at or before d.
func (tl *timeline) at(d time.Duration) sample {
	var last sample
	for _, s := range tl.samples {
		if s.at > d {
			break
		}
		last = s
	}
	return last
}

// report prints the figures of the run.
func (tl *timeline) report(o outageFlags, m *gen.Manifest, final samples, u usage, baseline int64) {
	rssOf := func(s sample) float64 { return float64(s.rss) }
	span := m.Finished.Sub(m.Started)
	fmt.Printf("\nwritten: %d lines, %.1f MB in %v (%.1f MB/s), %d rotations\n", m.Totals.Lines, float64(m.Totals.Bytes)/1e6,
		span.Round(time.Second), float64(m.Totals.Bytes)/1e6/span.Seconds(), m.Totals.Rotations)
	fmt.Printf("peak RSS (VmRSS every %v): before the outage %.1f MiB, during it %.1f MiB, after it %.1f MiB; VmHWM %.1f MiB\n",
		o.sampleEvery, tl.peak(phaseBefore, rssOf)/(1<<20), tl.peak(phaseOutage, rssOf)/(1<<20), tl.peak(phaseAfter, rssOf)/(1<<20), mib(u.maxRSS))
	fmt.Printf("  against pipeline.memory_limit %s plus the idle agent's %.1f MiB\n", o.memLimit, mib(baseline))
	back := tl.at(tl.upAt)
	fmt.Printf("backlog when the sink returned: %.1f MB unacknowledged; peak deleted files held %.0f (%.1f MB)\n",
		back.lag/1e6, tl.peak(-1, func(s sample) float64 { return s.heldN }), tl.peak(-1, func(s sample) float64 { return s.held })/1e6)
	firstOK := time.Duration(tl.srv.firstOK.Load() - tl.srv.upAt.Load())
	if tl.caughtUp == 0 {
		last := tl.samples[len(tl.samples)-1]
		fmt.Printf("drain: first bulk request accepted %.1f s after the sink returned; NOT drained within %v (lag %.1f MB): the agent ships slower than gen writes on this machine\n",
			firstOK.Seconds(), o.drainLimit, last.lag/1e6)
	} else {
		drain := tl.caughtUp - tl.upAt
		fmt.Printf("drain: first bulk request accepted %.1f s after the sink returned (the runner's backoff or, when connections were refused, its probe); backlog down to under 1 s of input %.1f s after it (%.1f s after that first request)\n",
			firstOK.Seconds(), drain.Seconds(), (drain - firstOK).Seconds())
	}
	fmt.Printf("given up: node-wide bytes %.0f (budget %.0f, line_cap %.0f), lines %.0f; per-container bytes, highest sum seen %.0f\n",
		final.sum("logferry_bytes_given_up_total"), final.sum("logferry_bytes_given_up_total", `reason="budget"`),
		final.sum("logferry_bytes_given_up_total", `reason="line_cap"`), final.sum("logferry_lines_given_up_total"),
		tl.peak(-1, func(s sample) float64 { return s.givenUp }))
	fmt.Printf("delivered: %d items accepted for %d lines written (at least once: more means duplicates); %d requests refused during the outage\n",
		tl.srv.accepted.Load(), m.Totals.Lines, tl.srv.refused.Load())
	fmt.Printf("agent CPU: %.2f s (user %.2f, sys %.2f) over the whole run\n", u.cpu.Seconds(), u.user.Seconds(), u.sys.Seconds())
}
