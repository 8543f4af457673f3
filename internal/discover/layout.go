// Package discover knows where container runtimes and the kubelet put log files and
// watches those places. It turns paths into groups (one per container, holding every
// file that container's output went to: restarts, rotations, gzipped rotations) and
// tells its handler when a group changed or a file was written.
package discover

import (
	"os"
	"strconv"
	"strings"

	"github.com/logferry/logferry/internal/record"
)

// Layout is a directory convention.
type Layout uint8

const (
	// Kubelet is /var/log/pods/<ns>_<pod>_<uid>/<container>/<restart>.log
	// (and the legacy /var/log/pods/<uid>/<container>_<restart>.log).
	Kubelet Layout = iota + 1
	// Docker is /var/lib/docker/containers/<id>/<id>-json.log with .1, .2, ... rotations.
	Docker
	// PodFile is a log file an application writes inside its pod (logferry.io/files),
	// on one of the pod's volumes: <Prefix> is the live file, and the usual rotation
	// names next to it are its older data: <Prefix>.<n> (logrotate's numbering: .1 is
	// the newest) and <Prefix>-<suffix> or <Prefix>.<suffix> with a date (logrotate's
	// dateext), each optionally .gz. Groups of this layout come from the agent's pod
	// metadata, not from a directory scan; Open is set, and files are opened with it.
	PodFile
)

func (l Layout) String() string {
	switch l {
	case Kubelet:
		return "kubelet"
	case Docker:
		return "docker"
	case PodFile:
		return "podfile"
	}
	return "unknown"
}

// Group is the set of files one container writes to. Key is stable across restarts of
// the agent and unique on the node.
type Group struct {
	Key    string // the container directory (legacy layout: pod dir + "/" + container)
	Dir    string // the directory holding the files
	Layout Layout
	// Prefix selects the group's files inside Dir (legacy layout: "<container>_"), or "".
	Prefix string
	Source record.Source // path-derived metadata; Path, RestartCount and FileID are per file

	// PodFile layout only. ContainerDir is Dir as the container sees it (records
	// carry the in-container path); Open opens a file of the group by its host path
	// without leaving the pod's volume (see internal/podfiles); never os.Open.
	ContainerDir string
	Open         func(hostPath string) (*os.File, error)
}

// Name is a parsed log file name within a group.
type Name struct {
	Restart int    // kubelet restart count; 0 for docker
	Rotated string // kubelet rotation suffix (YYYYMMDD-HHMMSS), "" for the live file
	RotN    int    // docker rotation number (.1 is the newest rotation), 0 for live
	Gz      bool
}

// Live reports whether this is the file the runtime currently writes to.
func (n Name) Live() bool { return n.Rotated == "" && n.RotN == 0 }

// Less orders the files of a group oldest first: by restart, then rotations before the
// live file; kubelet suffixes sort lexically (as the kubelet does: never parse them as
// times), docker numbers descending.
func (n Name) Less(o Name) bool {
	if n.Restart != o.Restart {
		return n.Restart < o.Restart
	}
	if n.Live() != o.Live() {
		return !n.Live()
	}
	if n.RotN != o.RotN {
		return n.RotN > o.RotN
	}
	return n.Rotated < o.Rotated
}

// SameData reports whether n and o name the same data (a rotated file and its .gz).
func (n Name) SameData(o Name) bool {
	return n.Restart == o.Restart && n.Rotated == o.Rotated && n.RotN == o.RotN
}

// ParseName parses a file name of group g. ok is false for files that are not logs of g
// (temp files, other containers' files in a legacy pod dir, anything else).
func (g *Group) ParseName(base string) (n Name, ok bool) {
	if strings.HasSuffix(base, ".tmp") {
		return n, false
	}
	if g.Prefix != "" {
		if !strings.HasPrefix(base, g.Prefix) {
			return n, false
		}
		base = base[len(g.Prefix):]
	}
	if strings.HasSuffix(base, ".gz") {
		n.Gz = true
		base = base[:len(base)-3]
	}
	switch g.Layout {
	case PodFile:
		return parseRotation(base, n)
	case Kubelet:
		i := strings.Index(base, ".log")
		if i <= 0 {
			return n, false
		}
		r, err := strconv.Atoi(base[:i])
		if err != nil || r < 0 {
			return n, false
		}
		n.Restart = r
		rest := base[i+4:]
		if rest == "" {
			return n, !n.Gz
		}
		if rest[0] != '.' || len(rest) < 2 {
			return n, false
		}
		n.Rotated = rest[1:]
		return n, true
	case Docker:
		want := g.Source.ContainerID + "-json.log"
		if !strings.HasPrefix(base, want) {
			return n, false
		}
		rest := base[len(want):]
		if rest == "" {
			return n, !n.Gz
		}
		if rest[0] != '.' {
			return n, false
		}
		r, err := strconv.Atoi(rest[1:])
		if err != nil || r <= 0 {
			return n, false
		}
		n.RotN = r
		return n, true
	}
	return n, false
}

// podDirGroups returns the groups of a kubelet pod directory, given the names of its
// entries and whether each is a directory. New layout: <ns>_<pod>_<uid>/<container>/;
// legacy: <uid>/<container>_<n>.log.
func podDirGroups(podsDir, podDirName string, entries []dirEntry) []Group {
	podDir := podsDir + "/" + podDirName
	var src record.Source
	parts := strings.Split(podDirName, "_")
	legacy := len(parts) == 1
	if legacy {
		src.PodUID = podDirName
	} else {
		// The UID is the last "_" field (the kubelet's parsePodUIDFromLogsDirectory);
		// a namespace cannot contain "_", so the first field is the namespace and the
		// rest is the pod name.
		src.Namespace = parts[0]
		src.PodUID = parts[len(parts)-1]
		src.Pod = strings.Join(parts[1:len(parts)-1], "_")
	}
	src.RestartCount = -1
	var out []Group
	seen := map[string]bool{}
	for _, e := range entries {
		if !legacy {
			if !e.dir {
				continue
			}
			s := src
			s.Container = e.name
			out = append(out, Group{Key: podDir + "/" + e.name, Dir: podDir + "/" + e.name, Layout: Kubelet, Source: s})
			continue
		}
		if e.dir {
			continue
		}
		i := strings.LastIndex(e.name, "_")
		if i <= 0 {
			continue
		}
		ctr := e.name[:i]
		if seen[ctr] {
			continue
		}
		g := Group{Key: podDir + "/" + ctr, Dir: podDir, Layout: Kubelet, Prefix: ctr + "_"}
		if _, ok := g.ParseName(e.name); !ok {
			continue
		}
		seen[ctr] = true
		s := src
		s.Container = ctr
		g.Source = s
		out = append(out, g)
	}
	return out
}

// dockerGroup returns the group of a docker container directory.
func dockerGroup(dockerDir, id string) Group {
	g := Group{
		Key:    dockerDir + "/" + id,
		Dir:    dockerDir + "/" + id,
		Layout: Docker,
		Source: record.Source{ContainerID: id, Runtime: "docker", RestartCount: -1},
	}
	dockerMetadata(g.Dir, &g.Source)
	return g
}

type dirEntry struct {
	name string
	dir  bool
}

// parseRotation parses what follows a PodFile group's live name (the Prefix, already
// removed, and ".gz"): nothing for the live file, ".<n>" for logrotate's numbered
// rotations, "-<suffix>" or ".<suffix>" (a dateext suffix starting with a digit) for
// dated ones.
func parseRotation(rest string, n Name) (Name, bool) {
	if rest == "" {
		return n, !n.Gz
	}
	if len(rest) < 2 || (rest[0] != '.' && rest[0] != '-') {
		return n, false
	}
	if r, err := strconv.Atoi(rest[1:]); err == nil && rest[0] == '.' && r > 0 && r < 1e6 {
		n.RotN = r
		return n, true
	}
	if c := rest[1]; c < '0' || c > '9' {
		return n, false // app.log.bak, app.log-old: not a rotation of this file
	}
	n.Rotated = rest[1:]
	return n, true
}
