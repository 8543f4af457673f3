package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// agentConf is what a run chooses of the agent's configuration; the rest is the
// agent's defaults. The YAML fragments are keys indented for their place.
type agentConf struct {
	data, pods string // data_dir, sources.pods_dir
	sources    string // further sources keys, indented 2
	pipeline   string // pipeline keys, indented 2
	checkpoint string // checkpoint.interval ("" = the default)
	sinkName   string
	sink       string // the sink's keys after its name, indented 4
	pprofAddr  string // http.pprof_addr ("" = off)
}

// write writes the configuration file to path.
func (c agentConf) write(path string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "data_dir: %s\nsources:\n  pods_dir: %s\n%s", c.data, c.pods, c.sources)
	if c.pipeline != "" {
		b.WriteString("pipeline:\n" + c.pipeline)
	}
	if c.checkpoint != "" {
		b.WriteString("checkpoint:\n  interval: " + c.checkpoint + "\n")
	}
	fmt.Fprintf(&b, "sinks:\n  - name: %s\n%s", c.sinkName, c.sink)
	if c.pprofAddr != "" {
		b.WriteString("http:\n  pprof_addr: " + c.pprofAddr + "\n")
	}
	b.WriteString("log:\n  level: warn\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// agent is a running `logferry agent` process.
type agent struct {
	cmd      *exec.Cmd
	done     chan error // receives the result of Wait
	httpAddr string     // its /metrics listener
}

// usage is what the kernel accounted to a process that has exited.
type usage struct {
	cpu, user, sys time.Duration
	maxRSS         int64 // bytes (VmHWM)
}

// startAgent starts bin on the configuration file cfg, serving its HTTP API on a
// free port of localhost.
func startAgent(bin, cfg string) (*agent, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "agent", "--config", cfg, "--http-addr", addr)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	a := &agent{cmd: cmd, done: make(chan error, 1), httpAddr: addr}
	go func() { a.done <- cmd.Wait() }()
	return a, nil
}

// pid is the agent's process id.
func (a *agent) pid() int { return a.cmd.Process.Pid }

// stop sends SIGTERM, waits for the agent to exit and returns its resource use:
// CPU from rusage, the peak RSS as it was when SIGTERM was sent.
func (a *agent) stop() (usage, error) {
	peak := peakRSS(a.pid())
	a.cmd.Process.Signal(syscall.SIGTERM)
	err := <-a.done
	a.done <- err // for a later kill
	if err != nil {
		return usage{}, fmt.Errorf("agent: %v", err)
	}
	ru := a.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	user, sys := time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
	return usage{cpu: user + sys, user: user, sys: sys, maxRSS: peak}, nil
}

// kill ends the agent without waiting for a clean shutdown (nothing when it has
// exited already).
func (a *agent) kill() {
	a.cmd.Process.Kill()
	a.done <- <-a.done
}

// waitFor polls cond every interval until it is true. It fails when the agent
// exits first or limit passes.
func (a *agent) waitFor(interval, limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		select {
		case err := <-a.done:
			a.done <- err // for stop or kill
			return fmt.Errorf("agent exited early: %v", err)
		case <-time.After(interval):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("condition not met within %v", limit)
		}
	}
	return nil
}

// metrics scrapes the agent's /metrics.
func (a *agent) metrics() (samples, error) {
	resp, err := http.Get("http://" + a.httpAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return parseMetrics(resp.Body)
}

// freeAddr returns a localhost address with a port that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// samples are the series of a Prometheus text page: "name{labels}" → value.
type samples map[string]float64

// parseMetrics reads the Prometheus text format, ignoring comments.
func parseMetrics(r io.Reader) (samples, error) {
	s := samples{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if line == "" || line[0] == '#' || i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			s[line[:i]] = v
		}
	}
	return s, sc.Err()
}

// sum adds the series of metric name whose labels contain every one of labels
// (each like `reason="budget"`).
func (s samples) sum(name string, labels ...string) float64 {
	var t float64
	for k, v := range s {
		series, rest, _ := strings.Cut(k, "{")
		if series != name || !containsAll(rest, labels) {
			continue
		}
		t += v
	}
	return t
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// rss returns the resident set size of process pid (VmRSS), 0 when it is gone.
func rss(pid int) int64 { return procStatusKB(pid, "VmRSS:") }

// peakRSS returns the peak resident set size of process pid since its exec (VmHWM).
// It stands in for ru_maxrss, which for a child also counts the RSS of the parent
// it was forked from: with kfake in the bench process that would be the bench's.
func peakRSS(pid int) int64 { return procStatusKB(pid, "VmHWM:") }

// procStatusKB returns a "<field> <n> kB" line of /proc/<pid>/status in bytes.
func procStatusKB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte(field)); ok {
			kb, _ := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(v), []byte(" kB"))), 10, 64)
			return kb << 10
		}
	}
	return 0
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
