package kubetest_test

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/testenv"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/logferry/logferry/internal/kubetest"
)

// TestCluster starts a real API server and checks what the agent's tests rely on: pods bound
// to a node without a scheduler, the spec.nodeName field selector, RBAC enforcement for a
// ServiceAccount token, and kubeconfig files that kubectl accepts.
func TestCluster(t *testing.T) {
	c := kubetest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs := c.Clientset()

	const ns, node = "apps", "node-a"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, nodeName := range map[string]string{"web-1": node, "web-2": "node-b"} {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{
				NodeName:   nodeName, // no scheduler: bound at creation
				Containers: []corev1.Container{{Name: "app", Image: "busybox"}},
			},
		}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create pod %s: %v", name, err)
		}
	}
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 || pods.Items[0].Name != "web-1" || pods.Items[0].Namespace != ns {
		t.Fatalf("pods on %s: got %v, want only %s/web-1", node, podNames(pods.Items), ns)
	}
	if p := pods.Items[0]; p.Status.Phase != corev1.PodPending || p.Spec.NodeName != node {
		t.Errorf("pod web-1: phase %q node %q, want Pending on %s (there is no kubelet)", p.Status.Phase, p.Spec.NodeName, node)
	}

	// RBAC: a ServiceAccount token without a role is denied, then allowed once bound.
	token := c.ServiceAccountToken(t, "logferry", "agent")
	if token == "" {
		t.Fatal("empty service account token")
	}
	saCfg := c.RestConfig()
	saCfg.BearerToken = token
	sa, err := kubernetes.NewForConfig(saCfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = sa.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("listing pods as system:serviceaccount:logferry:agent without a role: err = %v, want 403 Forbidden", err)
	}
	t.Logf("without a role: %v", err)
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "logferry-agent"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}}},
	}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "logferry-agent"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "logferry", Name: "agent"}},
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The authorizer reads roles from informers: the binding takes effect a moment later.
	deadline := time.Now().Add(20 * time.Second)
	for {
		pods, err = sa.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
		if err == nil {
			break
		}
		if !apierrors.IsForbidden(err) || time.Now().After(deadline) {
			t.Fatalf("listing pods as the bound service account: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(pods.Items) != 1 || pods.Items[0].Name != "web-1" {
		t.Fatalf("service account: pods on %s: got %v, want web-1", node, podNames(pods.Items))
	}
	if _, err := sa.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing secrets as the service account: err = %v, want 403 Forbidden (the role grants pods only)", err)
	}

	t.Run("kubectl", func(t *testing.T) {
		kubectl := testenv.NeedTool(t, "kubectl", "it is preinstalled in the go image at /usr/bin/kubectl")
		cacheDir := t.TempDir()
		run := func(kubeconfig string, args ...string) (string, error) {
			cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", kubeconfig, "--cache-dir", cacheDir}, args...)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				return string(out) + stderr.String(), err
			}
			return string(out), nil
		}
		out, err := run(c.Kubeconfig(t), "get", "pods", "-A")
		if err != nil {
			t.Fatalf("kubectl get pods -A (admin): %v\n%s", err, out)
		}
		t.Logf("kubectl get pods -A:\n%s", out)
		if !strings.Contains(out, "web-1") || !strings.Contains(out, "web-2") || !strings.Contains(out, "Pending") {
			t.Errorf("kubectl get pods -A: want web-1 and web-2 Pending, got:\n%s", out)
		}

		saKubeconfig := c.KubeconfigForToken(t, token)
		out, err = run(saKubeconfig, "get", "pods", "-A", "--field-selector", "spec.nodeName="+node, "-o", "name")
		if err != nil || strings.TrimSpace(out) != "pod/web-1" {
			t.Errorf("kubectl get pods as the service account: %v, got %q, want pod/web-1", err, out)
		}
		out, err = run(saKubeconfig, "get", "secrets", "-n", ns)
		if err == nil || !strings.Contains(out, "Forbidden") {
			t.Errorf("kubectl get secrets as the service account: %v, want Forbidden, got:\n%s", err, out)
		}
	})
}

func podNames(pods []corev1.Pod) []string {
	var names []string
	for _, p := range pods {
		names = append(names, p.Namespace+"/"+p.Name)
	}
	return names
}
