// Command bench is logferry's end-to-end throughput benchmark (make bench).
//
// It generates a node with `logferry gen` (1,000,000 CRI lines of ~200 bytes across
// 100 pods by default), then runs the real agent binary over it once per sink and
// measures, from the outside, how long the agent takes to acknowledge every byte (all
// checkpoints at the end of their files), its CPU time (user+sys from rusage) and its
// peak RSS. Figures are printed as a table; nothing is asserted.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
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

func run() error {
	bin := flag.String("bin", "bin/logferry", "the logferry binary to measure")
	pods := flag.Int("pods", 100, "pods (one container each)")
	lines := flag.Int64("lines", 10000, "lines per container")
	size := flag.Int("line-size", 200, "average message bytes")
	sinks := flag.String("sinks", "file,file-nosync,discard", "comma-separated sinks to measure: file (fsync per batch, the default), file-nosync, discard")
	workers := flag.Int("workers", 0, "agent pipeline.workers (0 = GOMAXPROCS)")
	keep := flag.Bool("keep", false, "keep the generated node")
	latPods := flag.Int("latency-pods", 20, "new pods for the discovery latency measurement (0 skips it)")
	warm := flag.Bool("warm", true, "before each file-sink run, write and delete a scratch file of the output's size so the run does not pay the VM's first-touch cost for page-cache memory (see docs/benchmarks.md)")
	flag.Parse()

	dir, err := os.MkdirTemp("", "logferry-bench-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	node := filepath.Join(dir, "node")
	t0 := time.Now()
	m, err := gen.Run(context.Background(), gen.Options{
		Out: node, Format: gen.FormatCRI, Namespaces: 10, Pods: *pods, Containers: 1,
		Lines: *lines, LineSize: *size, Seed: 1,
	})
	if err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	input := m.Totals.Bytes
	fmt.Printf("input: %d lines, %.1f MB in %d files (generated in %v)\n\n",
		m.Totals.Lines, float64(input)/1e6, *pods, time.Since(t0).Round(time.Millisecond))
	fmt.Printf("%-12s %10s %10s %10s %10s %12s %12s %12s\n", "sink", "wall s", "cpu s", "user s", "sys s", "MB/cpu-s", "lines/s", "peak RSS MiB")
	for _, s := range strings.Split(*sinks, ",") {
		// Drop the previous run's output and flush what gen (or that run)
		// left dirty, so earlier phases' write-back is not charged here.
		old, _ := filepath.Glob(filepath.Join(dir, "out-*"))
		for _, o := range old {
			os.RemoveAll(o)
		}
		syscall.Sync()
		if *warm && s != "discard" {
			if err := warmPageCache(dir, 3*input); err != nil {
				return err
			}
		}
		res, err := measure(*bin, dir, node, s, input, *workers)
		if err != nil {
			return fmt.Errorf("sink %s: %w", s, err)
		}
		fmt.Printf("%-12s %10.2f %10.2f %10.2f %10.2f %12.1f %12.0f %12.1f\n", s, res.wall.Seconds(), res.cpu.Seconds(),
			res.user.Seconds(), res.sys.Seconds(),
			float64(input)/1e6/res.cpu.Seconds(), float64(m.Totals.Lines)/res.wall.Seconds(), float64(res.maxRSS)/(1<<20))
	}
	if *latPods > 0 {
		return latency(*bin, dir, *latPods)
	}
	return nil
}

type result struct {
	wall, cpu, user, sys time.Duration
	maxRSS               int64
}

func measure(bin, dir, node, sinkName string, input int64, workers int) (result, error) {
	data := filepath.Join(dir, "data-"+sinkName)
	out := filepath.Join(dir, "out-"+sinkName, "out.json")
	sinkCfg := "    type: discard\n"
	switch sinkName {
	case "file":
		sinkCfg = "    type: file\n    path: " + out + "\n    max_size: 256MiB\n    fsync: true\n"
	case "file-nosync":
		sinkCfg = "    type: file\n    path: " + out + "\n    max_size: 256MiB\n    fsync: false\n"
	}
	cfg := filepath.Join(dir, "agent-"+sinkName+".yaml")
	err := os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
sources:
  pods_dir: %s
pipeline:
  workers: %d
checkpoint:
  interval: 50ms
sinks:
  - name: %s
%slog:
  level: warn
`, data, filepath.Join(node, "pods"), workers, sinkName, sinkCfg)), 0o644)
	if err != nil {
		return result{}, err
	}
	cmd := exec.Command(bin, "agent", "--config", cfg, "--http-addr", "127.0.0.1:0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var wall time.Duration
	for {
		select {
		case err := <-done:
			return result{}, fmt.Errorf("agent exited early: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if acked(filepath.Join(data, "checkpoints.json")) >= input {
			wall = time.Since(start)
			break
		}
		if time.Since(start) > 10*time.Minute {
			cmd.Process.Kill()
			return result{}, fmt.Errorf("not drained after 10 minutes")
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := <-done; err != nil {
		return result{}, fmt.Errorf("agent: %v", err)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	user, sys := time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
	return result{wall: wall, cpu: user + sys, user: user, sys: sys, maxRSS: ru.Maxrss * 1024}, nil
}

// acked sums the acknowledged offsets in a checkpoint file.
func acked(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	var f struct {
		Files []struct {
			Offset int64 `json:"offset"`
		} `json:"files"`
	}
	if json.Unmarshal(b, &f) != nil {
		return 0
	}
	var n int64
	for _, e := range f.Files {
		n += e.Offset
	}
	return n
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
