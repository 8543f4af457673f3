package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
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
	// pods, lines and maxFiles override gen's --pods (default 6), --lines (default
	// 2500) and --max-files (default 8): the scenarios of slower sinks use a smaller
	// node that keeps more rotated files. (A file rotated away and deleted while the
	// agent is down is lost by design; a sink that is slower than a file lets the
	// agent fall further behind after a restart, on a loaded machine seconds.)
	pods, lines, maxFiles int
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
		t.Run(sc.name, func(t *testing.T) { runKillLoop(t, sc, fileDelivery()) })
	}
}

// delivery is the destination of a kill loop: the agent's sink, and how the test
// reads back what it delivered.
type delivery struct {
	// ordered: the destination keeps every container's records in the order they
	// were sent, so verify's order violations fail the run. (An Elasticsearch index
	// has no order.)
	ordered bool
	// setup prepares the destination for a run whose files are under root and
	// returns the agent's sinks: entry, a YAML list item indented by two spaces.
	setup func(t *testing.T, root string) string
	// check verifies what was delivered so far against m. final is set once the
	// last agent has exited: check may then wait for the destination to show all
	// of it (indexing delay).
	check func(t *testing.T, m *gen.Manifest, final bool) *verify.Report
	// after, if not nil, runs the destination's own checks once the run passed.
	after func(t *testing.T, m *gen.Manifest, rep *verify.Report, kills int)
}

// fileDelivery is the file sink: out/out.json and its rotated files.
func fileDelivery() delivery {
	var outDir string
	return delivery{
		ordered: true,
		setup: func(t *testing.T, root string) string {
			outDir = filepath.Join(root, "out")
			return "  - name: out\n    type: file\n    path: " + filepath.Join(outDir, "out.json") + "\n    max_size: 4MiB\n    max_files: 1000\n"
		},
		check: func(t *testing.T, m *gen.Manifest, _ bool) *verify.Report { return check(t, m, outDir) },
	}
}

// delivered reports whether rep shows every line delivered intact (and in order
// when the destination keeps order).
func (d delivery) delivered(rep *verify.Report) bool {
	ok := rep.Missing == 0 && rep.Corrupt == 0
	if d.ordered {
		ok = ok && rep.OrderViolations == 0
	}
	return ok && rep.Truncated == 0 && rep.Partial == 0 && rep.Expected > 0
}

var agentLogs strings.Builder

// runKillLoop runs gen for sc while an agent ships to d, SIGKILLs and restarts the
// agent sc.kills times, lets it catch up, stops it with SIGTERM and verifies what d
// received against gen's manifest.
func runKillLoop(t *testing.T, sc scenario, d delivery) {
	logLevel := "warn"
	if os.Getenv("LOGFERRY_E2E_KEEP") != "" {
		logLevel = "debug"
	}
	root := t.TempDir()
	if keep := os.Getenv("LOGFERRY_E2E_KEEP"); keep != "" {
		// Debugging: keep the node, the checkpoints and the output.
		root = filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_"))
		os.RemoveAll(root)
		os.MkdirAll(root, 0o755)
	}
	node := filepath.Join(root, "node")
	data := filepath.Join(root, "data")
	seed := time.Now().UnixNano()
	r := rand.New(rand.NewPCG(uint64(seed), 7))
	t.Logf("seed %d", seed)

	pods, lines, maxFiles := 6, 2500, 8
	if sc.pods > 0 {
		pods = sc.pods
	}
	if sc.lines > 0 {
		lines = sc.lines
	}
	if sc.maxFiles > 0 {
		maxFiles = sc.maxFiles
	}
	genArgs := append([]string{"gen", "--out", node, "--format", sc.format,
		"--namespaces", "2", "--pods", strconv.Itoa(pods), "--containers", "2",
		"--lines", strconv.Itoa(lines), "--rate", "3000", "--line-size", "200",
		"--long-every", "97", "--long-size", "40000",
		"--rotate-size", "48KiB", "--max-files", strconv.Itoa(maxFiles), "--rotate-interval", "50ms",
		"--restart-every", "1200", "--malformed-every", "400",
		"--seed", strconv.FormatInt(seed%1000, 10)}, sc.extra...)
	if sc.format != "docker" {
		genArgs = append(genArgs, "--late-writes", "2")
	}
	sinkYAML := d.setup(t, root)
	genCmd := exec.Command(binary, genArgs...)
	genLog := &strings.Builder{}
	genCmd.Stdout, genCmd.Stderr = genLog, genLog
	genStart := time.Now()
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
		"sinks:\n"+sinkYAML+
		"shutdown:\n  deadline: 20s\nlog:\n  level: "+logLevel+"\n")

	kills := 0
	agent := startAgent(t, cfg, root)
	defer func() {
		if os.Getenv("LOGFERRY_E2E_KEEP") != "" {
			// The killed agents' logs, then the last agent's.
			os.WriteFile(filepath.Join(root, "agent.log"), []byte(agentLogs.String()+"---- last agent ----\n"+agent.log.String()), 0o644)
		}
	}()
	// The kills are spread over gen's run (paced: pods*2*lines at 3000 lines/s): each
	// takes at most a window of 80 % of the run divided by the kills, a random wait
	// then the agent down for a random while, so all of them happen before gen ends
	// however the dice fall (with waits of 0.4-1.6 s and downtimes up to 0.4 s, about
	// one run in a hundred of an 8 s gen ran out of time for the fifth kill).
	window := time.Duration(float64(pods*2*lines)/3000*0.8*float64(time.Second)) / time.Duration(max(sc.kills, 1))
	genFinished := false
	for !genFinished {
		select {
		case err := <-genDone:
			if err != nil {
				t.Fatalf("gen failed: %v\n%s", err, genLog)
			}
			genFinished = true
		case <-time.After(window/4 + time.Duration(r.Int64N(int64(window/2)))):
			if kills < sc.kills {
				agent.kill(t)
				kills++
				time.Sleep(time.Duration(r.Int64N(int64(window / 4))))
				agent = startAgent(t, cfg, root)
			}
		}
	}
	m, err := gen.ReadManifest(filepath.Join(node, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Wait for the agent to catch up, then stop it gracefully.
	genEnd := time.Now()
	var rep *verify.Report
	deadline := time.Now().Add(90 * time.Second)
	for {
		rep = d.check(t, m, false)
		if rep.Missing == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	caughtUp := time.Now()
	if code := agent.term(t, 30*time.Second); code != 0 {
		t.Errorf("agent exited %d after SIGTERM, want 0\n%s", code, agent.log)
	}
	stopped := time.Now()
	rep = d.check(t, m, true)
	t.Logf("gen ran %v, catching up took %v, stopping %v, the last check %v",
		genEnd.Sub(genStart).Round(time.Millisecond), caughtUp.Sub(genEnd).Round(time.Millisecond),
		stopped.Sub(caughtUp).Round(time.Millisecond), time.Since(stopped).Round(time.Millisecond))
	if d.ordered {
		t.Logf("%d kills; %s", kills, rep.String())
	} else {
		t.Logf("%d kills; order is not checked (the destination keeps none): %s", kills, rep.String())
	}
	if !d.delivered(rep) {
		t.Fatalf("delivery failed (kills %d):\n%s\nagent log:\n%s", kills, rep.String(), tailString(agent.log.String(), 4000))
	}
	if kills < sc.kills {
		t.Fatalf("only %d of %d kills happened before gen finished", kills, sc.kills)
	}
	if m.Totals.Rotations == 0 || m.Totals.Restarts == 0 || m.Totals.LongLines == 0 {
		t.Fatalf("the simulation did not exercise rotation/restarts/long lines: %+v", m.Totals)
	}
	if d.after != nil {
		d.after(t, m, rep, kills)
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

// checkRecords runs the checker over records, one JSON record per line, in
// delivery order.
func checkRecords(t *testing.T, m *gen.Manifest, records []byte) *verify.Report {
	t.Helper()
	rep, err := verify.Check(m, bytes.NewReader(records))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// logOdd logs, for diagnosis, the records verify does not count as whole gen
// lines: flagged partial or truncated, or not gen lines at all (at most 20).
func logOdd(t *testing.T, records []byte) {
	t.Helper()
	n := 0
	for _, line := range bytes.Split(records, []byte("\n")) {
		var rec struct {
			Message string `json:"message"`
			Log     struct {
				File struct {
					Path string `json:"path"`
				} `json:"file"`
				Offset int64    `json:"offset"`
				Flags  []string `json:"flags"`
			} `json:"log"`
			Event struct {
				ID string `json:"id"`
			} `json:"event"`
		}
		if len(line) == 0 || json.Unmarshal(line, &rec) != nil {
			continue
		}
		if len(rec.Log.Flags) == 0 && strings.HasPrefix(rec.Message, gen.KeyPrefix) {
			continue
		}
		if n++; n > 20 {
			t.Logf("... and more")
			return
		}
		t.Logf("odd record: id %s path %s offset %d flags %v, message (%d bytes) %.120q",
			rec.Event.ID, rec.Log.File.Path, rec.Log.Offset, rec.Log.Flags, len(rec.Message), rec.Message)
	}
}

// idRecord is the part of an agent record that identifies it.
type idRecord struct {
	Message    string `json:"message"`
	Kubernetes struct {
		Namespace string `json:"namespace"`
		Pod       struct {
			Name string `json:"name"`
			UID  string `json:"uid"`
		} `json:"pod"`
		Container struct {
			Name string `json:"name"`
		} `json:"container"`
	} `json:"kubernetes"`
	Event struct {
		ID string `json:"id"`
	} `json:"event"`
}

// copyCheck is the result of sameCopies.
type copyCheck struct {
	ids    int // distinct ids
	resent int // copies beyond the first of an id: records sent again
	// renamed counts the copies that differ from the first only in log.file.path,
	// the live and a rotated name of the same file (liveName): the agent names the
	// path it found the file at, and a file rotated between the two reads (0.log,
	// then 0.log.<time>.gz) is found at its new name. The identity (event.id, the
	// offset) and every other byte are the same.
	renamed int
	diff    []string // examples of ids whose copies differ otherwise
}

// sameCopies groups (id, record) pairs by id and checks that every copy of an id
// is the same record.
func sameCopies(pairs [][2]string) copyCheck {
	type first struct {
		raw, norm [sha256.Size]byte
		content   string
	}
	seen := make(map[string]*first, len(pairs))
	var c copyCheck
	bad := 0
	for _, p := range pairs {
		raw, norm := sha256.Sum256([]byte(p[1])), sha256.Sum256([]byte(normalizePath(p[1])))
		f := seen[p[0]]
		if f == nil {
			seen[p[0]] = &first{raw: raw, norm: norm, content: p[1]}
			continue
		}
		c.resent++
		switch {
		case f.raw == raw:
		case f.norm == norm:
			c.renamed++
		default:
			bad++
			if len(c.diff) < 5 {
				c.diff = append(c.diff, fmt.Sprintf("id %s: %s", p[0], firstDiff(f.content, p[1])))
			}
		}
	}
	if bad > len(c.diff) {
		c.diff = append(c.diff, fmt.Sprintf("... %d copies in all", bad))
	}
	c.ids = len(seen)
	return c
}

// pathField starts the file path of a record as the agent encodes it.
const pathField = `"log":{"file":{"path":"`

// normalizePath returns rec with its log.file.path replaced by liveName of it.
func normalizePath(rec string) string {
	i := strings.Index(rec, pathField)
	if i < 0 {
		return rec
	}
	i += len(pathField)
	n := strings.IndexByte(rec[i:], '"')
	if n < 0 {
		return rec
	}
	return rec[:i] + liveName(rec[i:i+n]) + rec[i+n:]
}

// liveName returns the live name of a log file path, without the suffix rotation
// adds: .../0.log.20261122-163153.gz is .../0.log, .../<id>-json.log.1 is
// .../<id>-json.log.
func liveName(path string) string {
	dir := strings.LastIndexByte(path, '/') + 1
	if k := strings.Index(path[dir:], ".log"); k >= 0 {
		return path[:dir+k+len(".log")]
	}
	return path
}

// oneIDPerLine returns the number of distinct ids of gen lines among (id, record)
// pairs, and examples of gen lines that came with more than one id (their copies
// would not replace each other in an index that upserts by id).
func oneIDPerLine(pairs [][2]string) (ids int64, bad []string) {
	byLine := map[string]string{}
	seen := map[string]bool{}
	for _, p := range pairs {
		var rec idRecord
		if err := json.Unmarshal([]byte(p[1]), &rec); err != nil || !strings.HasPrefix(rec.Message, gen.KeyPrefix) {
			continue
		}
		ns, pod, ctr, seq, _, ok := gen.ParseKeyBytes([]byte(rec.Message))
		if !ok {
			continue
		}
		line := fmt.Sprintf("%s/%s/%s seq=%d", ns, pod, ctr, seq)
		if !seen[p[0]] {
			seen[p[0]] = true
			ids++
		}
		if id, ok := byLine[line]; !ok {
			byLine[line] = p[0]
		} else if id != p[0] && len(bad) < 5 {
			bad = append(bad, fmt.Sprintf("%s: ids %s and %s", line, id, p[0]))
		}
	}
	return ids, bad
}

// firstDiff describes where b first differs from a.
func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(i-40, 0)
	return fmt.Sprintf("lengths %d and %d, first difference at byte %d: %q vs %q",
		len(a), len(b), i, clipString(a[from:], 100), clipString(b[from:], 100))
}

func clipString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
