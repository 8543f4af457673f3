package tail

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/checkpoint"
	"github.com/logferry/logferry/internal/discover"
	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/record"
)

// dockerInstance is one docker container directory of a Kubernetes container.
type dockerInstance struct {
	id      string
	restart int
}

func (d dockerInstance) dir(root string) string { return filepath.Join(root, d.id) }

func (d dockerInstance) log(root string) string {
	return filepath.Join(root, d.id, d.id+"-json.log")
}

// writeConfig writes config.v2.json the way docker does: atomically, before the log.
func (d dockerInstance) writeConfig(t *testing.T, root string) {
	t.Helper()
	cfg := fmt.Sprintf(`{"ID":%q,"Name":"/k8s_app_web-0_prod_uid-1_%d","Config":{"Labels":{`+
		`"io.kubernetes.pod.namespace":"prod","io.kubernetes.pod.name":"web-0",`+
		`"io.kubernetes.pod.uid":"uid-1","io.kubernetes.container.name":"app"}}}`, d.id, d.restart)
	tmp := filepath.Join(d.dir(root), ".config.v2.json.tmp")
	if err := os.WriteFile(tmp, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(d.dir(root), "config.v2.json")); err != nil {
		t.Fatal(err)
	}
}

// writeLines appends docker json-file lines prefix-from .. prefix-(to-1).
func (d dockerInstance) writeLines(t *testing.T, root, prefix string, from, to int) {
	t.Helper()
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, `{"log":"%s-%04d padding padding padding\n","stream":"stdout","time":"2024-05-01T10:00:00.%09dZ"}`+"\n", prefix, i, i)
	}
	f, err := os.OpenFile(d.log(root), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
}

// group is what discovery reports for d: with metadata when config.v2.json was there.
func (d dockerInstance) group(root string, metadata bool) discover.Group {
	src := record.Source{ContainerID: d.id, Runtime: "docker", RestartCount: -1}
	if metadata {
		src.Namespace, src.Pod, src.PodUID, src.Container, src.RestartCount = "prod", "web-0", "uid-1", "app", d.restart
	}
	return discover.Group{Key: d.dir(root), Dir: d.dir(root), Layout: discover.Docker, Source: src}
}

type sentRecord struct {
	Message string `json:"message"`
	Log     struct {
		Flags []string `json:"flags"`
	} `json:"log"`
	Kubernetes struct {
		Namespace string `json:"namespace"`
		Pod       struct {
			Name string `json:"name"`
		} `json:"pod"`
		Container struct {
			Name         string `json:"name"`
			RestartCount int    `json:"restart_count"`
		} `json:"container"`
	} `json:"kubernetes"`
}

// collector is a Send that keeps every record in the order the chunks were handed on.
type collector struct {
	mu   sync.Mutex
	recs []sentRecord
	// hold, when set, is called before a chunk is taken (outside mu).
	hold func(c *pipeline.Chunk)
}

func (c *collector) send(_ context.Context, ch *pipeline.Chunk) error {
	if c.hold != nil {
		c.hold(ch)
	}
	c.mu.Lock()
	sc := bufio.NewScanner(bytes.NewReader(ch.Data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		checkConsts(ch.Consts, sc.Bytes())
		var r sentRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			panic(fmt.Sprintf("record is not JSON: %v: %q", err, sc.Text()))
		}
		c.recs = append(c.recs, r)
	}
	c.mu.Unlock()
	ch.Done()
	return nil
}

func (c *collector) records() []sentRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sentRecord(nil), c.recs...)
}

func newTestManager(t *testing.T, workers, quantum int, send func(context.Context, *pipeline.Chunk) error) *Manager {
	t.Helper()
	store, err := checkpoint.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{
		Workers:      workers,
		ReadQuantum:  quantum,
		PollInterval: 10 * time.Millisecond,
		Store:        store,
		Budget:       pipeline.NewBudget(64 << 20),
		Send:         send,
	})
}

// startManager runs m; stop stops it and waits for Run to return (more calls: no-op).
func startManager(t *testing.T, m *Manager) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx)
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
}

// waitRecords waits (at most 10 s) until c has n records.
func waitRecords(t *testing.T, c *collector, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(c.records()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %d records; have %d", n, len(c.records()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runUntil runs m until want records were sent (or 10 s passed) and returns them.
func runUntil(t *testing.T, m *Manager, c *collector, want int) []sentRecord {
	t.Helper()
	stop := startManager(t, m)
	defer stop()
	deadline := time.Now().Add(10 * time.Second)
	for len(c.records()) < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // anything sent twice or late shows too
	stop()
	return c.records()
}

// checkInstances checks that recs are old-0000..old-(nOld-1) of restart 0 then
// new-0000..new-(nNew-1) of restart 1, each with the pod's metadata.
func checkInstances(t *testing.T, recs []sentRecord, nOld, nNew int) {
	t.Helper()
	var want []string
	for i := 0; i < nOld; i++ {
		want = append(want, fmt.Sprintf("old-%04d", i))
	}
	for i := 0; i < nNew; i++ {
		want = append(want, fmt.Sprintf("new-%04d", i))
	}
	bad := 0
	for i, r := range recs {
		k := r.Kubernetes
		restart := 0
		if strings.HasPrefix(r.Message, "new-") {
			restart = 1
		}
		if k.Namespace != "prod" || k.Pod.Name != "web-0" || k.Container.Name != "app" || k.Container.RestartCount != restart {
			if bad++; bad <= 5 {
				t.Errorf("record %d %q: kubernetes %s/%s/%s restart %d, want prod/web-0/app restart %d",
					i, r.Message, k.Namespace, k.Pod.Name, k.Container.Name, k.Container.RestartCount, restart)
			}
		}
	}
	got := make([]string, len(recs))
	for i, r := range recs {
		got[i], _, _ = strings.Cut(r.Message, " ")
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		first := 0
		for first < len(got) && first < len(want) && got[first] == want[first] {
			first++
		}
		t.Fatalf("got %d records, want %d; first difference at record %d: got %v, want %v",
			len(got), len(want), first, got[first:min(first+4, len(got))], want[first:min(first+4, len(want))])
	}
}

// TestDockerInstanceCreatedDuringDiscovery: discovery reads a new docker container
// directory while the runtime is still creating it. config.v2.json is not there when
// its metadata is read, but is (and so is the log, which docker creates after it) by
// the time the directory is listed. The new instance's lines must still carry the
// pod's metadata and come after every line of the older instance.
func TestDockerInstanceCreatedDuringDiscovery(t *testing.T) {
	root := t.TempDir()
	old, cur := dockerInstance{id: "0a0a0a0a", restart: 0}, dockerInstance{id: "0b0b0b0b", restart: 1}
	for _, d := range []dockerInstance{old, cur} {
		if err := os.MkdirAll(d.dir(root), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	old.writeConfig(t, root)
	old.writeLines(t, root, "old", 0, 300)

	c := &collector{}
	// One worker and a small quantum: the groups take turns, so a newer instance that
	// is not held back interleaves with the older one.
	m := newTestManager(t, 1, 2048, c.send)
	var once sync.Once
	m.beforeList = func(dir string) {
		if dir == cur.dir(root) {
			// The runtime finishes creating the container right before the listing.
			once.Do(func() {
				cur.writeConfig(t, root)
				cur.writeLines(t, root, "new", 0, 50)
			})
		}
	}
	oldG, curG := old.group(root, true), cur.group(root, false) // no config.v2.json when scanned
	m.Changed(oldG)
	m.Changed(curG)
	m.Sync([]discover.Group{oldG, curG})
	checkInstances(t, runUntil(t, m, c, 350), 300, 50)
}

// TestDockerOlderInstanceSentFirst: an older instance counts as unfinished until the
// chunks of its last turn are handed to the sinks, not just until they are read: a
// newer instance read by another worker meanwhile must not overtake them.
func TestDockerOlderInstanceSentFirst(t *testing.T) {
	root := t.TempDir()
	old, cur := dockerInstance{id: "0a0a0a0a", restart: 0}, dockerInstance{id: "0b0b0b0b", restart: 1}
	for _, d := range []dockerInstance{old, cur} {
		if err := os.MkdirAll(d.dir(root), 0o755); err != nil {
			t.Fatal(err)
		}
		d.writeConfig(t, root)
	}
	old.writeLines(t, root, "old", 0, 20)
	cur.writeLines(t, root, "new", 0, 50)

	c := &collector{hold: func(ch *pipeline.Chunk) {
		if bytes.Contains(ch.Data, []byte(`"message":"old-`)) {
			time.Sleep(300 * time.Millisecond) // a slow hand-off: preempted, or sinks full
		}
	}}
	m := newTestManager(t, 2, 64<<10, c.send)
	oldG, curG := old.group(root, true), cur.group(root, true)
	m.Changed(oldG)
	m.Changed(curG)
	m.Sync([]discover.Group{oldG, curG})
	checkInstances(t, runUntil(t, m, c, 70), 20, 50)
}

// checkConsts panics unless every scalar of a chunk's Consts is the record's value at
// the same path (sinks resolve keys and topics once per chunk from Consts): every
// test that collects chunks checks it, including those whose lines span files.
func checkConsts(consts, rec []byte) {
	if consts == nil {
		return
	}
	var v any
	if err := json.Unmarshal(consts, &v); err != nil {
		panic(fmt.Sprintf("chunk Consts not JSON: %v: %s", err, consts))
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		if m, ok := v.(map[string]any); ok {
			for k, x := range m {
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(p, x)
			}
			return
		}
		cv, cok := record.Scalar(record.Lookup(consts, path))
		rv, rok := record.Scalar(record.Lookup(rec, path))
		if cok && (!rok || !bytes.Equal(cv, rv)) {
			panic(fmt.Sprintf("chunk Consts say %s is %s, the record has %s: %s", path, cv, rv, rec))
		}
	}
	walk("", v)
}
