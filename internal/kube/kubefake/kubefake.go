// Package kubefake adapts client-go's clientset (usually its fake) to kube.Client, for
// tests. The agent binary never imports it: it would link every API group of
// Kubernetes (see kube.Client).
package kubefake

import (
	"context"
	"fmt"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/logferry/logferry/internal/kube"
)

// Client is a kube.Client over a clientset.
type Client struct{ CS kubernetes.Interface }

// New returns a fake API (client-go's fake clientset) holding objects, and its
// kube.Client.
func New(objects ...runtime.Object) (*fake.Clientset, kube.Client) {
	cs := fake.NewSimpleClientset(objects...)
	return cs, Client{CS: cs}
}

func (c Client) ListPods(ctx context.Context, o metav1.ListOptions) (*corev1.PodList, error) {
	return c.CS.CoreV1().Pods("").List(ctx, o)
}

func (c Client) WatchPods(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
	return c.CS.CoreV1().Pods("").Watch(ctx, o)
}

func (c Client) ListNamespaces(ctx context.Context, o metav1.ListOptions) (*corev1.NamespaceList, error) {
	return c.CS.CoreV1().Namespaces().List(ctx, o)
}

func (c Client) WatchNamespaces(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
	return c.CS.CoreV1().Namespaces().Watch(ctx, o)
}

// CreateEvent creates e; the fake does not generate names, so a GenerateName gets a
// counter appended here.
func (c Client) CreateEvent(ctx context.Context, e *corev1.Event) error {
	if e.Name == "" && e.GenerateName != "" {
		e = e.DeepCopy()
		e.Name = fmt.Sprintf("%s%d", e.GenerateName, seq.Add(1))
	}
	_, err := c.CS.CoreV1().Events(e.Namespace).Create(ctx, e, metav1.CreateOptions{})
	return err
}

// seq numbers generated names.
var seq atomic.Int64

func (c Client) ListEvents(ctx context.Context, ns string, o metav1.ListOptions) (*corev1.EventList, error) {
	return c.CS.CoreV1().Events(ns).List(ctx, o)
}
