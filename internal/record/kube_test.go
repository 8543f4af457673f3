package record

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/format"
)

func TestPrefixWithKube(t *testing.T) {
	src := Source{Path: "/var/log/pods/prod_web-0_u1/app/0.log", Namespace: "prod", Pod: "web-0", PodUID: "u1", Container: "app", RestartCount: 2,
		Kube: &Kube{NodeName: "node-7", PodIP: "10.0.0.5",
			Labels:          map[string]string{"app.kubernetes.io/name": "web", "app": "web"},
			Annotations:     map[string]string{"team": "payments"},
			NamespaceLabels: map[string]string{"env": "prod"},
			Owners:          []Owner{{Kind: "replicaset", Name: "web-7d9f"}, {Kind: "deployment", Name: "web"}},
			Image:           "nginx:1.27", ContainerID: "abc123", Runtime: "containerd"}}
	var enc Encoder
	out := enc.Append(nil, NewPrefix(src), &format.Entry{Time: time.Unix(1, 0), Msg: []byte("hi"), Stream: format.Stdout}, time.Time{})
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := map[string]any{
		"namespace":        "prod",
		"pod":              map[string]any{"name": "web-0", "uid": "u1", "ip": "10.0.0.5"},
		"container":        map[string]any{"name": "app", "restart_count": 2.0, "image": "nginx:1.27"},
		"node":             map[string]any{"name": "node-7"},
		"replicaset":       map[string]any{"name": "web-7d9f"},
		"deployment":       map[string]any{"name": "web"},
		"labels":           map[string]any{"app": "web", "app_kubernetes_io/name": "web"},
		"annotations":      map[string]any{"team": "payments"},
		"namespace_labels": map[string]any{"env": "prod"},
	}
	if !reflect.DeepEqual(got["kubernetes"], want) {
		t.Errorf("kubernetes = %v\nwant %v", got["kubernetes"], want)
	}
	if c := got["container"]; !reflect.DeepEqual(c, map[string]any{"id": "abc123", "runtime": "containerd"}) {
		t.Errorf("container = %v", c)
	}
}

func TestPrefixRoute(t *testing.T) {
	for _, tc := range []struct {
		route string
		want  any
	}{
		{"audit", map[string]any{"route": "audit"}},
		{"", nil},
	} {
		src := Source{Path: "/p", Namespace: "prod", Pod: "web-0", Container: "app", RestartCount: 0, Kube: &Kube{Route: tc.route}}
		var enc Encoder
		out := enc.Append(nil, NewPrefix(src), &format.Entry{Time: time.Unix(1, 0), Msg: []byte("hi"), Stream: format.Stdout}, time.Time{})
		var got map[string]any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if !reflect.DeepEqual(got["logferry"], tc.want) {
			t.Errorf("route %q: logferry = %v, want %v", tc.route, got["logferry"], tc.want)
		}
		if v, _ := Scalar(Lookup(out, RouteField)); string(v) != tc.route {
			t.Errorf("route %q: Lookup(%s) = %q", tc.route, RouteField, v)
		}
	}
}
