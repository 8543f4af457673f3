// Package status defines the agent's status document: what GET /api/v1/status returns
// and what `logferry status` renders. The JSON field names are a public contract; add
// fields, never rename or remove them.
package status

import "time"

// Path is where the agent serves the document.
const Path = "/api/v1/status"

// Status is a snapshot of one agent.
type Status struct {
	Node      string    `json:"node"`
	Version   string    `json:"version"`
	StartedAt time.Time `json:"started_at"`
	Now       time.Time `json:"now"` // the agent's clock when the snapshot was taken
	// Ready is what /readyz answers; Reasons say why not.
	Ready   bool     `json:"ready"`
	Reasons []string `json:"reasons,omitempty"`

	Config     Config      `json:"config"`
	Buffer     Buffer      `json:"buffer"`
	Checkpoint Checkpoint  `json:"checkpoint"`
	Sinks      []Sink      `json:"sinks"`
	Containers []Container `json:"containers"` // sorted by LagBytes, largest first
}

// Config describes the loaded configuration.
type Config struct {
	Path     string    `json:"path,omitempty"` // "" when running on flags alone
	LoadedAt time.Time `json:"loaded_at"`
	Reloads  int64     `json:"reloads"` // successful reloads since start
	// LastError is the last rejected reload ("" if none since the last success).
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// Buffer is the bytes of encoded records in flight between readers and sinks.
type Buffer struct {
	UsedBytes  int64 `json:"used_bytes"`
	LimitBytes int64 `json:"limit_bytes"`
}

// Checkpoint describes the checkpoint store.
type Checkpoint struct {
	Path        string    `json:"path"`
	Entries     int       `json:"entries"`
	LastWriteAt time.Time `json:"last_write_at,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
}

// Sink is one sink's health and backlog.
type Sink struct {
	Name          string    `json:"name"`
	Type          string    `json:"type"`
	Healthy       bool      `json:"healthy"`
	InFlight      int64     `json:"in_flight"` // chunks received and not yet acknowledged
	Records       uint64    `json:"records"`
	Bytes         uint64    `json:"bytes"`
	Batches       uint64    `json:"batches"`
	Retries       uint64    `json:"retries"`
	Failures      uint64    `json:"failures"`
	LastError     string    `json:"last_error,omitempty"`
	LastErrorAt   time.Time `json:"last_error_at,omitzero"`
	LastSuccessAt time.Time `json:"last_success_at,omitzero"`
}

// Container is one container's files (for docker, one container directory).
type Container struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	Container string `json:"container"`
	Key       string `json:"key"` // the agent's internal group key (the directory)

	ReadBytes int64 `json:"read_bytes"`
	ReadLines int64 `json:"read_lines"`
	// LagBytes is written but not yet acknowledged by every sink, over all files.
	LagBytes int64 `json:"lag_bytes"`
	// LagSeconds is the age of the oldest line not yet acknowledged (0 when none).
	LagSeconds float64 `json:"lag_seconds"`
	// LastLineAt is the log timestamp of the newest line read (zero if none yet).
	LastLineAt time.Time `json:"last_line_at,omitzero"`
	Files      []File    `json:"files"` // oldest first
}

// File is one open log file.
type File struct {
	Path        string `json:"path"`
	Device      uint64 `json:"device"`
	Inode       uint64 `json:"inode"`
	Fingerprint string `json:"fingerprint,omitempty"` // hex of the first line's hash; "" until known
	Format      string `json:"format"`                // cri, docker, raw, or "" until detected
	Size        int64  `json:"size"`
	ReadOffset  int64  `json:"read_offset"`
	AckedOffset int64  `json:"acked_offset"` // what the checkpoint holds (or will at the next write)
	LagBytes    int64  `json:"lag_bytes"`    // Size - AckedOffset
	// State is one of: reading (unread bytes), waiting (read, not all acknowledged),
	// idle (everything acknowledged; may grow), draining (can grow no more: rotated,
	// compressed or deleted, and being finished), deleted (deleted and still held open).
	State string `json:"state"`
}
