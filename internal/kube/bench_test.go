package kube_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/kube"
	"github.com/logferry/logferry/internal/kube/kubefake"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// realisticPod is a Deployment's pod with the labels, annotations and spec size real
// clusters have (two containers, env, probes, volumes).
func realisticPod(i int) *corev1.Pod {
	yes := true
	p := testPod(fmt.Sprintf("uid-%05d", i), fmt.Sprintf("web-%d-7d9f8c6b5-x%05d", i%50, i), controlledBy("ReplicaSet", fmt.Sprintf("web-%d-7d9f8c6b5", i%50)))
	p.OwnerReferences[0].Controller = &yes
	p.Labels = map[string]string{"app.kubernetes.io/name": "web", "app.kubernetes.io/instance": "prod", "app.kubernetes.io/version": "1.4.2",
		"pod-template-hash": "7d9f8c6b5", "team": "payments"}
	p.Annotations = map[string]string{"kubectl.kubernetes.io/restartedAt": "2026-11-20T10:00:00Z", "prometheus.io/scrape": "true",
		"prometheus.io/port": "9090", "logferry.io/parse": "json"}
	for c := range p.Spec.Containers {
		ct := &p.Spec.Containers[c]
		for e := range 12 {
			ct.Env = append(ct.Env, corev1.EnvVar{Name: fmt.Sprintf("ENV_%d", e), Value: "some-configuration-value"})
		}
		ct.VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}, {Name: "kube-api-access-x", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}}
	}
	p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	p.Status.Conditions = []corev1.PodCondition{{Type: "Ready", Status: "True"}, {Type: "ContainersReady", Status: "True"}, {Type: "PodScheduled", Status: "True"}}
	p.CreationTimestamp = metav1.Now()
	p.UID = types.UID(fmt.Sprintf("uid-%05d", i))
	return p
}

// BenchmarkCacheMemory reports the heap the metadata cache (informer store plus the
// rendered metadata) holds for 1,000 pods on a node: the heap after syncing, minus the
// heap with the same fake API server and no cache.
func BenchmarkCacheMemory(b *testing.B) {
	const pods = 1000
	objs := make([]k8sruntime.Object, pods)
	for i := range objs {
		objs[i] = realisticPod(i)
	}
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	for n := 0; n < b.N; n++ {
		cs, client := kubefake.New(objs...)
		base := heap()
		c := kube.New(kube.Options{Client: client, NodeName: "node-1", Annotations: []string{"prometheus.io/*"}})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		for !c.Synced() {
			time.Sleep(time.Millisecond)
		}
		for c.Stats().Pods < pods {
			time.Sleep(time.Millisecond)
		}
		used := heap() - base
		b.ReportMetric(float64(used)/(1<<20), "MiB/1000pods")
		b.ReportMetric(float64(used)/pods, "B/pod")
		cancel()
		<-done
		runtime.KeepAlive(cs)
	}
}
