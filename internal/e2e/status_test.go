package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/logferry/logferry/internal/status"
)

// statusClear is what `logferry status --watch` writes before each frame on a terminal.
const statusClear = "\x1b[H\x1b[2J"

// TestStatusWatchTerminal runs `logferry status --watch` in a pseudo-terminal against a
// live agent collecting from a node `logferry gen` keeps writing to: the screen is
// redrawn (cleared and homed) again and again, shows the header, the sink and the
// generated containers' files sorted by lag, and Ctrl-C (SIGINT) ends it with exit 0.
// It also runs `logferry status` once without a terminal, and against a closed port.
func TestStatusWatchTerminal(t *testing.T) {
	node := startStatusNode(t)

	t.Run("watch in a terminal", func(t *testing.T) {
		cmd := exec.Command(binary, "status", "--watch", "--addr", node.addr, "--interval", "200ms")
		cmd.Env = append(os.Environ(), "TERM=xterm")
		ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 160})
		if err != nil {
			t.Fatalf("starting logferry status in a pty: %v", err)
		}
		defer ptmx.Close()
		out := &syncBuffer{}
		copied := make(chan struct{})
		go func() {
			defer close(copied)
			io.Copy(out, ptmx) // ends with EIO once the child has exited
		}()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()

		// Read for two seconds at least, until there are a few complete frames with file
		// rows of the node.
		start := time.Now()
		deadline := start.Add(20 * time.Second)
		var frames []string
		for {
			frames = statusFrames(out.String())
			if time.Since(start) >= 2*time.Second && len(frames) >= 3 && statusNamesContainer(frames[len(frames)-1], node.containers) {
				break
			}
			select {
			case err := <-exited:
				t.Fatalf("logferry status --watch exited early (%v):\n%q", err, out.String())
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("after 20s, %d complete frames and none naming a generated container (%v); output:\n%s",
					len(frames), node.containers, tailString(out.String(), 6000))
			}
		}

		lagged := 0
		if n := strings.Count(out.String(), statusClear); n < 2 {
			t.Errorf("the screen was cleared %d times, want at least 2", n)
		}
		for i, f := range frames {
			for _, want := range []string{"node ", "ready:", "buffer:", "checkpoint:", "NAME", "NAMESPACE", node.sink} {
				if !strings.Contains(f, want) {
					t.Errorf("frame %d lacks %q:\n%s", i, want, f)
				}
			}
			if strings.Contains(f, "\x1b") {
				t.Errorf("frame %d has escape codes besides the clear-screen: %q", i, f)
			}
			lines := strings.Split(strings.TrimSuffix(f, "\n"), "\n")
			if len(lines) >= 40 {
				t.Errorf("frame %d has %d lines; the window has 40", i, len(lines))
			}
			for _, l := range lines {
				if n := len([]rune(l)); n > 160 {
					t.Errorf("frame %d: a line of %d runes is wider than the window (160): %q", i, n, l)
				}
			}
			rows := statusFileRows(f)
			if len(rows) == 0 {
				t.Errorf("frame %d has no file rows:\n%s", i, f)
			}
			statusCheckLagOrder(t, i, rows, f)
			for _, r := range rows {
				if fs := strings.Fields(r); len(fs) == 9 && fs[7] != "0B" {
					lagged++
				}
			}
		}
		t.Logf("%d frames in %v, %d rows with a lag", len(frames), time.Since(start).Round(time.Millisecond), lagged)

		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("logferry status --watch after SIGINT: %v, want exit 0; output:\n%s", err, tailString(out.String(), 3000))
			}
		case <-time.After(3 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Fatalf("logferry status --watch did not exit within 3s of SIGINT")
		}
		ptmx.Close()
		<-copied
	})

	t.Run("once without a terminal", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(binary, "status", "--addr", node.addr)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("logferry status --addr %s: %v\n%s%s", node.addr, err, stdout.String(), stderr.String())
		}
		out := stdout.String()
		if strings.Contains(out, "\x1b") {
			t.Errorf("output to a pipe has escape codes: %q", out)
		}
		for _, want := range []string{"node ", "ready:", "NAMESPACE", "POD", "CONTAINER", "LAG", node.sink} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if !statusNamesContainer(out, node.containers) {
			t.Errorf("no file row names a generated container (%v):\n%s", node.containers, out)
		}
		statusCheckLagOrder(t, 0, statusFileRows(out), out)
	})

	t.Run("nothing listening", func(t *testing.T) {
		addr := freeAddr(t)
		cmd := exec.Command(binary, "status", "--addr", addr)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 0 {
			t.Fatalf("logferry status against a closed port: %v, want a non-zero exit\n%s", err, out)
		}
		for _, want := range []string{addr, "--addr"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("the error does not name %q:\n%s", want, out)
			}
		}
	})
}

// statusNode is a running `logferry gen` and agent.
type statusNode struct {
	addr       string   // the agent's --http-addr
	sink       string   // the name of the agent's sink
	containers []string // "namespace pod container" of every generated container
}

// startStatusNode starts gen writing a small node, then an agent collecting it with an
// HTTP server on a free port, and waits until the agent is ready. Both are stopped
// when the test ends.
func startStatusNode(t *testing.T) *statusNode {
	t.Helper()
	root := t.TempDir()
	nodeDir := filepath.Join(root, "node")
	podsDir := filepath.Join(nodeDir, "pods")

	gen := startDaemon(t, "gen", binary, "gen", "--out", nodeDir, "--format", "cri",
		"--namespaces", "2", "--pods", "3", "--containers", "2",
		"--lines", "0", "--duration", "2m", "--rate", "300", "--line-size", "150", "--seed", "7")
	t.Cleanup(func() { gen.stop(t, syscall.SIGINT) }) // runs before startDaemon's SIGTERM

	// The generated containers, from the kubelet layout pods/<ns>_<pod>_<uid>/<container>/.
	var containers []string
	deadline := time.Now().Add(15 * time.Second)
	for len(containers) < 6 {
		containers = containers[:0]
		pods, _ := os.ReadDir(podsDir)
		for _, p := range pods {
			parts := strings.SplitN(p.Name(), "_", 3)
			if len(parts) != 3 {
				continue
			}
			cs, _ := os.ReadDir(filepath.Join(podsDir, p.Name()))
			for _, c := range cs {
				containers = append(containers, parts[0]+" "+parts[1]+" "+c.Name())
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gen made %d container directories in 15s, want 6:\n%s", len(containers), gen.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	addr := freeAddr(t)
	agent := startDaemon(t, "agent", binary, "agent", "--pods-dir", podsDir, "--data-dir", filepath.Join(root, "data"),
		"--sink", "file:"+filepath.Join(root, "out", "out.json"), "--http-addr", addr)
	t.Cleanup(func() { agent.stop(t, syscall.SIGTERM) })

	// Wait until the agent is ready.
	client := &http.Client{Timeout: 2 * time.Second}
	deadline = time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-agent.done:
			t.Fatalf("the agent exited before it was ready:\n%s", tailString(agent.log.String(), 4000))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /readyz on %s: not 200 within 30s (last: %v):\n%s", addr, err, tailString(agent.log.String(), 4000))
		}
	}

	// The sink's name, from the document itself.
	resp, err := client.Get("http://" + addr + status.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s status.Status
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatalf("GET %s: decoding: %v", status.Path, err)
	}
	if len(s.Sinks) != 1 || s.Sinks[0].Name == "" {
		t.Fatalf("the status document has sinks %+v, want one with a name", s.Sinks)
	}
	return &statusNode{addr: addr, sink: s.Sinks[0].Name, containers: containers}
}

// statusFrames splits a terminal's output into the complete frames it shows (the text
// between two clear-screens, the terminal's "\r\n" made "\n").
func statusFrames(out string) []string {
	parts := strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), statusClear)
	if len(parts) < 3 {
		return nil
	}
	return parts[1 : len(parts)-1]
}

// statusFileRows returns the rows of the file table in one frame.
func statusFileRows(frame string) []string {
	var rows []string
	in := false
	for _, l := range strings.Split(frame, "\n") {
		switch {
		case strings.HasPrefix(l, "NAMESPACE"):
			in = true
		case !in:
		case l == "" || strings.HasPrefix(l, "… "):
			in = false
		default:
			rows = append(rows, l)
		}
	}
	return rows
}

// statusNamesContainer says whether a file row of frame starts with the namespace, pod
// and container of one of containers.
func statusNamesContainer(frame string, containers []string) bool {
	for _, r := range statusFileRows(frame) {
		f := strings.Fields(r)
		if len(f) < 3 {
			continue
		}
		for _, c := range containers {
			if strings.Join(f[:3], " ") == c {
				return true
			}
		}
	}
	return false
}

// statusCheckLagOrder checks that the LAG column (the 8th of 9) never grows down the rows.
func statusCheckLagOrder(t *testing.T, frame int, rows []string, text string) {
	t.Helper()
	prev := int64(-1)
	for i, r := range rows {
		f := strings.Fields(r)
		if len(f) != 9 {
			t.Errorf("frame %d row %d has %d columns, want 9: %q", frame, i+1, len(f), r)
			return
		}
		lag, err := statusParseSize(f[7])
		if err != nil {
			t.Errorf("frame %d row %d: LAG: %v", frame, i+1, err)
			return
		}
		if prev >= 0 && lag > prev {
			t.Errorf("frame %d row %d: LAG %s is larger than the row above's; rows are not sorted by lag:\n%s", frame, i+1, f[7], text)
		}
		prev = lag
	}
}

// statusParseSize reverses status.FormatBytes, to within its rounding.
func statusParseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("size %q: %v", s, err)
			}
			return int64(v * u.mult), nil
		}
	}
	return 0, fmt.Errorf("size %q: no unit", s)
}
