package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/config"
)

// testConfig returns a configuration reading root/pods and writing to root/out.json.
func testConfig(t *testing.T, root string) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(root, "data")
	cfg.Sources.PodsDir = filepath.Join(root, "pods")
	cfg.Sources.PollInterval = 20 * time.Millisecond
	cfg.Sources.RescanInterval = 200 * time.Millisecond
	cfg.Checkpoint.Interval = 50 * time.Millisecond
	cfg.Sinks = []config.Sink{config.NewSink("out", "file", filepath.Join(root, "out.json"))}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

type rec struct {
	Timestamp string `json:"@timestamp"`
	Message   string `json:"message"`
	Stream    string `json:"stream"`
	Log       struct {
		File struct {
			Path string `json:"path"`
		} `json:"file"`
		Offset int64    `json:"offset"`
		Flags  []string `json:"flags"`
	} `json:"log"`
	Kubernetes struct {
		Namespace string `json:"namespace"`
		Pod       struct {
			Name string `json:"name"`
			UID  string `json:"uid"`
		} `json:"pod"`
		Container struct {
			Name         string `json:"name"`
			RestartCount int    `json:"restart_count"`
		} `json:"container"`
	} `json:"kubernetes"`
	Event struct {
		ID string `json:"id"`
	} `json:"event"`
}

func readRecords(t *testing.T, path string) []rec {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []rec
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var r rec
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("output line is not JSON: %v: %q", err, sc.Text())
		}
		out = append(out, r)
	}
	return out
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s", d, what)
}

func startAgent(t *testing.T, cfg *config.Config) (stop func()) {
	t.Helper()
	_, stop = run(t, cfg, Options{Logger: testLogger(t)})
	return stop
}

// run builds and starts an agent; stop cancels it and waits (at most 10 s) for Run to
// return. stop may be called more than once.
func run(t testing.TB, cfg *config.Config, o Options) (*Agent, func()) {
	t.Helper()
	a, err := New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	return a, func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("agent.Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("agent did not stop within 10s")
			}
		})
	}
}

func TestCollectsCRIFile(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "pods", "prod_web-0_uid-1", "app")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	content := "2026-11-22T10:00:00.1Z stdout F hello\n" +
		"2026-11-22T10:00:00.2Z stderr P part one \n" +
		"2026-11-22T10:00:00.3Z stdout F between\n" +
		"2026-11-22T10:00:00.4Z stderr F part two\n" +
		"garbage line\n" +
		"2026-11-22T18:00:00.5+08:00 stdout F zoned\n"
	if err := os.WriteFile(filepath.Join(dir, "0.log"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, root)
	stop := startAgent(t, cfg)
	out := filepath.Join(root, "out.json")
	waitFor(t, "4 records", 5*time.Second, func() bool { return len(readRecords(t, out)) >= 4 })
	stop()
	got := readRecords(t, out)
	want := []struct{ msg, stream, ts string }{
		{"hello", "stdout", "2026-11-22T10:00:00.1Z"},
		{"between", "stdout", "2026-11-22T10:00:00.3Z"},
		{"part one part two", "stderr", "2026-11-22T10:00:00.2Z"},
		{"zoned", "stdout", "2026-11-22T10:00:00.5Z"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Message != w.msg || g.Stream != w.stream || g.Timestamp != w.ts {
			t.Errorf("record %d = %q %s %s, want %q %s %s", i, g.Message, g.Stream, g.Timestamp, w.msg, w.stream, w.ts)
		}
		if g.Kubernetes.Namespace != "prod" || g.Kubernetes.Pod.Name != "web-0" || g.Kubernetes.Pod.UID != "uid-1" || g.Kubernetes.Container.Name != "app" {
			t.Errorf("record %d metadata = %+v", i, g.Kubernetes)
		}
		if g.Event.ID == "" {
			t.Errorf("record %d has no event.id", i)
		}
	}
	fmt.Println(got[0].Log.File.Path, got[2].Log.Offset)
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
