package gen

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ManifestVersion is the version of the manifest format.
const ManifestVersion = 1

// Manifest records what Run wrote. It is written (atomically) when Run ends,
// whether the lines were all written, the duration passed or the context was
// cancelled.
type Manifest struct {
	Version    int             `json:"version"`
	Format     string          `json:"format"` // cri, crio or docker
	Dir        string          `json:"dir"`    // Options.Out
	Started    time.Time       `json:"started"`
	Finished   time.Time       `json:"finished"`
	Stopped    string          `json:"stopped"` // "lines" (all written), "duration" or "cancelled"
	Options    Options         `json:"options"`
	Containers []ContainerInfo `json:"containers"`
	Totals     Totals          `json:"totals"`
}

// ContainerInfo is what one container wrote. Lines written are exactly the
// seqs 0..Lines-1 (every one complete in some file at the time it was written;
// rotation and restarts may have removed files since).
type ContainerInfo struct {
	Namespace string   `json:"namespace"`
	Pod       string   `json:"pod"`
	UID       string   `json:"uid"`
	Container string   `json:"container"`
	LogDir    string   `json:"log_dir,omitempty"`    // CRI: the directory of <restart>.log
	DockerIDs []string `json:"docker_ids,omitempty"` // docker: one id per instance, oldest first
	Lines     int64    `json:"lines"`                // logical lines (seqs 0..lines-1)
	LongLines int64    `json:"long_lines"`           // of which long (split by the runtime)
	Malformed int64    `json:"malformed"`            // garbage lines (not counted in lines)
	Restarts  int      `json:"restarts"`             // instances started after the first
	Rotations int      `json:"rotations"`            // completed rotations of the live file
	Records   int64    `json:"records"`              // physical records (lines in files), garbage included
	Bytes     int64    `json:"bytes"`                // bytes written to log files
}

// Totals sums the containers.
type Totals struct {
	Containers   int   `json:"containers"`
	Lines        int64 `json:"lines"`
	LongLines    int64 `json:"long_lines"`
	Malformed    int64 `json:"malformed"`
	Records      int64 `json:"records"`
	Bytes        int64 `json:"bytes"`         // bytes written to log files
	MessageBytes int64 `json:"message_bytes"` // bytes of the logical lines' messages
	Restarts     int   `json:"restarts"`
	Rotations    int   `json:"rotations"`
}

// Container returns the entry of ns/pod/container, or nil.
func (m *Manifest) Container(ns, pod, container string) *ContainerInfo {
	for i := range m.Containers {
		c := &m.Containers[i]
		if c.Namespace == ns && c.Pod == pod && c.Container == container {
			return c
		}
	}
	return nil
}

// ReadManifest reads a manifest written by Run.
func ReadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	if m.Version != ManifestVersion {
		return nil, fmt.Errorf("manifest %s: version %d, want %d", path, m.Version, ManifestVersion)
	}
	return &m, nil
}

// WriteManifest writes m to path atomically: a temporary file in the same
// directory, renamed over path. (No fsync: the manifest describes files that
// are not synced either, and fsync on a busy disk costs more than a whole
// small run.)
func WriteManifest(path string, m *Manifest) (err error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(b); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
