package record

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/format"
)

// leafPaths lists the dotted paths of every scalar in a decoded JSON object.
func leafPaths(prefix string, v any, out *[]string) {
	m, ok := v.(map[string]any)
	if !ok {
		*out = append(*out, prefix)
		return
	}
	for k, x := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		leafPaths(p, x, out)
	}
}

// A scalar found in Prefix.Consts is the scalar the same path finds in every record
// rendered with the prefix, whatever the entry carries (parsed fields, docker attrs,
// flags); paths Consts lacks are looked up in the record.
func TestConstsMatchRecords(t *testing.T) {
	kube := &Kube{NodeName: "n1", PodIP: "10.0.0.1", Labels: map[string]string{"app.kubernetes.io/name": "web", "team": "a"},
		Annotations: map[string]string{"x": "1"}, Owners: []Owner{{"replicaset", "web-1"}, {"deployment", "web"}},
		Image: "img:1", ContainerID: "abc", Runtime: "containerd", Route: "audit"}
	sources := []Source{
		{Path: "/p/0.log", RestartCount: -1},
		{Path: "/var/log/pods/ns_pod_uid/c/0.log", Namespace: "ns", Pod: "pod", PodUID: "uid", Container: "c", RestartCount: 2, FileID: 7},
		{Path: "/app/logs/a.log", HostPath: "/var/lib/kubelet/pods/uid/volumes/x/a.log", Namespace: "ns", Pod: "pod", PodUID: "uid", Container: "c", RestartCount: 0, Kube: kube},
		{Path: "/d/x-json.log", ContainerID: "d0", Runtime: "docker", RestartCount: -1},
	}
	entries := []format.Entry{
		{Msg: []byte(`plain "quoted" message with kubernetes.namespace=evil`), Stream: format.Stdout},
		{Msg: []byte("caf\xe9"), Stream: format.Stderr, Partial: true, Truncated: true},
		{Fields: []byte(`{"kubernetes":{"namespace":"spoofed"},"log":{"file":{"path":"spoofed"}},"level":"info"}`), FieldsKey: "fields"},
		{Msg: []byte("m"), Attrs: []format.Attr{{Key: "kubernetes", Value: "attr"}}, Multiline: true, ParseFailed: true},
	}
	for _, src := range sources {
		p := NewPrefix(src)
		var consts any
		if err := json.Unmarshal(p.Consts(), &consts); err != nil {
			t.Fatalf("%s: Consts is not JSON: %v: %s", src.Path, err, p.Consts())
		}
		var paths []string
		leafPaths("", consts, &paths)
		paths = append(paths, "log.offset", "log.flags", "event.id", "message", "stream", "@timestamp", "kubernetes.labels.missing", "fields.level", "log")
		for i := range entries {
			var enc Encoder
			e := entries[i]
			e.Time, e.Offset = time.Unix(1, 0), 42
			rec := bytes.TrimSuffix(enc.Append(nil, p, &e, time.Time{}), []byte("\n"))
			for _, path := range append(paths, "kubernetes", "kubernetes.labels", "kubernetes.pod", "container", "logferry", "log.file", "docker", "fields", "") {
				f := Fields{Consts: p.Consts(), Rec: rec}
				if got, want := f.Raw(path), Lookup(rec, path); !bytes.Equal(got, want) {
					t.Errorf("%s, entry %d, Raw(%q) = %s, the record has %s", src.Path, i, path, got, want)
				}
				f = Fields{Consts: p.Consts(), Rec: rec}
				gv, gok := f.Scalar(path)
				if wv, wok := Scalar(Lookup(rec, path)); gok != wok || !bytes.Equal(gv, wv) {
					t.Errorf("%s, entry %d, Scalar(%q) = %s %v, the record has %s %v", src.Path, i, path, gv, gok, wv, wok)
				}
			}
			for _, path := range paths {
				cv, cok := Scalar(Lookup(p.Consts(), path))
				if !cok {
					continue
				}
				rv, rok := Scalar(Lookup(rec, path))
				if !rok || !bytes.Equal(cv, rv) {
					t.Errorf("%s, entry %d, %s: Consts has %q, the record %q (%v)\n%s", src.Path, i, path, cv, rv, rok, rec)
				}
			}
		}
		if !strings.Contains(string(p.Consts()), src.Path) {
			t.Errorf("Consts lacks the path: %s", p.Consts())
		}
	}
}
