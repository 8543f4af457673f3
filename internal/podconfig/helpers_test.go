package podconfig

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// newPod returns a pod of namespace "shop" named "checkout-7d9f" with containers "app"
// and "sidecar", the given annotations and labels app=checkout, tier=web.
func newPod(annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   "shop",
			Name:        "checkout-7d9f",
			UID:         "0b1c2d3e-1111-2222-3333-444455556666",
			Labels:      map[string]string{"app": "checkout", "tier": "web"},
			Annotations: annotations,
		},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "migrate", Image: "shop/migrate:1"}},
			Containers: []corev1.Container{
				{Name: "app", Image: "shop/checkout:1.4"},
				{Name: "sidecar", Image: "envoy:1.30"},
			},
		},
	}
}

// podInfo is what the agent's pod cache hands to Resolve.
func podInfo(p *corev1.Pod) PodInfo {
	info := PodInfo{Namespace: p.Namespace, Name: p.Name, Labels: p.Labels}
	for _, c := range p.Spec.InitContainers {
		info.Containers = append(info.Containers, c.Name)
	}
	for _, c := range p.Spec.Containers {
		info.Containers = append(info.Containers, c.Name)
	}
	for _, c := range p.Spec.EphemeralContainers {
		info.Containers = append(info.Containers, c.Name)
	}
	return info
}

// resolvePod resolves container of p with the given rules and default Options.
func resolvePod(p *corev1.Pod, container string, rules ...Rule) (Settings, []Problem) {
	return Resolve(p.Annotations, rules, podInfo(p), container, Options{})
}

// wantProblem is an expected Problem: its exact key and a part of its reason.
type wantProblem struct{ key, reason string }

func checkProblems(t *testing.T, got []Problem, want []wantProblem, annotations map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("problems = %v, want %d: %v", got, len(want), want)
	}
	for i, w := range want {
		p := got[i]
		if p.Key != w.key || !strings.Contains(p.Reason, w.reason) {
			t.Errorf("problem %d = %q (reason %q), want key %q, reason containing %q", i, p.Key, p.Reason, w.key, w.reason)
		}
		if v, ok := annotations[p.Key]; ok && p.Value != v {
			t.Errorf("problem %d value = %q, want the annotation's %q", i, p.Value, v)
		}
		if !strings.Contains(p.Error(), p.Key) {
			t.Errorf("Error() %q does not name the key", p.Error())
		}
	}
}

func regexStrings[T interface{ String() string }](res []T) []string {
	var out []string
	for _, re := range res {
		out = append(out, re.String())
	}
	return out
}

func multilineString(m *Multiline) string {
	if m == nil {
		return "off"
	}
	start := ""
	if m.Start != nil {
		start = m.Start.String()
	}
	return fmt.Sprintf("preset=%s start=%s lines=%d bytes=%d timeout=%s", m.Preset, start, m.MaxLines, m.MaxBytes, m.Timeout)
}

func rateString(r *RateLimit) string {
	if r == nil {
		return "off"
	}
	return fmt.Sprintf("lines=%g bytes=%g burst=%g", r.Lines, r.Bytes, r.Burst)
}
