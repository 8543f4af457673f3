package e2e

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is an io.Writer for a child process's output that the test may read while
// the process runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// daemon is a child process that runs until stopped or until the test ends.
type daemon struct {
	name string
	cmd  *exec.Cmd
	log  *syncBuffer // stdout and stderr
	done chan struct{}
}

// startDaemon starts path with args. When the test ends it is stopped (SIGTERM, then
// SIGKILL after 20s) if it still runs.
func startDaemon(t *testing.T, name, path string, args ...string) *daemon {
	t.Helper()
	d := &daemon{name: name, cmd: exec.Command(path, args...), log: &syncBuffer{}, done: make(chan struct{})}
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() { d.stop(t, syscall.SIGTERM) })
	return d
}

// stop signals the process and waits for it, killing it (and failing the test) if it
// has not exited within 20s. It does nothing if the process already exited.
func (d *daemon) stop(t *testing.T, sig syscall.Signal) {
	if d.exited() {
		return
	}
	_ = d.cmd.Process.Signal(sig)
	select {
	case <-d.done:
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		t.Errorf("%s did not exit within 20s of %v:\n%s", d.name, sig, tailString(d.log.String(), 3000))
	}
}

// wait waits up to within for the process to exit and returns its exit code; it fails
// the test if the process is still running then.
func (d *daemon) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-d.done:
		return d.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		t.Fatalf("%s still running %v later:\n%s", d.name, within, tailString(d.log.String(), 3000))
		return -1
	}
}

func (d *daemon) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to %s: %v", sig, d.name, err)
	}
}

func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// httpGet fetches url and returns the status code and body.
func httpGet(ctx context.Context, u string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}
