package discover

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseName(t *testing.T) {
	kub := &Group{Layout: Kubelet}
	legacy := &Group{Layout: Kubelet, Prefix: "app_"}
	dock := &Group{Layout: Docker}
	dock.Source.ContainerID = "abc"
	tests := []struct {
		g    *Group
		name string
		want Name
		ok   bool
	}{
		{kub, "0.log", Name{}, true},
		{kub, "3.log", Name{Restart: 3}, true},
		{kub, "0.log.20261122-100000", Name{Rotated: "20261122-100000"}, true},
		{kub, "0.log.20261122-100000.gz", Name{Rotated: "20261122-100000", Gz: true}, true},
		{kub, "0.log.20261122-100000.gz.tmp", Name{}, false},
		{kub, "0.log.gz", Name{}, false},
		{kub, "x.log", Name{}, false},
		{kub, "-1.log", Name{}, false},
		{legacy, "app_2.log", Name{Restart: 2}, true},
		{legacy, "app_0.log.20180215-010737.gz", Name{Rotated: "20180215-010737", Gz: true}, true},
		{legacy, "web_0.log", Name{}, false},
		{dock, "abc-json.log", Name{}, true},
		{dock, "abc-json.log.1", Name{RotN: 1}, true},
		{dock, "abc-json.log.3.gz", Name{RotN: 3, Gz: true}, true},
		{dock, "abc-json.log.0", Name{}, false},
		{dock, "abc-json.log.gz", Name{}, false},
		{dock, "config.v2.json", Name{}, false},
		{dock, "other-json.log", Name{}, false},
	}
	for _, tt := range tests {
		got, ok := tt.g.ParseName(tt.name)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("ParseName(%q) = %+v, %v; want %+v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestNameOrder(t *testing.T) {
	// Oldest first: restarts, then rotations (kubelet lexical, docker descending), live last.
	ordered := []Name{
		{Restart: 0, Rotated: "20261122-090000", Gz: true},
		{Restart: 0, Rotated: "20261122-100000"},
		{Restart: 0},
		{Restart: 1, Rotated: "20261122-110000"},
		{Restart: 1},
	}
	for i := 0; i+1 < len(ordered); i++ {
		if !ordered[i].Less(ordered[i+1]) || ordered[i+1].Less(ordered[i]) {
			t.Errorf("want %+v before %+v", ordered[i], ordered[i+1])
		}
	}
	docker := []Name{{RotN: 3, Gz: true}, {RotN: 2}, {RotN: 1}, {}}
	for i := 0; i+1 < len(docker); i++ {
		if !docker[i].Less(docker[i+1]) {
			t.Errorf("want %+v before %+v", docker[i], docker[i+1])
		}
	}
	if !(Name{Rotated: "x"}).SameData(Name{Rotated: "x", Gz: true}) {
		t.Error("a rotation and its .gz are the same data")
	}
}

func TestPodDirGroups(t *testing.T) {
	got := podDirGroups("/p", "prod_web_0_uid-1", []dirEntry{{"app", true}, {"sidecar", true}, {"stray.log", false}})
	if len(got) != 2 {
		t.Fatalf("got %d groups", len(got))
	}
	s := got[0].Source
	// A pod name may contain "_"? Kubernetes forbids it, but the UID is the last field
	// and the namespace the first, whatever is in between.
	if s.Namespace != "prod" || s.Pod != "web_0" || s.PodUID != "uid-1" || s.Container != "app" || got[0].Dir != "/p/prod_web_0_uid-1/app" {
		t.Fatalf("group 0 = %+v", got[0])
	}
	legacy := podDirGroups("/p", "uid-2", []dirEntry{{"app_0.log", false}, {"app_1.log", false}, {"db_0.log.20180215-010737.gz", false}, {"junk", false}})
	if len(legacy) != 2 || legacy[0].Source.Container != "app" || legacy[0].Prefix != "app_" || legacy[1].Source.Container != "db" || legacy[0].Source.PodUID != "uid-2" {
		t.Fatalf("legacy groups = %+v", legacy)
	}
}

func TestDockerMetadata(t *testing.T) {
	dir := t.TempDir()
	id := "0123abcd"
	if err := os.MkdirAll(filepath.Join(dir, id), 0o755); err != nil {
		t.Fatal(err)
	}
	g := dockerGroup(dir, id)
	if g.Source.Pod != "" || g.Source.ContainerID != id || g.Source.Runtime != "docker" {
		t.Fatalf("without config: %+v", g.Source)
	}
	cfg := `{"Name":"/k8s_app_web-0_prod_uid-9_3","Config":{"Labels":{"io.kubernetes.pod.namespace":"prod","io.kubernetes.pod.name":"web-0","io.kubernetes.pod.uid":"uid-9","io.kubernetes.container.name":"app"}}}`
	if err := os.WriteFile(filepath.Join(dir, id, "config.v2.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if !g.RefreshMetadata() {
		t.Fatal("RefreshMetadata did not pick up config.v2.json")
	}
	s := g.Source
	if s.Namespace != "prod" || s.Pod != "web-0" || s.PodUID != "uid-9" || s.Container != "app" || s.RestartCount != 3 {
		t.Fatalf("metadata = %+v", s)
	}
	os.WriteFile(filepath.Join(dir, id, "config.v2.json"), []byte("{broken"), 0o600)
	if g2 := dockerGroup(dir, id); g2.Source.Pod != "" {
		t.Fatalf("a broken config.v2.json must leave the metadata empty: %+v", g2.Source)
	}
}
