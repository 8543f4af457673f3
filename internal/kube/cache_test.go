package kube_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/kube"
	"github.com/logferry/logferry/internal/kube/kubefake"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/logferry/logferry/internal/record"
)

func testPod(uid, name string, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "prod", UID: types.UID(uid),
			Labels:      map[string]string{"app": "web", "pod-template-hash": "7d9f8c"},
			Annotations: map[string]string{"team.example.com/owner": "payments", "other": "x", "logferry.io/parse": "json"}},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27"}, {Name: "side", Image: "envoy:1"}}},
		Status: corev1.PodStatus{PodIP: "10.0.0.5", ContainerStatuses: []corev1.ContainerStatus{
			{Name: "app", Image: "docker.io/library/nginx:1.27", ContainerID: "containerd://abc123"}}},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func controlledBy(kind, name string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		yes := true
		p.OwnerReferences = []metav1.OwnerReference{{Kind: kind, Name: name, Controller: &yes, APIVersion: "apps/v1", UID: "o1"}}
	}
}

func TestOwners(t *testing.T) {
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want []record.Owner
	}{
		{"bare pod", testPod("u", "p"), nil},
		{"deployment", testPod("u", "p", controlledBy("ReplicaSet", "web-7d9f8c")),
			[]record.Owner{{Kind: "replicaset", Name: "web-7d9f8c"}, {Kind: "deployment", Name: "web"}}},
		{"replicaset without the hash", testPod("u", "p", controlledBy("ReplicaSet", "web")),
			[]record.Owner{{Kind: "replicaset", Name: "web"}}},
		{"statefulset", testPod("u", "p", controlledBy("StatefulSet", "db")), []record.Owner{{Kind: "statefulset", Name: "db"}}},
		{"daemonset", testPod("u", "p", controlledBy("DaemonSet", "agent")), []record.Owner{{Kind: "daemonset", Name: "agent"}}},
		{"cronjob", testPod("u", "p", controlledBy("Job", "backup-29384756")),
			[]record.Owner{{Kind: "job", Name: "backup-29384756"}, {Kind: "cronjob", Name: "backup"}}},
		{"plain job", testPod("u", "p", controlledBy("Job", "migrate-v2")), []record.Owner{{Kind: "job", Name: "migrate-v2"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := kube.Owners(tc.pod); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("owners = %v, want %v", got, tc.want)
			}
		})
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCacheLifecycle(t *testing.T) {
	cs, client := kubefake.New()
	now := time.Now()
	clock := func() time.Time { return now }
	c := kube.New(kube.Options{Client: client, NodeName: "node-1", Annotations: []string{"*.example.com/*"}, RetainDeleted: time.Minute, Now: clock})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	waitFor(t, "sync", c.Synced)

	pods := cs.CoreV1().Pods("prod")
	if _, err := pods.Create(ctx, testPod("u1", "web-0", controlledBy("ReplicaSet", "web-7d9f8c")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the pod", func() bool { _, ok := c.Lookup("u1"); return ok })
	p, _ := c.Lookup("u1")
	app := p.Kube("app")
	want := &record.Kube{NodeName: "node-1", PodIP: "10.0.0.5", Labels: map[string]string{"app": "web", "pod-template-hash": "7d9f8c"},
		Annotations: map[string]string{"team.example.com/owner": "payments"},
		Owners:      []record.Owner{{Kind: "replicaset", Name: "web-7d9f8c"}, {Kind: "deployment", Name: "web"}},
		Image:       "nginx:1.27", ContainerID: "abc123", Runtime: "containerd"}
	if !reflect.DeepEqual(app, want) {
		t.Errorf("app = %+v\nwant %+v", app, want)
	}
	if side := p.Kube("side"); side.Image != "envoy:1" || side.ContainerID != "" {
		t.Errorf("side (no status yet) = %+v", side)
	}
	if p.Annotations["logferry.io/parse"] != "json" {
		t.Errorf("all annotations must stay available: %v", p.Annotations)
	}

	// Relabelled: a new generation with the new labels.
	gen := p.Generation
	upd := testPod("u1", "web-0", controlledBy("ReplicaSet", "web-7d9f8c"), func(p *corev1.Pod) {
		p.Labels["tier"] = "front"
		p.ResourceVersion = "2"
	})
	if _, err := pods.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the relabel", func() bool { p, _ := c.Lookup("u1"); return p.Labels["tier"] == "front" })
	if p, _ := c.Lookup("u1"); p.Generation <= gen {
		t.Errorf("generation did not move: %d -> %d", gen, p.Generation)
	}

	// Deleted, then recreated with the same name and a new UID (StatefulSet style):
	// both are known, each with its own metadata.
	if err := pods.Delete(ctx, "web-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deletion", func() bool { p, _ := c.Lookup("u1"); return p.Deleted })
	if _, err := pods.Create(ctx, testPod("u2", "web-0", func(p *corev1.Pod) { p.Status.PodIP = "10.0.0.9" }), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new pod", func() bool { _, ok := c.Lookup("u2"); return ok })
	p1, _ := c.Lookup("u1")
	p2, _ := c.Lookup("u2")
	if p1.Kube("app").PodIP != "10.0.0.5" || p2.Kube("app").PodIP != "10.0.0.9" {
		t.Errorf("recreated pod mixed up: old %s new %s", p1.Kube("app").PodIP, p2.Kube("app").PodIP)
	}
	// The deleted pod stays while looked up, and goes RetainDeleted after the last lookup.
	now = now.Add(50 * time.Second)
	c.Lookup("u1")
	now = now.Add(50 * time.Second)
	c.GC()
	if _, ok := c.Lookup("u1"); !ok {
		t.Fatal("deleted pod dropped although looked up 50s ago")
	}
	now = now.Add(2 * time.Minute)
	c.GC()
	if _, ok := c.Lookup("u1"); ok {
		t.Fatal("deleted pod kept 2 minutes after its last lookup")
	}
	if _, ok := c.Lookup("u2"); !ok {
		t.Fatal("a live pod must never be dropped")
	}
	if st := c.Stats(); st.Pods != 1 || st.Events < 4 || !st.Synced {
		t.Errorf("stats = %+v", st)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestEventsOncePerGeneration(t *testing.T) {
	cs, client := kubefake.New()
	ev := kube.NewEvents(client, "node-1", nil)
	defer ev.Stop()
	p := &kube.Pod{UID: "u1", Namespace: "prod", Name: "web-0", Generation: 1}
	ev.Warn(p, `logferry.io/multiline: unknown preset "jav"`)
	ev.Warn(p, `logferry.io/multiline: unknown preset "jav"`) // same generation: not again
	p2 := *p
	p2.Generation = 2
	ev.Warn(&p2, `logferry.io/multiline: unknown preset "jav"`)
	ctx := context.Background()
	waitFor(t, "two events", func() bool {
		l, err := cs.CoreV1().Events("prod").List(ctx, metav1.ListOptions{})
		return err == nil && countEvents(l.Items) == 2
	})
	time.Sleep(100 * time.Millisecond)
	l, _ := cs.CoreV1().Events("prod").List(ctx, metav1.ListOptions{})
	if countEvents(l.Items) != 2 {
		t.Errorf("%d events, want 2", countEvents(l.Items))
	}
	for _, e := range l.Items {
		if e.Reason != kube.EventReason || e.Type != corev1.EventTypeWarning || e.InvolvedObject.Name != "web-0" {
			t.Errorf("event = %+v", e)
		}
	}
}

// countEvents counts occurrences (the broadcaster folds repeats into Count).
func countEvents(es []corev1.Event) int {
	n := 0
	for _, e := range es {
		n += int(max(e.Count, 1))
	}
	return n
}

func TestNamespaceLabels(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "prod", Labels: map[string]string{"env": "production"}}}
	cs, client := kubefake.New(ns, testPod("u1", "web-0"))
	c := kube.New(kube.Options{Client: client, NodeName: "node-1", NamespaceLabels: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	waitFor(t, "namespace labels on the pod", func() bool {
		p, ok := c.Lookup("u1")
		return ok && p.Kube("app").NamespaceLabels["env"] == "production"
	})
	// Relabelled namespace: the pod's metadata follows, with a new generation.
	p, _ := c.Lookup("u1")
	ns.Labels["env"] = "staging"
	ns.ResourceVersion = "2"
	if _, err := cs.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the namespace relabel", func() bool {
		q, _ := c.Lookup("u1")
		return q.Kube("app").NamespaceLabels["env"] == "staging" && q.Generation > p.Generation
	})
}
