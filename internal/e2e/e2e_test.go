package e2e

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/gen"
	"github.com/logferry/logferry/internal/verify"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "logferry-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "logferry")
	build := exec.Command("go", "build", "-o", binary, "github.com/logferry/logferry/cmd/logferry")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building logferry:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// scenario is one simulated node.
type scenario struct {
	name   string
	format string   // gen --format
	extra  []string // more gen flags
	layout string   // "pods" or "docker"
	kills  int      // SIGKILLs during the run
}

func TestKillLoopLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end kill loop: skipped with -short")
	}
	scenarios := []scenario{
		{name: "containerd", format: "cri", layout: "pods", kills: 5},
		{name: "crio", format: "crio", extra: []string{"--tz-offset", "+08:00"}, layout: "pods", kills: 5},
		{name: "docker", format: "docker", extra: []string{"--compress"}, layout: "docker"},
		{name: "docker-kill", format: "docker", layout: "docker", kills: 5},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { runKillLoop(t, sc) })
	}
}

var agentLogs strings.Builder

func runKillLoop(t *testing.T, sc scenario) {
	logLevel := "warn"
	if os.Getenv("LOGFERRY_E2E_KEEP") != "" {
		logLevel = "debug"
	}
	root := t.TempDir()
	if keep := os.Getenv("LOGFERRY_E2E_KEEP"); keep != "" {
		// Debugging: keep the node, the checkpoints and the output.
		root = filepath.Join(keep, sc.name)
		os.RemoveAll(root)
		os.MkdirAll(root, 0o755)
	}
	node := filepath.Join(root, "node")
	data := filepath.Join(root, "data")
	outDir := filepath.Join(root, "out")
	seed := time.Now().UnixNano()
	r := rand.New(rand.NewPCG(uint64(seed), 7))
	t.Logf("seed %d", seed)

	genArgs := append([]string{"gen", "--out", node, "--format", sc.format,
		"--namespaces", "2", "--pods", "6", "--containers", "2",
		"--lines", "2500", "--rate", "3000", "--line-size", "200",
		"--long-every", "97", "--long-size", "40000",
		"--rotate-size", "48KiB", "--max-files", "8", "--rotate-interval", "50ms",
		"--restart-every", "1200", "--malformed-every", "400",
		"--seed", strconv.FormatInt(seed%1000, 10)}, sc.extra...)
	if sc.format != "docker" {
		genArgs = append(genArgs, "--late-writes", "2")
	}
	genCmd := exec.Command(binary, genArgs...)
	genLog := &strings.Builder{}
	genCmd.Stdout, genCmd.Stderr = genLog, genLog
	if err := genCmd.Start(); err != nil {
		t.Fatal(err)
	}
	genDone := make(chan error, 1)
	go func() { genDone <- genCmd.Wait() }()

	cfg := filepath.Join(root, "agent.yaml")
	src := fmt.Sprintf("  pods_dir: %s\n", filepath.Join(node, "pods"))
	if sc.layout == "docker" {
		src = fmt.Sprintf("  pods_dir: \"\"\n  docker_dir: %s\n", filepath.Join(node, "docker"))
	}
	writeFile(t, cfg, "data_dir: "+data+"\nsources:\n"+src+
		"  poll_interval: 50ms\n  rescan_interval: 1s\n"+
		"checkpoint:\n  interval: 100ms\n"+
		"sinks:\n  - name: out\n    type: file\n    path: "+filepath.Join(outDir, "out.json")+"\n    max_size: 4MiB\n    max_files: 1000\n"+
		"shutdown:\n  deadline: 20s\nlog:\n  level: "+logLevel+"\n")

	kills := 0
	defer func() {
		if os.Getenv("LOGFERRY_E2E_KEEP") != "" {
			os.WriteFile(filepath.Join(root, "agent.log"), []byte(agentLogs.String()), 0o644)
		}
	}()
	agent := startAgent(t, cfg, root)
	genFinished := false
	for !genFinished {
		select {
		case err := <-genDone:
			if err != nil {
				t.Fatalf("gen failed: %v\n%s", err, genLog)
			}
			genFinished = true
		case <-time.After(time.Duration(400+r.IntN(1200)) * time.Millisecond):
			if kills < sc.kills {
				agent.kill(t)
				kills++
				time.Sleep(time.Duration(r.IntN(400)) * time.Millisecond)
				agent = startAgent(t, cfg, root)
			}
		}
	}
	m, err := gen.ReadManifest(filepath.Join(node, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Wait for the agent to catch up, then stop it gracefully.
	var rep *verify.Report
	deadline := time.Now().Add(90 * time.Second)
	for {
		rep = check(t, m, outDir)
		if rep.Missing == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if code := agent.term(t, 30*time.Second); code != 0 {
		t.Errorf("agent exited %d after SIGTERM, want 0\n%s", code, agent.log)
	}
	rep = check(t, m, outDir)
	t.Logf("%d kills; %s", kills, rep.String())
	if !rep.OK() || rep.Truncated != 0 || rep.Partial != 0 || rep.Expected == 0 {
		t.Fatalf("delivery failed (kills %d):\n%s\nagent log:\n%s", kills, rep.String(), tailString(agent.log.String(), 4000))
	}
	if kills < sc.kills {
		t.Fatalf("only %d of %d kills happened before gen finished", kills, sc.kills)
	}
	if m.Totals.Rotations == 0 || m.Totals.Restarts == 0 || m.Totals.LongLines == 0 {
		t.Fatalf("the simulation did not exercise rotation/restarts/long lines: %+v", m.Totals)
	}
}

type agentProc struct {
	cmd  *exec.Cmd
	log  *strings.Builder
	done chan error
}

func startAgent(t *testing.T, cfg, root string) *agentProc {
	t.Helper()
	p := &agentProc{log: &strings.Builder{}, done: make(chan error, 1)}
	p.cmd = exec.Command(binary, "agent", "--config", cfg, "--http-addr", "127.0.0.1:0")
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	return p
}

func (p *agentProc) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	agentLogs.WriteString(p.log.String())
	agentLogs.WriteString("---- SIGKILL ----\n")
}

func (p *agentProc) term(t *testing.T, wait time.Duration) int {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(wait):
		p.kill(t)
		t.Fatalf("agent did not exit within %v of SIGTERM", wait)
	}
	return p.cmd.ProcessState.ExitCode()
}

// check runs the checker over every output file, oldest first.
func check(t *testing.T, m *gen.Manifest, outDir string) *verify.Report {
	t.Helper()
	files := outputFiles(t, outDir)
	var readers []io.Reader
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		readers = append(readers, fh)
	}
	rep, err := verify.Check(m, readers...)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// outputFiles lists the file sink's output in delivery order: out.json.N ... .1, out.json.
func outputFiles(t *testing.T, dir string) []string {
	matches, _ := filepath.Glob(filepath.Join(dir, "out.json.*"))
	sort.Slice(matches, func(i, j int) bool { return suffixNum(matches[i]) > suffixNum(matches[j]) })
	if _, err := os.Stat(filepath.Join(dir, "out.json")); err == nil {
		matches = append(matches, filepath.Join(dir, "out.json"))
	}
	return matches
}

func suffixNum(p string) int {
	n, _ := strconv.Atoi(p[strings.LastIndex(p, ".")+1:])
	return n
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func tailString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
