package kubetest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/logferry/logferry/internal/testenv"
)

// KubeVersion is the Kubernetes release whose kube-apiserver the tests run. v1.33 is within
// the version skew of the kubectl on the test machines (the google-cloud-cli dispatcher then
// picks its 1.33 client); the staging modules (k8s.io/api, client-go, ...) of this release
// are v0.33.13, the same versions as the repository's client-go.
const KubeVersion = "v1.33.13"

const (
	// envAPIServer names an existing kube-apiserver binary to use instead of the cached one.
	envAPIServer = "LOGFERRY_KUBE_APISERVER"
)

// stagingVersion is the version of the k8s.io/* staging modules released with KubeVersion:
// v1.33.13 -> v0.33.13.
func stagingVersion() string { return "v0." + strings.TrimPrefix(KubeVersion, "v1.") }

// CacheDir is where built test binaries are kept (testenv.CacheDir).
func CacheDir() (string, error) { return testenv.CacheDir() }

// cachedAPIServerPath is the path of the cached binary (which may not exist yet).
func cachedAPIServerPath() (string, error) {
	dir, err := CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "kube-apiserver-"+KubeVersion), nil
}

// findAPIServer returns the kube-apiserver binary if there is one without building:
// $LOGFERRY_KUBE_APISERVER (an error if it names a missing file), else the cached build.
// ok is false when the binary would have to be built.
func findAPIServer() (path string, ok bool, err error) {
	if p := os.Getenv(envAPIServer); p != "" {
		if err := checkExecutable(p); err != nil {
			return "", false, fmt.Errorf("%s=%s: %w", envAPIServer, p, err)
		}
		return p, true, nil
	}
	p, err := cachedAPIServerPath()
	if err != nil {
		return "", false, err
	}
	if checkExecutable(p) == nil {
		return p, true, nil
	}
	return p, false, nil
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}

// APIServerBinary returns the path of a kube-apiserver KubeVersion binary, building it the
// first time. $LOGFERRY_KUBE_APISERVER (the path of an existing binary) wins; otherwise the
// binary is <CacheDir>/kube-apiserver-v1.33.13, built there when missing from the
// k8s.io/kubernetes module in a throwaway Go module (k8s.io/kubernetes never enters the
// repository's go.mod). The build needs the Go toolchain and the module proxy, and takes
// ~8-11 minutes with a cold Go build cache, so progress is printed to stderr; a lock file
// keeps concurrent test processes from building it twice.
func APIServerBinary() (string, error) {
	p, ok, err := findAPIServer()
	if err != nil || ok {
		return p, err
	}
	return buildAPIServer(p, os.Stderr)
}

// buildAPIServer builds the binary into out under an exclusive lock on out+".lock".
func buildAPIServer(out string, log io.Writer) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("building kube-apiserver needs the Go toolchain on PATH: %w", err)
	}
	dir := filepath.Dir(out)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(out+".lock", func() {
		fmt.Fprintf(log, "kubetest: another process is building kube-apiserver %s; waiting for the lock %s\n", KubeVersion, out+".lock")
	})
	if err != nil {
		return "", fmt.Errorf("locking %s.lock: %w", out, err)
	}
	defer unlock()
	if checkExecutable(out) == nil { // built by the process that held the lock
		return out, nil
	}

	// Work directories of builds that were killed (we hold the lock, so none is live).
	stale, _ := filepath.Glob(out + ".build-*")
	for _, s := range stale {
		os.RemoveAll(s)
	}
	work, err := os.MkdirTemp(dir, filepath.Base(out)+".build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)

	start := time.Now()
	fmt.Fprintf(log, "kubetest: building kube-apiserver %s into %s: takes ~8-11 minutes with a cold Go build cache, once (later runs use the cached binary)\n", KubeVersion, out)
	b := &builder{goBin: goBin, dir: work, log: log, start: start}
	if err := b.build(out); err != nil {
		return "", fmt.Errorf("building kube-apiserver %s (work dir %s): %w", KubeVersion, work, err)
	}
	fmt.Fprintf(log, "kubetest: built %s in %s\n", out, time.Since(start).Round(time.Second))
	return out, nil
}

type builder struct {
	goBin string
	dir   string
	log   io.Writer
	start time.Time
}

const mainGo = `// Command kube-apiserver: built by logferry's internal/kubetest for its integration tests.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() { os.Exit(cli.Run(app.NewAPIServerCommand())) }
`

func (b *builder) build(out string) error {
	if err := b.run("mod", "init", "local/kube-apiserver"); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.dir, "main.go"), []byte(mainGo), 0o644); err != nil {
		return err
	}
	// k8s.io/kubernetes requires its staging modules (k8s.io/api, k8s.io/apiserver, ...) at
	// v0.0.0 and replaces them with ./staging/src/...: a module that depends on it must
	// replace them with the released versions itself. Read the list from its go.mod.
	var dl struct {
		GoMod string
		Error string
	}
	js, err := b.output("mod", "download", "-json", "k8s.io/kubernetes@"+KubeVersion)
	if jerr := json.Unmarshal(js, &dl); jerr != nil && err == nil {
		err = jerr
	}
	if err != nil || dl.Error != "" || dl.GoMod == "" {
		return fmt.Errorf("go mod download k8s.io/kubernetes@%s: %v %s", KubeVersion, err, dl.Error)
	}
	upstream, err := os.ReadFile(dl.GoMod)
	if err != nil {
		return err
	}
	var repl strings.Builder
	repl.WriteString("\nreplace (\n")
	n := 0
	for _, line := range strings.Split(string(upstream), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[len(f)-2] == "=>" && strings.HasPrefix(f[len(f)-1], "./staging/src/") {
			fmt.Fprintf(&repl, "\t%s => %s %s\n", f[0], f[0], stagingVersion())
			n++
		}
	}
	repl.WriteString(")\n")
	if n == 0 {
		return fmt.Errorf("no ./staging/src replace lines in %s", dl.GoMod)
	}
	gomod := filepath.Join(b.dir, "go.mod")
	f, err := os.OpenFile(gomod, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(repl.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(b.log, "kubetest: [%s] replaced %d staging modules with %s\n", b.elapsed(), n, stagingVersion())
	if err := b.run("get", "k8s.io/kubernetes@"+KubeVersion); err != nil {
		return err
	}
	if err := b.run("mod", "tidy"); err != nil {
		return err
	}
	// Without the version stamps the server says v0.0.0-master+$Format:%H$ and
	// `kubectl version` cannot parse it.
	const v = "k8s.io/component-base/version"
	minor := strings.Split(KubeVersion, ".")[1]
	ldflags := strings.Join([]string{"-s", "-w",
		"-X", v + ".gitVersion=" + KubeVersion,
		"-X", v + ".gitMajor=1",
		"-X", v + ".gitMinor=" + minor,
		"-X", v + ".gitTreeState=clean",
		"-X", v + ".buildDate=1970-01-01T00:00:00Z",
	}, " ")
	tmp := filepath.Join(b.dir, "kube-apiserver")
	if err := b.run("build", "-trimpath", "-ldflags", ldflags, "-o", tmp, "."); err != nil {
		return err
	}
	ver, err := exec.Command(tmp, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(ver), KubeVersion) {
		return fmt.Errorf("built binary: --version says %q (%v), want %s", strings.TrimSpace(string(ver)), err, KubeVersion)
	}
	fmt.Fprintf(b.log, "kubetest: [%s] %s\n", b.elapsed(), strings.TrimSpace(string(ver)))
	// The work directory is next to out, so the rename is atomic: nobody sees a
	// half-written binary.
	return os.Rename(tmp, out)
}

func (b *builder) elapsed() time.Duration { return time.Since(b.start).Round(time.Second) }

func (b *builder) command(args ...string) *exec.Cmd {
	cmd := exec.Command(b.goBin, args...)
	cmd.Dir = b.dir
	// Settings of the repository's build (GOFLAGS=-race, a workspace) must not leak into
	// the throwaway module.
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off", "GO111MODULE=on")
	return cmd
}

// run runs a go command, copying its output to the log with a heartbeat while it is quiet.
func (b *builder) run(args ...string) error {
	fmt.Fprintf(b.log, "kubetest: [%s] go %s\n", b.elapsed(), quoteArgs(args))
	cmd := b.command(args...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var tail []string
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			// "go: downloading" lines are many and say little; the rest (errors) matter.
			if !strings.HasPrefix(line, "go: downloading ") {
				fmt.Fprintf(b.log, "kubetest:   %s\n", line)
			}
			tail = append(tail, line)
			if len(tail) > 20 {
				tail = tail[1:]
			}
		}
		io.Copy(io.Discard, pr)
	}()
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(time.Minute)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				fmt.Fprintf(b.log, "kubetest: [%s] still running go %s ...\n", b.elapsed(), args[0])
			}
		}
	}()
	err := cmd.Run()
	close(done)
	pw.Close()
	<-copied
	if err != nil {
		return fmt.Errorf("go %s: %w\n%s", quoteArgs(args), err, strings.Join(tail, "\n"))
	}
	return nil
}

// output runs a go command and returns its stdout (stderr goes to the log).
func (b *builder) output(args ...string) ([]byte, error) {
	fmt.Fprintf(b.log, "kubetest: [%s] go %s\n", b.elapsed(), strings.Join(args, " "))
	cmd := b.command(args...)
	cmd.Stderr = b.log
	return cmd.Output()
}

// quoteArgs joins command arguments for a log line, quoting the ones with spaces.
func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " \t\"") {
			a = strconv.Quote(a)
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}
