package discover

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/logferry/logferry/internal/record"
)

// RefreshMetadata reads the docker metadata of g again if it has none yet (the
// directory can be seen before config.v2.json is written). It reports whether g gained
// metadata. Docker writes config.v2.json before it creates the log file, so a call made
// after listing the directory finds the metadata of every log file the listing showed.
func (g *Group) RefreshMetadata() bool {
	if g.Layout != Docker || g.Source.Pod != "" {
		return false
	}
	dockerMetadata(g.Dir, &g.Source)
	return g.Source.Pod != ""
}

// dockerConfigMax bounds how much of config.v2.json is read.
const dockerConfigMax = 1 << 20

// dockerMetadata fills src from the container's config.v2.json, where dockershim and
// cri-dockerd put the pod's identity: the io.kubernetes.* labels, and the container
// name "k8s_<container>_<pod>_<namespace>_<uid>_<restart>". A missing or unreadable
// file leaves src as it is: the records then carry the container id only.
func dockerMetadata(dir string, src *record.Source) {
	f, err := os.Open(filepath.Join(dir, "config.v2.json"))
	if err != nil {
		return
	}
	defer f.Close()
	var c struct {
		Name   string
		Config struct {
			Labels map[string]string
		}
	}
	if json.NewDecoder(io.LimitReader(f, dockerConfigMax)).Decode(&c) != nil {
		return
	}
	l := c.Config.Labels
	src.Namespace = l["io.kubernetes.pod.namespace"]
	src.Pod = l["io.kubernetes.pod.name"]
	src.PodUID = l["io.kubernetes.pod.uid"]
	src.Container = l["io.kubernetes.container.name"]
	if parts := strings.Split(strings.TrimPrefix(c.Name, "/"), "_"); len(parts) == 6 && parts[0] == "k8s" {
		if n, err := strconv.Atoi(parts[5]); err == nil && n >= 0 {
			src.RestartCount = n
		}
	}
}
