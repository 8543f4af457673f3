package kube

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// EventReason is the reason of the Events the agent posts on pods whose logferry.io/
// annotations (or log files) it cannot use.
const EventReason = "LogferryConfig"

// Events posts Warning Events on pods, at most once per pod, problem and pod
// generation (the same bad annotation is not reported at every read).
type Events struct {
	rec  record.EventRecorder
	stop func()

	mu   sync.Mutex
	seen map[string]uint64 // uid + "\x00" + message -> generation reported
}

// NewEvents starts an event broadcaster writing through client. Stop releases it.
func NewEvents(client coreClient, node string) *Events {
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	rec := b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "logferry", Host: node})
	return &Events{rec: rec, stop: b.Shutdown, seen: map[string]uint64{}}
}

// coreClient is the part of the clientset Events needs.
type coreClient interface {
	CoreV1() typedcorev1.CoreV1Interface
}

// Warn reports message on pod p (once per generation of p).
func (e *Events) Warn(p *Pod, message string) {
	key := p.UID + "\x00" + message
	e.mu.Lock()
	if g, ok := e.seen[key]; ok && g == p.Generation {
		e.mu.Unlock()
		return
	}
	e.seen[key] = p.Generation
	if len(e.seen) > 10000 { // bound: forget everything rather than grow without end
		e.seen = map[string]uint64{key: p.Generation}
	}
	e.mu.Unlock()
	ref := &corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: p.Namespace, Name: p.Name, UID: types.UID(p.UID)}
	e.rec.Event(ref, corev1.EventTypeWarning, EventReason, message)
}

// Stop flushes and stops the broadcaster.
func (e *Events) Stop() { e.stop() }

// ListEvents returns the logferry Events of a pod (tests and status).
func ListEvents(ctx context.Context, client coreClient, namespace, pod string) ([]corev1.Event, error) {
	l, err := client.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + pod + ",reason=" + EventReason})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}
