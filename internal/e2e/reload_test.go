package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/gen"
	"github.com/logferry/logferry/internal/status"
)

// configMap mimics how the kubelet publishes a ConfigMap volume: the file is a symlink
// into "..data", itself a symlink to a timestamped directory, and an update writes a
// new directory and swaps "..data" atomically (the file is never written in place).
type configMap struct {
	dir string
	n   int
}

func (c *configMap) path() string { return filepath.Join(c.dir, "config.yaml") }

func (c *configMap) publish(t *testing.T, content string) {
	t.Helper()
	c.n++
	ts := fmt.Sprintf("..2026_11_22_%02d", c.n)
	if err := os.MkdirAll(filepath.Join(c.dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(c.dir, ts, "config.yaml"), content)
	tmp := filepath.Join(c.dir, "..data_tmp")
	os.Remove(tmp)
	if err := os.Symlink(ts, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(c.path()); err != nil {
		if err := os.Symlink(filepath.Join("..data", "config.yaml"), c.path()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReloadUnderLoad changes the configuration four times while pods write and rotate
// - through a ConfigMap-style symlink swap, with an invalid configuration, with SIGHUP
// after an in-place edit, and removing a sink - and proves that the sink that stays
// received every line exactly once, in order, and that the invalid configuration was
// rejected and reported while collection went on.
func TestReloadUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end reload: skipped with -short")
	}
	root := t.TempDir()
	node := filepath.Join(root, "node")
	data := filepath.Join(root, "data")
	mainOut := filepath.Join(root, "out-main")
	extraOut := filepath.Join(root, "out-extra")

	genCmd := exec.Command(binary, "gen", "--out", node, "--format", "cri",
		"--namespaces", "2", "--pods", "4", "--containers", "2",
		"--lines", "3000", "--rate", "4000", "--line-size", "150",
		"--long-every", "211", "--long-size", "40000",
		"--rotate-size", "64KiB", "--max-files", "6", "--rotate-interval", "50ms",
		"--restart-every", "1700", "--seed", "5")
	genLog := &strings.Builder{}
	genCmd.Stdout, genCmd.Stderr = genLog, genLog
	if err := genCmd.Start(); err != nil {
		t.Fatal(err)
	}
	genDone := make(chan error, 1)
	go func() { genDone <- genCmd.Wait() }()

	addr := freeAddr(t)
	base := func(level, sinks string) string {
		return "data_dir: " + data + "\nsources:\n  pods_dir: " + filepath.Join(node, "pods") + "\n" +
			"  poll_interval: 50ms\n  rescan_interval: 1s\ncheckpoint:\n  interval: 100ms\n" +
			"http:\n  addr: " + addr + "\nlog:\n  level: " + level + "\nsinks:\n" + sinks
	}
	mainSink := func(maxWait string) string {
		return "  - name: main\n    type: file\n    path: " + filepath.Join(mainOut, "out.json") +
			"\n    max_size: 4MiB\n    max_files: 1000\n    batch:\n      max_wait: " + maxWait + "\n"
	}
	extraSink := "  - name: extra\n    type: file\n    path: " + filepath.Join(extraOut, "out.json") + "\n    max_size: 64MiB\n"

	cm := &configMap{dir: filepath.Join(root, "config")}
	cm.publish(t, base("info", mainSink("200ms")))
	agent := startDaemon(t, "agent", binary, "agent", "--config", cm.path())
	waitStatus(t, addr, 10*time.Second, func(s *status.Status) bool { return s.Ready })

	waitReloads := func(want int64) *status.Status {
		t.Helper()
		return waitStatus(t, addr, 10*time.Second, func(s *status.Status) bool { return s.Config.Reloads >= want })
	}
	step := func() { time.Sleep(700 * time.Millisecond) } // let lines flow between changes

	// 1. ConfigMap update: main's batching changes, a second sink appears, debug level.
	step()
	cm.publish(t, base("debug", mainSink("50ms")+extraSink))
	st := waitReloads(1)
	if len(st.Sinks) != 2 {
		t.Fatalf("after adding a sink: status shows %d sinks, want 2", len(st.Sinks))
	}

	// 2. An invalid configuration (unknown key): rejected, the running one kept.
	step()
	cm.publish(t, base("debug", mainSink("50ms")+extraSink)+"bogus_key: 1\n")
	st = waitStatus(t, addr, 10*time.Second, func(s *status.Status) bool { return s.Config.LastError != "" })
	if !strings.Contains(st.Config.LastError, "bogus_key") || st.Config.Reloads != 1 || len(st.Sinks) != 2 {
		t.Fatalf("invalid configuration: last_error %q, reloads %d, sinks %d; want the key named, 1 reload, 2 sinks",
			st.Config.LastError, st.Config.Reloads, len(st.Sinks))
	}
	metrics := httpGetString(t, "http://"+addr+"/metrics")
	if !strings.Contains(metrics, `logferry_config_reloads_total{result="error"} 1`) {
		t.Fatalf("metrics do not count the rejected reload:\n%s", grepLines(metrics, "logferry_config_reloads_total"))
	}

	// 3. The file is edited in place (not a ConfigMap) and SIGHUP sent: main's batching
	// changes again, the extra sink goes away.
	step()
	if err := os.Remove(cm.path()); err != nil {
		t.Fatal(err)
	}
	writeFile(t, cm.path(), base("info", mainSink("100ms")))
	agent.signal(t, syscall.SIGHUP)
	st = waitReloads(2)
	if len(st.Sinks) != 1 || st.Config.LastError != "" {
		t.Fatalf("after removing a sink: %d sinks, last error %q; want 1 and none", len(st.Sinks), st.Config.LastError)
	}

	// 4. SIGHUP with identical content still reloads (and changes nothing).
	step()
	agent.signal(t, syscall.SIGHUP)
	waitReloads(3)
	select {
	case err := <-genDone:
		genDone <- err
		t.Logf("note: gen had finished before the last reload (a slow machine); the earlier ones ran under load")
	default:
	}

	if err := <-genDone; err != nil {
		t.Fatalf("gen: %v\n%s", err, genLog)
	}
	m, err := gen.ReadManifest(filepath.Join(node, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Caught up: every container acknowledged to its end.
	waitStatus(t, addr, 60*time.Second, func(s *status.Status) bool {
		var lines int64
		for _, c := range s.Containers {
			if c.LagBytes != 0 {
				return false
			}
			lines += c.ReadLines
		}
		return lines >= int64(m.Totals.Lines)
	})
	agent.signal(t, syscall.SIGTERM)
	if code := agent.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("agent exited %d, want 0\n%s", code, tailString(agent.log.String(), 4000))
	}
	rep := check(t, m, mainOut)
	t.Logf("main sink after 3 reloads and 1 rejected: %s", rep.String())
	if !rep.OK() || rep.Duplicates != 0 || rep.Expected == 0 {
		t.Fatalf("the sink that stayed lost or repeated lines across reloads:\n%s\nagent log:\n%s",
			rep.String(), tailString(agent.log.String(), 4000))
	}
	if m.Totals.Rotations == 0 || m.Totals.Restarts == 0 {
		t.Fatalf("the simulation did not rotate or restart: %+v", m.Totals)
	}
	// The extra sink got lines while it existed, each once at most.
	extra := check(t, m, extraOut)
	if extra.Received == 0 || extra.Duplicates != 0 || extra.Corrupt != 0 {
		t.Fatalf("extra sink: %s", extra.String())
	}
	for _, want := range []string{"configuration reloaded", "configuration reload rejected", "sink added", "sink removed"} {
		if !strings.Contains(agent.log.String(), want) {
			t.Errorf("agent log lacks %q", want)
		}
	}
}

// waitStatus polls the status document until ok accepts it.
func waitStatus(t *testing.T, addr string, within time.Duration, ok func(*status.Status) bool) *status.Status {
	t.Helper()
	deadline := time.Now().Add(within)
	var last *status.Status
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + status.Path)
		if err == nil {
			var s status.Status
			err = json.NewDecoder(resp.Body).Decode(&s)
			resp.Body.Close()
			if err == nil {
				last = &s
				if ok(&s) {
					return &s
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	b, _ := json.MarshalIndent(last, "", "  ")
	t.Fatalf("status did not reach the expected state within %v; last:\n%s", within, tailString(string(b), 3000))
	return nil
}

func httpGetString(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
