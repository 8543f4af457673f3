package agent

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/kube/kubefake"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/logferry/logferry/internal/config"
)

// benchPod is a pod as a Deployment creates it, with the labels and annotations real
// clusters carry.
func benchPod(i int) *corev1.Pod {
	yes := true
	name := fmt.Sprintf("web-%d-7d9f8c6b5-x%04d", i%50, i)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: fmt.Sprintf("ns-%d", i%20), UID: types.UID(fmt.Sprintf("uid-%04d", i)),
			ResourceVersion: "1",
			Labels: map[string]string{"app.kubernetes.io/name": fmt.Sprintf("web-%d", i%50), "app.kubernetes.io/instance": "prod",
				"app.kubernetes.io/version": "1.4.2", "pod-template-hash": "7d9f8c6b5", "team": "payments"},
			Annotations: map[string]string{"kubectl.kubernetes.io/restartedAt": "2026-11-20T10:00:00Z",
				"prometheus.io/scrape": "true", "prometheus.io/port": "9090"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: fmt.Sprintf("web-%d-7d9f8c6b5", i%50), Controller: &yes}}},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/web:1.4.2",
			Env: []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}}}}},
		Status: corev1.PodStatus{PodIP: fmt.Sprintf("10.1.%d.%d", i/250, i%250),
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", ContainerID: fmt.Sprintf("containerd://%064x", i), Image: "registry.example.com/web:1.4.2"}}},
	}
}

// BenchmarkMetadataOverhead measures what pod metadata from the API costs the agent
// at 1,000 pods on the node (a fake clientset holds the pods; labels, annotations,
// owners, container ids as real Deployments have). Each run starts the agent on 10
// lines per pod (startup: the pod list, the first prefixes), then appends 200 lines
// per pod (200,000 lines, ~36 MB) and measures the CPU of reading, enriching, encoding
// and acknowledging them: steady state (the CPU of the test's own writes is not
// counted). It reports both phases, without and with
// metadata, and the steady-state overhead in percent.
func BenchmarkMetadataOverhead(b *testing.B) {
	const pods, lines = 1000, 200
	objs := make([]runtime.Object, pods)
	for i := range objs {
		objs[i] = benchPod(i)
	}
	line := func(l int) string {
		return fmt.Sprintf("2026-11-22T10:00:%02d.%06dZ stdout F request %d served in %dms %s\n", l%60, l, l, l%97, strings.Repeat("x", 120))
	}
	type result struct{ start, steady time.Duration }
	runOnce := func(b *testing.B, withMeta bool) (res result, input int64) {
		root := b.TempDir()
		var files []string
		for i := range pods {
			p := benchPod(i)
			dir := filepath.Join(root, "pods", p.Namespace+"_"+p.Name+"_"+string(p.UID), "app")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			var sb strings.Builder
			for l := range 10 {
				sb.WriteString(line(l))
			}
			f := filepath.Join(dir, "0.log")
			if err := os.WriteFile(f, []byte(sb.String()), 0o644); err != nil {
				b.Fatal(err)
			}
			files = append(files, f)
		}
		cfg := config.Default()
		cfg.NodeName = "node-1"
		cfg.DataDir = filepath.Join(root, "data")
		cfg.Sources.PodsDir = filepath.Join(root, "pods")
		cfg.Sinks = []config.Sink{config.NewSink("null", "discard", "")}
		cfg.Kubernetes.Annotations = []string{"prometheus.io/*"}
		if err := cfg.Validate(); err != nil {
			b.Fatal(err)
		}
		o := Options{Logger: slog.New(slog.DiscardHandler)}
		// Both phases hold the fake API server and its 1,000 pods in this process,
		// where a real agent has them in another: its heap would otherwise be
		// marked by every collection of the metadata phase only.
		_, client := kubefake.New(objs...)
		if withMeta {
			o.KubeClient = client
		}
		t0 := cpuTime()
		a, stop := run(b, cfg, o)
		wait := func(records uint64) {
			for a.Runners()[0].Stats().Records < records {
				time.Sleep(2 * time.Millisecond)
			}
		}
		wait(pods * 10)
		var sb strings.Builder
		for l := 10; l < 10+lines; l++ {
			sb.WriteString(line(l))
		}
		chunk := []byte(sb.String())
		input = int64(len(chunk)) * pods
		t1 := cpuTime()
		// The writer runs on a thread of its own whose CPU is taken out: only the
		// agent's is measured.
		writer := make(chan time.Duration)
		go func() {
			goruntime.LockOSThread()
			defer goruntime.UnlockOSThread()
			w0 := threadCPUTime()
			for _, f := range files {
				fh, err := os.OpenFile(f, os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					panic(err)
				}
				fh.Write(chunk)
				fh.Close()
			}
			writer <- threadCPUTime() - w0
		}()
		written := <-writer
		wait(pods * (10 + lines))
		t2 := cpuTime()
		stop()
		goruntime.KeepAlive(client)
		return result{start: t1 - t0, steady: t2 - t1 - written}, input
	}
	// Runs alternate (plain, metadata, plain, ...) so that drift in the machine's
	// state hits both alike; medians are reported.
	var plain, meta []result
	var input int64
	for n := 0; n < b.N; n++ {
		r, in := runOnce(b, false)
		plain = append(plain, r)
		r, _ = runOnce(b, true)
		meta = append(meta, r)
		input = in
	}
	median := func(rs []result, f func(result) time.Duration) time.Duration {
		v := make([]time.Duration, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	steady := func(r result) time.Duration { return r.steady }
	start := func(r result) time.Duration { return r.start }
	ps, ms := median(plain, steady), median(meta, steady)
	b.ReportMetric(median(plain, start).Seconds(), "plain-start-cpu-s")
	b.ReportMetric(median(meta, start).Seconds(), "meta-start-cpu-s")
	b.ReportMetric(ps.Seconds(), "plain-steady-cpu-s")
	b.ReportMetric(ms.Seconds(), "meta-steady-cpu-s")
	b.ReportMetric(float64(input)/1e6/ps.Seconds(), "plain-MB/cpu-s")
	b.ReportMetric(float64(input)/1e6/ms.Seconds(), "meta-MB/cpu-s")
	b.ReportMetric(100*(ms.Seconds()-ps.Seconds())/ps.Seconds(), "overhead-%")
}

// threadCPUTime is the CPU time of the calling OS thread (lock it first).
func threadCPUTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
