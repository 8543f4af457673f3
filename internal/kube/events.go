package kube

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// EventReason is the reason of the Events the agent posts on pods whose logferry.io/
// annotations (or log files) it cannot use.
const EventReason = "LogferryConfig"

// Events posts Warning Events on pods, at most once per pod, problem and pod
// generation (the same bad annotation is not reported at every read). Posting happens
// in the background, off the caller's path, and never blocks it: when the queue is
// full, the event is dropped (and logged).
type Events struct {
	client Client
	node   string
	log    *slog.Logger
	queue  chan *corev1.Event
	done   chan struct{}
	stop   sync.Once

	mu   sync.Mutex
	seen map[string]uint64 // uid + "\x00" + message -> generation reported
}

// NewEvents starts posting events through client. Stop ends it.
func NewEvents(client Client, node string, log *slog.Logger) *Events {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Events{client: client, node: node, log: log, queue: make(chan *corev1.Event, 256),
		done: make(chan struct{}), seen: map[string]uint64{}}
	go e.run()
	return e
}

func (e *Events) run() {
	defer close(e.done)
	for ev := range e.queue {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := e.client.CreateEvent(ctx, ev); err != nil {
			e.log.Warn("cannot post a Kubernetes event", "namespace", ev.Namespace, "pod", ev.InvolvedObject.Name, "err", err)
		}
		cancel()
	}
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
	now := metav1.Now()
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: p.Name + ".", Namespace: p.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: p.Namespace, Name: p.Name,
			UID: types.UID(p.UID)},
		Reason: EventReason, Message: truncate(message, 1024), Type: corev1.EventTypeWarning,
		Source:         corev1.EventSource{Component: "logferry", Host: e.node},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
		ReportingController: "logferry.io/agent", ReportingInstance: "logferry-" + e.node,
	}
	select {
	case e.queue <- ev:
	default:
		e.log.Warn("kubernetes event queue full; event dropped", "pod", p.Name, "message", message)
	}
}

// Stop posts what is queued and stops.
func (e *Events) Stop() {
	e.stop.Do(func() { close(e.queue) })
	<-e.done
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// ListEvents returns the logferry Events of a pod (tests and status).
func ListEvents(ctx context.Context, client Client, namespace, pod string) ([]corev1.Event, error) {
	l, err := client.ListEvents(ctx, namespace, metav1.ListOptions{FieldSelector: fmt.Sprintf("involvedObject.name=%s,reason=%s", pod, EventReason)})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}
