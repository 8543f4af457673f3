// Command bench is logferry's end-to-end throughput benchmark (make bench,
// make bench-sinks).
//
// It generates a node with `logferry gen` (1,000,000 CRI lines of ~200 bytes across
// 100 pods by default), then runs the real agent binary over it once per sink and
// measures, from the outside, how long the agent takes to acknowledge every byte (all
// checkpoints at the end of their files), its CPU time (user+sys from rusage) and its
// peak RSS. Figures are printed as a table; nothing is asserted. The network sinks
// send to destinations the bench starts (backends.go: an in-process kfake cluster, a
// VictoriaLogs process), which are checked afterwards to hold every record; their CPU
// is not the agent's.
//
// With -outage it measures something else (outage.go): the agent under a steady
// write rate while its sink is down for a while, then the drain.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/logferry/logferry/internal/gen"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// flags are the command line.
type flags struct {
	bin, sinks, cpuProfile, filler      string
	checkpoint                          string
	pods, size, workers, runs, profSecs int
	lines                               int64
	keep, warm                          bool
	latPods                             int
	outage                              outageFlags
}

// parseFlags reads the command line.
func parseFlags() flags {
	var f flags
	flag.StringVar(&f.bin, "bin", "bin/logferry", "the logferry binary to measure")
	flag.IntVar(&f.pods, "pods", 100, "pods (one container each)")
	flag.Int64Var(&f.lines, "lines", 10000, "lines per container")
	flag.IntVar(&f.size, "line-size", 200, "average message bytes")
	flag.StringVar(&f.filler, "filler", gen.FillerRandom, "message filler: random (nearly incompressible: the worst case for the sinks' compression) or text (log-like, compresses like real logs)")
	flag.StringVar(&f.sinks, "sinks", "file,file-nosync,discard", "comma-separated sinks to measure: file (fsync per batch, the default), file-nosync, discard, "+
		"kafka (an in-process kfake cluster, zstd; kafka-lz4, kafka-snappy, kafka-gzip, kafka-none: other compressions), elasticsearch (a VictoriaLogs process, its bulk API), loki (the same, its Loki push API)")
	flag.IntVar(&f.runs, "runs", 1, "measure each sink this many times")
	flag.StringVar(&f.checkpoint, "checkpoint-interval", "50ms", "the agent's checkpoint.interval: the bench sees the end of a run in the checkpoint file, so this bounds the wall time's resolution; "+
		"the agent's default, 1s, costs it less CPU (a checkpoint write is ~0.4 ms) but adds up to a second to the wall time")
	flag.IntVar(&f.workers, "workers", 0, "agent pipeline.workers (0 = GOMAXPROCS)")
	flag.BoolVar(&f.keep, "keep", false, "keep the generated node")
	flag.IntVar(&f.latPods, "latency-pods", 20, "new pods for the discovery latency measurement (0 skips it)")
	flag.BoolVar(&f.warm, "warm", true, "before each file-sink run, write and delete a scratch file of the output's size so the run does not pay the VM's first-touch cost for page-cache memory (see docs/benchmarks.md)")
	flag.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the agent's first -profile-seconds of each run to this directory (<sink>-<run>.pprof; with -outage: of the drain, outage-drain.pprof); "+
		"the run's CPU then includes the profiler and the idle rest of the profile")
	flag.IntVar(&f.profSecs, "profile-seconds", 10, "length of each -cpuprofile profile")
	f.outage.register()
	flag.Parse()
	return f
}

// run measures what the flags ask: the outage run, or the throughput table (and
// the discovery latency).
func run() error {
	f := parseFlags()
	dir, err := os.MkdirTemp("", "logferry-bench-")
	if err != nil {
		return err
	}
	if !f.keep {
		defer os.RemoveAll(dir)
	}
	if f.outage.duration > 0 {
		return outageRun(f, dir)
	}
	node := filepath.Join(dir, "node")
	t0 := time.Now()
	m, err := gen.Run(context.Background(), gen.Options{
		Out: node, Format: gen.FormatCRI, Namespaces: 10, Pods: f.pods, Containers: 1,
		Lines: f.lines, LineSize: f.size, Seed: 1, Filler: f.filler,
	})
	if err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	input := m.Totals.Bytes
	fmt.Printf("input: %d lines, %.1f MB in %d files (generated in %v)\n\n",
		m.Totals.Lines, float64(input)/1e6, f.pods, time.Since(t0).Round(time.Millisecond))
	fmt.Printf("%-14s %10s %10s %10s %10s %12s %12s %12s\n", "sink", "wall s", "cpu s", "user s", "sys s", "MB/cpu-s", "lines/s", "peak RSS MiB")
	for _, s := range strings.Split(f.sinks, ",") {
		for i := 1; i <= f.runs; i++ {
			if err := throughputRun(f, dir, node, s, i, m.Totals); err != nil {
				return fmt.Errorf("sink %s: %w", s, err)
			}
		}
	}
	if f.latPods > 0 {
		return latency(f.bin, dir, f.latPods)
	}
	return nil
}

// throughputRun measures the agent over the generated node once, to sink s, and
// prints a row of the table.
func throughputRun(f flags, dir, node, s string, i int, in gen.Totals) error {
	// Drop the previous run's output and flush what gen (or that run)
	// left dirty, so earlier phases' write-back is not charged here.
	old, _ := filepath.Glob(filepath.Join(dir, "out-*"))
	for _, o := range old {
		os.RemoveAll(o)
	}
	syscall.Sync()
	if f.warm && strings.HasPrefix(s, "file") {
		if err := warmPageCache(dir, 3*in.Bytes); err != nil {
			return err
		}
	}
	be, err := newBackend(s, dir)
	if err != nil {
		return err
	}
	defer be.close()
	prof := ""
	if f.cpuProfile != "" {
		prof = filepath.Join(f.cpuProfile, fmt.Sprintf("%s-%d.pprof", s, i))
	}
	res, err := measure(f, dir, node, s, be, in.Bytes, prof)
	if err != nil {
		return err
	}
	fmt.Printf("%-14s %10.2f %10.2f %10.2f %10.2f %12.1f %12.0f %12.1f\n", s, res.wall.Seconds(), res.cpu.Seconds(),
		res.user.Seconds(), res.sys.Seconds(),
		float64(in.Bytes)/1e6/res.cpu.Seconds(), float64(in.Lines)/res.wall.Seconds(), float64(res.maxRSS)/(1<<20))
	got, err := be.verify(in.Lines)
	if got != "" {
		fmt.Printf("  (%s)\n", got)
	}
	return err
}

type result struct {
	wall time.Duration
	usage
}

// measure runs the agent over node until every input byte is acknowledged (all
// checkpoints at the end of their files), then stops it. With prof set it takes a
// CPU profile of the run through the agent's pprof listener.
func measure(f flags, dir, node, sinkName string, be backend, input int64, prof string) (result, error) {
	data := filepath.Join(dir, "data-"+sinkName)
	os.RemoveAll(data)
	conf := agentConf{
		data: data, pods: filepath.Join(node, "pods"),
		pipeline: fmt.Sprintf("  workers: %d\n", f.workers), checkpoint: f.checkpoint,
		sinkName: sinkName, sink: be.sinkYAML(),
	}
	var err error
	if prof != "" {
		if conf.pprofAddr, err = freeAddr(); err != nil {
			return result{}, err
		}
	}
	cfg := filepath.Join(dir, "agent-"+sinkName+".yaml")
	if err := conf.write(cfg); err != nil {
		return result{}, err
	}
	start := time.Now()
	a, err := startAgent(f.bin, cfg)
	if err != nil {
		return result{}, err
	}
	profDone := make(chan error, 1)
	if prof != "" {
		go func() { profDone <- cpuProfile(conf.pprofAddr, prof, f.profSecs) }()
	}
	checkpoints := filepath.Join(data, "checkpoints.json")
	if err := a.waitFor(20*time.Millisecond, 10*time.Minute, func() bool { return acked(checkpoints) >= input }); err != nil {
		a.kill()
		return result{}, fmt.Errorf("not drained: %w", err)
	}
	wall := time.Since(start)
	if prof != "" {
		if err := <-profDone; err != nil {
			fmt.Fprintln(os.Stderr, "bench: cpu profile:", err)
		}
	}
	u, err := a.stop()
	return result{wall: wall, usage: u}, err
}

// cpuProfile fetches a CPU profile of secs seconds from the pprof listener addr
// (retrying while the agent starts) and writes it to path.
func cpuProfile(addr, path string, secs int) error {
	var resp *http.Response
	var err error
	for try := 0; try < 50; try++ {
		if resp, err = http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs)); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// warmPageCache writes n bytes to a scratch file in dir and deletes it. On a
// VM whose guest memory is handed back to the host when freed, the first
// write into fresh page-cache memory costs about 15 times the system time of
// a write into memory the guest touched recently (measured with dd: 1.8 s
// against 0.12 s for 646 MB). That cost belongs to the machine, not to the
// agent, and without this step it lands on whichever run happens to come
// first. It prints what the scratch write itself cost, so the effect stays
// visible.
func warmPageCache(dir string, n int64) error {
	path := filepath.Join(dir, "warm.scratch")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	buf := make([]byte, 1<<20)
	for w := int64(0); w < n; w += int64(len(buf)) {
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return err
		}
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Printf("  (page-cache warm-up: %d MB written in %.2f sys-s)\n", n/1e6,
		float64(after.Stime.Nano()-before.Stime.Nano())/1e9)
	return nil
}
