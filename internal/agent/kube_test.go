package agent

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/kube/kubefake"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// kubeRec is the part of a record the metadata tests look at.
type kubeRec struct {
	Message    string `json:"message"`
	Kubernetes struct {
		Namespace  string                `json:"namespace"`
		Labels     map[string]string     `json:"labels"`
		Node       struct{ Name string } `json:"node"`
		Deployment struct{ Name string } `json:"deployment"`
		Pod        struct {
			Name, UID, IP string
		} `json:"pod"`
		Container struct {
			Name, Image string
		} `json:"container"`
	} `json:"kubernetes"`
	Container struct {
		ID, Runtime string
	} `json:"container"`
}

func readKubeRecords(t *testing.T, path string) []kubeRec {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []kubeRec
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l == "" {
			continue
		}
		var r kubeRec
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		out = append(out, r)
	}
	return out
}

// TestMetadataEnrichment: records of a pod known to the API carry its labels, node,
// workload and container id; a relabel shows in later lines; lines written after the
// pod was deleted are still enriched.
func TestMetadataEnrichment(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "pods", "prod_web-0_uid-1", "app")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	logf := filepath.Join(dir, "0.log")
	appendLine := func(msg string) {
		f, err := os.OpenFile(logf, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString("2026-11-22T10:00:00Z stdout F " + msg + "\n"); err != nil {
			t.Fatal(err)
		}
	}
	yes := true
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "prod", UID: types.UID("uid-1"),
			Labels:          map[string]string{"app": "web", "pod-template-hash": "abc12"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web-abc12", Controller: &yes}}},
		Spec:   corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27"}}},
		Status: corev1.PodStatus{PodIP: "10.1.2.3", ContainerStatuses: []corev1.ContainerStatus{{Name: "app", ContainerID: "containerd://c0ffee"}}},
	}
	client, kc := kubefake.New(pod)
	appendLine("first")
	cfg := testConfig(t, root)
	cfg.NodeName = "node-1"
	out := filepath.Join(root, "out.json")
	_, stop := run(t, cfg, Options{Logger: testLogger(t), KubeClient: kc})
	defer stop()
	waitFor(t, "the first record", 5*time.Second, func() bool { return len(readKubeRecords(t, out)) == 1 })
	r := readKubeRecords(t, out)[0]
	k := r.Kubernetes
	if k.Labels["app"] != "web" || k.Node.Name != "node-1" || k.Deployment.Name != "web" || k.Pod.IP != "10.1.2.3" ||
		k.Container.Image != "nginx:1.27" || r.Container.ID != "c0ffee" || r.Container.Runtime != "containerd" || k.Pod.UID != "uid-1" {
		t.Fatalf("first record not enriched: %+v", r)
	}

	ctx := context.Background()
	upd := pod.DeepCopy()
	upd.Labels["tier"] = "front"
	upd.ResourceVersion = "2"
	if _, err := client.CoreV1().Pods("prod").Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the watch delivers the update
	appendLine("after relabel")
	waitFor(t, "the second record", 5*time.Second, func() bool { return len(readKubeRecords(t, out)) == 2 })
	if l := readKubeRecords(t, out)[1].Kubernetes.Labels; l["tier"] != "front" {
		t.Fatalf("relabel not applied to later lines: %v", l)
	}

	if err := client.CoreV1().Pods("prod").Delete(ctx, "web-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	appendLine("after delete")
	waitFor(t, "the third record", 5*time.Second, func() bool { return len(readKubeRecords(t, out)) == 3 })
	if r := readKubeRecords(t, out)[2]; r.Kubernetes.Deployment.Name != "web" || r.Kubernetes.Labels["tier"] != "front" {
		t.Fatalf("a deleted pod's last lines lost their metadata: %+v", r)
	}
}

// TestMetadataUnavailable: with an API server that never answers, reading starts after
// sync_timeout and records carry the path-derived fields.
func TestMetadataUnavailable(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "pods", "prod_web-0_uid-1", "app")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "0.log"), []byte("2026-11-22T10:00:00Z stdout F hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, root)
	cfg.NodeName = "node-1"
	cfg.Kubernetes.Enabled = "true"
	cfg.Kubernetes.Kubeconfig = writeKubeconfig(t, root, "https://127.0.0.1:1") // nothing listens there
	cfg.Kubernetes.SyncTimeout = 300 * time.Millisecond
	out := filepath.Join(root, "out.json")
	_, stop := run(t, cfg, Options{Logger: testLogger(t)})
	defer stop()
	waitFor(t, "the record", 5*time.Second, func() bool { return len(readKubeRecords(t, out)) == 1 })
	r := readKubeRecords(t, out)[0]
	if r.Kubernetes.Pod.Name != "web-0" || r.Kubernetes.Namespace != "prod" || r.Kubernetes.Node.Name != "" {
		t.Fatalf("record = %+v; want the path-derived fields only", r)
	}
}

func writeKubeconfig(t *testing.T, dir, server string) string {
	t.Helper()
	p := filepath.Join(dir, "kubeconfig")
	cfg := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: " + server +
		"\n    insecure-skip-tls-verify: true\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n" +
		"current-context: c\nusers:\n- name: u\n  user:\n    token: x\n"
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPodSettingsFromAnnotations: annotations turn on multiline (java) for one
// container and JSON parsing plus a drop filter for another; a bad annotation value
// is reported as an Event and ignored without stopping collection.
func TestPodSettingsFromAnnotations(t *testing.T) {
	root := t.TempDir()
	podDir := filepath.Join(root, "pods", "prod_web-0_uid-1")
	write := func(container, content string) {
		dir := filepath.Join(podDir, container)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "0.log"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cri := func(lines ...string) string {
		var b strings.Builder
		for _, l := range lines {
			b.WriteString("2026-11-22T10:00:00Z stdout F " + l + "\n")
		}
		return b.String()
	}
	write("app", cri("INFO starting", "Exception in thread \"main\" java.lang.IllegalStateException: boom",
		"\tat com.example.Main.run(Main.java:10)", "\tat com.example.Main.main(Main.java:5)", "INFO next"))
	write("api", cri(`{"level":"info","msg":"served","ms":3}`, "DEBUG noisy", `not json`))
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "prod", UID: types.UID("uid-1"), Annotations: map[string]string{
			"logferry.io/multiline.app": "java",
			"logferry.io/parse.api":     "json",
			"logferry.io/drop.api":      "^DEBUG ",
			"logferry.io/route.api":     "audit",
			"logferry.io/rate-limit":    "lots", // bad: reported, ignored
		}},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "app"}, {Name: "api"}}},
	}
	client, kc := kubefake.New(pod)
	cfg := testConfig(t, root)
	cfg.NodeName = "node-1"
	out := filepath.Join(root, "out.json")
	_, stop := run(t, cfg, Options{Logger: testLogger(t), KubeClient: kc})
	defer stop()
	type rec struct {
		Message string         `json:"message"`
		Fields  map[string]any `json:"fields"`
		Log     struct {
			Flags []string `json:"flags"`
		} `json:"log"`
		Logferry struct {
			Route string `json:"route"`
		} `json:"logferry"`
		Kubernetes struct {
			Container struct{ Name string } `json:"container"`
		} `json:"kubernetes"`
	}
	var recs []rec
	waitFor(t, "5 records", 10*time.Second, func() bool {
		b, _ := os.ReadFile(out)
		recs = nil
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var r rec
			if json.Unmarshal([]byte(l), &r) == nil {
				recs = append(recs, r)
			}
		}
		return len(recs) >= 5
	})
	time.Sleep(300 * time.Millisecond)
	byCtr := map[string][]rec{}
	for _, r := range recs {
		byCtr[r.Kubernetes.Container.Name] = append(byCtr[r.Kubernetes.Container.Name], r)
	}
	app := byCtr["app"]
	if len(app) != 3 || app[0].Message != "INFO starting" || !strings.Contains(app[1].Message, "\tat com.example.Main.main") ||
		!strings.HasPrefix(app[1].Message, "Exception in thread") || app[2].Message != "INFO next" {
		t.Errorf("app (multiline java): %+v", app)
	}
	api := byCtr["api"]
	if len(api) != 2 || api[0].Fields["msg"] != "served" || api[1].Message != "not json" || !slicesContains(api[1].Log.Flags, "parse_failed") {
		t.Errorf("api (json, drop DEBUG): %+v", api)
	}
	for _, r := range recs {
		if want := map[string]string{"api": "audit"}[r.Kubernetes.Container.Name]; r.Logferry.Route != want {
			t.Errorf("%s record %q: route %q, want %q", r.Kubernetes.Container.Name, r.Message, r.Logferry.Route, want)
		}
	}
	waitFor(t, "the Event for the bad annotation", 5*time.Second, func() bool {
		l, err := client.CoreV1().Events("prod").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false
		}
		for _, e := range l.Items {
			if e.InvolvedObject.Name == "web-0" && strings.Contains(e.Message, "logferry.io/rate-limit") {
				return true
			}
		}
		return false
	})
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestLogFilesInsidePods: logferry.io/files names a glob on an emptyDir volume; the
// files are read (through a rotation: renamed, then a new live file), enriched, and
// carry their in-container path; a file that is a symlink to /etc/shadow matches the
// glob too but is refused (an Event) and nothing of it is read.
func TestLogFilesInsidePods(t *testing.T) {
	root := t.TempDir()
	kubelet := filepath.Join(root, "kubelet-pods")
	vol := filepath.Join(kubelet, "uid-9", "volumes", "kubernetes.io~empty-dir", "logs")
	if err := os.MkdirAll(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "pods"), 0o755); err != nil {
		t.Fatal(err)
	}
	appendTo := func(name string, lines ...string) {
		f, err := os.OpenFile(filepath.Join(vol, name), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, l := range lines {
			f.WriteString(l + "\n")
		}
	}
	appendTo("app.log", "one", "two")
	if err := os.Symlink("/etc/shadow", filepath.Join(vol, "evil.log")); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "legacy-0", Namespace: "prod", UID: types.UID("uid-9"),
			Annotations: map[string]string{"logferry.io/files": "app:/app/logs/*.log"}},
		Spec: corev1.PodSpec{NodeName: "node-1",
			Volumes: []corev1.Volume{{Name: "logs", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			Containers: []corev1.Container{{Name: "app", Image: "legacy:1",
				VolumeMounts: []corev1.VolumeMount{{Name: "logs", MountPath: "/app/logs"}}}}},
	}
	client, kc := kubefake.New(pod)
	cfg := testConfig(t, root)
	cfg.NodeName = "node-1"
	cfg.Kubernetes.KubeletPodsDir = kubelet
	cfg.Kubernetes.PodFilesInterval = 50 * time.Millisecond
	out := filepath.Join(root, "out.json")
	_, stop := run(t, cfg, Options{Logger: testLogger(t), KubeClient: kc})
	defer stop()
	type rec struct {
		Message string `json:"message"`
		Log     struct {
			File struct {
				Path     string `json:"path"`
				HostPath string `json:"host_path"`
			} `json:"file"`
		} `json:"log"`
		Kubernetes struct {
			Pod       struct{ Name string }        `json:"pod"`
			Container struct{ Name, Image string } `json:"container"`
		} `json:"kubernetes"`
	}
	read := func() []rec {
		b, _ := os.ReadFile(out)
		var rs []rec
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var r rec
			if json.Unmarshal([]byte(l), &r) == nil {
				rs = append(rs, r)
			}
		}
		return rs
	}
	waitFor(t, "the first two lines", 10*time.Second, func() bool { return len(read()) == 2 })
	// logrotate-style rotation: rename, then the app writes a new file.
	appendTo("app.log", "three")
	time.Sleep(200 * time.Millisecond)
	if err := os.Rename(filepath.Join(vol, "app.log"), filepath.Join(vol, "app.log.1")); err != nil {
		t.Fatal(err)
	}
	appendTo("app.log.1", "four (late write to the renamed file)")
	appendTo("app.log", "five")
	waitFor(t, "five lines", 10*time.Second, func() bool { return len(read()) == 5 })
	time.Sleep(300 * time.Millisecond)
	rs := read()
	var msgs []string
	for _, r := range rs {
		msgs = append(msgs, r.Message)
		if r.Log.File.Path != "/app/logs/app.log" && r.Log.File.Path != "/app/logs/app.log.1" {
			t.Errorf("log.file.path = %q, want the in-container path", r.Log.File.Path)
		}
		if !strings.HasPrefix(r.Log.File.HostPath, vol) || r.Kubernetes.Pod.Name != "legacy-0" || r.Kubernetes.Container.Image != "legacy:1" {
			t.Errorf("record %+v", r)
		}
	}
	if got := strings.Join(msgs, "|"); got != "one|two|three|four (late write to the renamed file)|five" {
		t.Errorf("lines = %s", got)
	}
	waitFor(t, "the Event refusing the symlink", 5*time.Second, func() bool {
		l, err := client.CoreV1().Events("prod").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false
		}
		for _, e := range l.Items {
			if strings.Contains(e.Message, "evil.log") {
				return true
			}
		}
		return false
	})
}

// TestReloadPodRules: pod_rules change with a reload and apply to lines read after it.
func TestReloadPodRules(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "pods", "prod_web-0_uid-1", "app")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	logf := filepath.Join(dir, "0.log")
	appendLine := func(msg string) {
		f, err := os.OpenFile(logf, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		f.WriteString("2026-11-22T10:00:00Z stdout F " + msg + "\n")
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "prod", UID: types.UID("uid-1"), Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "app"}}}}
	_, kc := kubefake.New(pod)
	cfg := testConfig(t, root)
	cfg.NodeName = "node-1"
	out := filepath.Join(root, "out.json")
	a, stop := run(t, cfg, Options{Logger: testLogger(t), KubeClient: kc})
	defer stop()
	appendLine("DEBUG kept before the rule")
	waitFor(t, "the first record", 5*time.Second, func() bool { return len(readKubeRecords(t, out)) == 1 })

	next := *cfg
	next.PodRules = []config.PodRule{{Selector: "app=web", Settings: map[string]string{"drop": "^DEBUG "}}}
	if err := a.Reload(func() (*config.Config, error) { return &next, next.Validate() }); err != nil {
		t.Fatal(err)
	}
	appendLine("DEBUG dropped after the rule")
	appendLine("INFO kept")
	waitFor(t, "the INFO record", 5*time.Second, func() bool { return len(readKubeRecords(t, out)) == 2 })
	time.Sleep(200 * time.Millisecond)
	rs := readKubeRecords(t, out)
	if len(rs) != 2 || rs[0].Message != "DEBUG kept before the rule" || rs[1].Message != "INFO kept" {
		t.Fatalf("records after the reload: %+v", rs)
	}
}
