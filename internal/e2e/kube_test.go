package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/testenv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/logferry/logferry/internal/kubetest"
)

// TestKubernetesMetadata runs the agent binary against a real kube-apiserver (with
// etcd), authenticated as the shipped ServiceAccount with the shipped ClusterRole (RBAC
// enforced). Pods are created, relabelled, deleted and recreated with the same name
// during the test; the agent must see only its own node's pods, enrich each line with
// the pod's metadata as it was when the line was read, keep enriching a deleted pod's
// remaining lines, and give a recreated pod (new UID) its own metadata.
func TestKubernetesMetadata(t *testing.T) {
	if testing.Short() {
		t.Skip("kube-apiserver integration: skipped with -short")
	}
	kubectl := testenv.NeedTool(t, "kubectl", "kubectl (a Kubernetes client of v1.32 or later)")
	cluster := kubetest.Start(t)
	admin := cluster.Kubeconfig(t)
	ctx := context.Background()

	// Install the shipped RBAC (and the rest of the base) with the admin user.
	rendered, err := exec.Command(kubectl, "kustomize", filepath.Join(repoRoot(t), "deploy", "kustomize")).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v", err)
	}
	apply := exec.Command(kubectl, "--kubeconfig", admin, "apply", "-f", "-")
	apply.Stdin = bytes.NewReader(rendered)
	if out, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	token := cluster.ServiceAccountToken(t, "logferry", "logferry")
	agentKubeconfig := cluster.KubeconfigForToken(t, token)
	client := cluster.Clientset()
	for _, ns := range []string{"shop"} {
		if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	root := t.TempDir()
	pods := filepath.Join(root, "pods")
	newPod := func(name, node, version string) *corev1.Pod {
		p, err := client.CoreV1().Pods("shop").Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name, "version": version}},
			Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app", Image: "shop/" + name + ":" + version}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	logLine := func(p *corev1.Pod, msg string) {
		dir := filepath.Join(pods, p.Namespace+"_"+p.Name+"_"+string(p.UID), "app")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(filepath.Join(dir, "0.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fmt.Fprintf(f, "%s stdout F %s\n", time.Now().UTC().Format(time.RFC3339Nano), msg)
	}

	web := newPod("web", "node-a", "v1")
	other := newPod("db", "node-b", "v1") // another node's pod: never watched
	logLine(web, "web-1")
	logLine(other, "db-1")

	out := filepath.Join(root, "out.json")
	cfg := filepath.Join(root, "agent.yaml")
	writeFile(t, cfg, "node_name: node-a\ndata_dir: "+filepath.Join(root, "data")+"\nsources:\n  pods_dir: "+pods+
		"\n  poll_interval: 50ms\n  rescan_interval: 500ms\ncheckpoint:\n  interval: 100ms\n"+
		"kubernetes:\n  enabled: \"true\"\n  kubeconfig: "+agentKubeconfig+"\n  sync_timeout: 20s\n"+
		"sinks:\n  - name: out\n    type: file\n    path: "+out+"\n")
	addr := freeAddr(t)
	agent := startDaemon(t, "agent", binary, "agent", "--config", cfg, "--http-addr", addr)
	recs := func() map[string]kubeRecord {
		b, _ := os.ReadFile(out)
		m := map[string]kubeRecord{}
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var r kubeRecord
			if json.Unmarshal([]byte(l), &r) == nil {
				m[r.Message] = r
			}
		}
		return m
	}
	waitRecord := func(msg string) kubeRecord {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if r, ok := recs()[msg]; ok {
				return r
			}
			if agent.exited() {
				t.Fatalf("agent exited:\n%s", agent.log)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("no record %q within 20s; agent log:\n%s", msg, tailString(agent.log.String(), 4000))
		return kubeRecord{}
	}
	check := func(r kubeRecord, uid, version string) {
		t.Helper()
		k := r.Kubernetes
		if k.Pod.UID != uid || k.Labels["version"] != version || k.Node.Name != "node-a" || k.Container.Image != "shop/web:"+version {
			t.Errorf("record %q: uid %s labels %v node %q image %q; want uid %s version %s on node-a",
				r.Message, k.Pod.UID, k.Labels, k.Node.Name, k.Container.Image, uid, version)
		}
	}
	check(waitRecord("web-1"), string(web.UID), "v1")
	if r := waitRecord("db-1"); r.Kubernetes.Node.Name != "" || len(r.Kubernetes.Labels) != 0 || r.Kubernetes.Pod.Name != "db" {
		t.Errorf("another node's pod must carry only the path-derived fields: %+v", r.Kubernetes)
	}

	// Relabelled: lines read afterwards carry the new labels.
	web = relabel(t, client, web, "v2")
	time.Sleep(500 * time.Millisecond)
	logLine(web, "web-2")
	r := waitRecord("web-2")
	if r.Kubernetes.Labels["version"] != "v2" {
		t.Errorf("after the relabel: labels %v, want version v2", r.Kubernetes.Labels)
	}

	// Deleted: its remaining lines are still enriched.
	// Grace period 0: no kubelet runs here to confirm a graceful deletion.
	if err := client.CoreV1().Pods("shop").Delete(ctx, "web", *metav1.NewDeleteOptions(0)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	logLine(web, "web-3")
	if r := waitRecord("web-3"); r.Kubernetes.Labels["version"] != "v2" || r.Kubernetes.Pod.UID != string(web.UID) {
		t.Errorf("a deleted pod's last line lost its metadata: %+v", r.Kubernetes)
	}

	// Recreated with the same name (StatefulSet style): a new UID with its own metadata.
	web2 := newPod("web", "node-a", "v3")
	// A kubelet starts containers well after the pod is bound; give the watch that moment.
	time.Sleep(500 * time.Millisecond)
	logLine(web2, "web-4")
	check(waitRecord("web-4"), string(web2.UID), "v3")

	if m := httpGetString(t, "http://"+addr+"/metrics"); !strings.Contains(m, "logferry_kubernetes_synced 1") ||
		!strings.Contains(m, `logferry_kubernetes_api_requests_total{verb="list"} 1`) {
		t.Errorf("kubernetes metrics:\n%s", grepLines(m, "logferry_kubernetes_"))
	}
}

type kubeRecord struct {
	Message    string `json:"message"`
	Kubernetes struct {
		Labels map[string]string `json:"labels"`
		Node   struct {
			Name string `json:"name"`
		} `json:"node"`
		Pod struct {
			Name string `json:"name"`
			UID  string `json:"uid"`
		} `json:"pod"`
		Container struct {
			Image string `json:"image"`
		} `json:"container"`
	} `json:"kubernetes"`
}

func relabel(t *testing.T, client kubernetes.Interface, p *corev1.Pod, version string) *corev1.Pod {
	t.Helper()
	cur, err := client.CoreV1().Pods(p.Namespace).Get(context.Background(), p.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Labels["version"] = version
	upd, err := client.CoreV1().Pods(p.Namespace).Update(context.Background(), cur, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return upd
}

// repoRoot is the module root (tests run in their package directory).
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(wd, "..", "..")
}
