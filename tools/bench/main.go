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
	fmt.Printf("%-12s %10s %10s %12s %12s %12s\n", "sink", "wall s", "cpu s", "MB/cpu-s", "lines/s", "peak RSS MiB")
	for _, s := range strings.Split(*sinks, ",") {
		res, err := measure(*bin, dir, node, s, input, *workers)
		if err != nil {
			return fmt.Errorf("sink %s: %w", s, err)
		}
		fmt.Printf("%-12s %10.2f %10.2f %12.1f %12.0f %12.1f\n", s, res.wall.Seconds(), res.cpu.Seconds(),
			float64(input)/1e6/res.cpu.Seconds(), float64(m.Totals.Lines)/res.wall.Seconds(), float64(res.maxRSS)/(1<<20))
	}
	if *latPods > 0 {
		return latency(*bin, dir, *latPods)
	}
	return nil
}

type result struct {
	wall, cpu time.Duration
	maxRSS    int64
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
	cmd := exec.Command(bin, "agent", "--config", cfg)
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
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return result{wall: wall, cpu: cpu, maxRSS: ru.Maxrss * 1024}, nil
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
