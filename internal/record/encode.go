package record

import (
	"strconv"
	"time"

	"github.com/logferry/logferry/internal/format"
)

// Source is what every record of one file shares: where it was read and which
// container wrote it. Fields that are unknown are left empty (RestartCount -1).
type Source struct {
	Path         string // the path the file was discovered at (in-pod files: the container's path)
	HostPath     string // in-pod files: the path on the node; "" otherwise
	Namespace    string
	Pod          string
	PodUID       string
	Container    string
	RestartCount int    // -1 when the layout does not say
	ContainerID  string // docker layout: the directory's container id
	Runtime      string // "docker" for the docker layout; empty when unknown
	FileID       uint64 // the file's stable identity (fingerprint), the first half of event.id
	// Kube is the pod's metadata from the API server; nil while unknown (the records
	// then carry the path-derived fields only).
	Kube *Kube
}

// Prefix holds the parts of a record that are constant for one file, rendered once
// (DESIGN.md: metadata that is constant for a container is rendered once per container).
// A Prefix is immutable after NewPrefix and may be shared between goroutines.
type Prefix struct {
	log    []byte // `,"log":{"file":{"path":"..."},"offset":`
	tail   []byte // `,"kubernetes":{...},"container":{...},"event":{"id":"<fileid>-`
	consts []byte // see Consts
}

// Consts is a JSON object holding the fields that every record rendered with p has,
// with the same values: log.file (path, host_path) and the kubernetes, container and
// logferry objects. A lookup of a path that finds a scalar in Consts finds the same
// scalar in each such record (the records' other top-level fields have other names:
// config validation keeps the parse key off them), so sinks resolve keys, topics and
// index names once per chunk instead of once per record.
func (p *Prefix) Consts() []byte { return p.consts }

// TopLevelFields are the names a record's own top-level fields use; a body parsed
// into fields must go under another (processors.parse_key).
var TopLevelFields = []string{"@timestamp", "message", "stream", "log", "docker", "kubernetes", "container", "logferry", "event"}

// NewPrefix renders the constant parts of s.
func NewPrefix(s Source) *Prefix {
	p := &Prefix{}
	p.log = append(p.log, `,"log":{"file":{"path":`...)
	p.log = AppendStringS(p.log, s.Path)
	if s.HostPath != "" {
		p.log = append(p.log, `,"host_path":`...)
		p.log = AppendStringS(p.log, s.HostPath)
	}
	p.log = append(p.log, `},"offset":`...)

	t := p.tail
	if s.Namespace != "" || s.Pod != "" || s.PodUID != "" || s.Container != "" {
		t = append(t, `,"kubernetes":{`...)
		sep := false
		field := func(name string) {
			if sep {
				t = append(t, ',')
			}
			sep = true
			t = append(t, '"')
			t = append(t, name...)
			t = append(t, `":`...)
		}
		if s.Namespace != "" {
			field("namespace")
			t = AppendStringS(t, s.Namespace)
		}
		if s.Pod != "" || s.PodUID != "" {
			field("pod")
			t = append(t, '{')
			inner := false
			if s.Pod != "" {
				t = append(t, `"name":`...)
				t = AppendStringS(t, s.Pod)
				inner = true
			}
			if s.PodUID != "" {
				if inner {
					t = append(t, ',')
				}
				t = append(t, `"uid":`...)
				t = AppendStringS(t, s.PodUID)
				inner = true
			}
			if s.Kube != nil && s.Kube.PodIP != "" {
				if inner {
					t = append(t, ',')
				}
				t = append(t, `"ip":`...)
				t = AppendStringS(t, s.Kube.PodIP)
			}
			t = append(t, '}')
		}
		if s.Container != "" {
			field("container")
			t = append(t, `{"name":`...)
			t = AppendStringS(t, s.Container)
			if s.RestartCount >= 0 {
				t = append(t, `,"restart_count":`...)
				t = strconv.AppendInt(t, int64(s.RestartCount), 10)
			}
			if s.Kube != nil && s.Kube.Image != "" {
				t = append(t, `,"image":`...)
				t = AppendStringS(t, s.Kube.Image)
			}
			t = append(t, '}')
		}
		if k := s.Kube; k != nil {
			if k.NodeName != "" {
				field("node")
				t = append(t, `{"name":`...)
				t = AppendStringS(t, k.NodeName)
				t = append(t, '}')
			}
			for _, o := range k.Owners {
				field(o.Kind)
				t = append(t, `{"name":`...)
				t = AppendStringS(t, o.Name)
				t = append(t, '}')
			}
			if len(k.Labels) > 0 {
				field("labels")
				t = appendMap(t, k.Labels)
			}
			if len(k.Annotations) > 0 {
				field("annotations")
				t = appendMap(t, k.Annotations)
			}
			if len(k.NamespaceLabels) > 0 {
				field("namespace_labels")
				t = appendMap(t, k.NamespaceLabels)
			}
		}
		t = append(t, '}')
	}
	if s.Kube != nil && s.Kube.ContainerID != "" {
		s.ContainerID, s.Runtime = s.Kube.ContainerID, s.Kube.Runtime
	}
	if s.ContainerID != "" || s.Runtime != "" {
		t = append(t, `,"container":{`...)
		if s.ContainerID != "" {
			t = append(t, `"id":`...)
			t = AppendStringS(t, s.ContainerID)
			if s.Runtime != "" {
				t = append(t, ',')
			}
		}
		if s.Runtime != "" {
			t = append(t, `"runtime":`...)
			t = AppendStringS(t, s.Runtime)
		}
		t = append(t, '}')
	}
	if s.Kube != nil && s.Kube.Route != "" {
		t = append(t, `,"logferry":{"route":`...)
		t = AppendStringS(t, s.Kube.Route)
		t = append(t, '}')
	}
	p.consts = append(p.consts, `{"log":{"file":{"path":`...)
	p.consts = AppendStringS(p.consts, s.Path)
	if s.HostPath != "" {
		p.consts = append(p.consts, `,"host_path":`...)
		p.consts = AppendStringS(p.consts, s.HostPath)
	}
	p.consts = append(p.consts, `}}`...)
	p.consts = append(p.consts, t...) // t starts with ',' when not empty
	p.consts = append(p.consts, '}')
	t = append(t, `,"event":{"id":"`...)
	t = appendHex64(t, s.FileID)
	t = append(t, '-')
	p.tail = t
	return p
}

// Len is about the bytes p adds to each record.
func (p *Prefix) Len() int { return len(p.log) + len(p.tail) }

// Encoder appends records. It caches the rendering of the current second, so it is
// not safe for concurrent use; use one per goroutine.
type Encoder struct {
	sec    int64
	secBuf []byte // "2006-01-02T15:04:05" of sec
	// InvalidUTF8 counts the records whose message had invalid UTF-8 replaced
	// (flagged invalid_utf8); the caller reads and resets it.
	InvalidUTF8 int64
}

// Append appends e as one JSON document followed by '\n'. readTime stands in for the
// timestamp of entries that carry none (raw lines). The message is escaped and any
// invalid UTF-8 replaced; e is not retained.
//
// Processed entries: when e.Fields is set it is written as it is (it must be a valid
// JSON object) under e.FieldsKey ("fields" when empty), after the message; "message"
// itself is then left out when e.Msg is empty (the body was parsed into Fields).
// e.Multiline and e.ParseFailed add "multiline" and "parse_failed" to log.flags, which
// lists its flags in alphabetical order; a message whose invalid UTF-8 was replaced
// adds "invalid_utf8" (and Encoder.InvalidUTF8 counts it), as do Fields a processor
// repaired (e.FieldsRepaired).
func (enc *Encoder) Append(dst []byte, p *Prefix, e *format.Entry, readTime time.Time) []byte {
	ts := e.Time
	if ts.IsZero() {
		ts = readTime
	}
	dst = append(dst, `{"@timestamp":"`...)
	dst = enc.appendTime(dst, ts)
	dst = append(dst, '"')
	invalid := false
	if e.Fields == nil || len(e.Msg) > 0 {
		dst = append(dst, `,"message":`...)
		dst, invalid = appendQuoted(dst, e.Msg)
	}
	if e.Fields != nil && e.FieldsRepaired {
		invalid = true
	}
	if invalid {
		enc.InvalidUTF8++
	}
	if e.Fields != nil {
		key := e.FieldsKey
		if key == "" {
			key = "fields"
		}
		plain := true
		for i := 0; i < len(key); i++ {
			if c := key[i]; c >= 0x80 || !safe[c] {
				plain = false
				break
			}
		}
		dst = append(dst, ',')
		if plain {
			dst = append(dst, '"')
			dst = append(dst, key...)
			dst = append(dst, '"')
		} else {
			dst = AppendStringS(dst, key) // escaping needed: rare, may allocate
		}
		dst = append(dst, ':')
		dst = append(dst, e.Fields...)
	}
	switch e.Stream {
	case format.Stdout:
		dst = append(dst, `,"stream":"stdout"`...)
	case format.Stderr:
		dst = append(dst, `,"stream":"stderr"`...)
	}
	dst = append(dst, p.log...)
	dst = strconv.AppendInt(dst, e.Offset, 10)
	if invalid || e.Multiline || e.ParseFailed || e.Partial || e.Truncated {
		dst = append(dst, `,"flags":[`...)
		sep := false
		if invalid {
			dst = append(dst, `"invalid_utf8"`...)
			sep = true
		}
		if e.Multiline {
			if sep {
				dst = append(dst, ',')
			}
			dst = append(dst, `"multiline"`...)
			sep = true
		}
		if e.ParseFailed {
			if sep {
				dst = append(dst, ',')
			}
			dst = append(dst, `"parse_failed"`...)
			sep = true
		}
		if e.Partial {
			if sep {
				dst = append(dst, ',')
			}
			dst = append(dst, `"partial"`...)
			sep = true
		}
		if e.Truncated {
			if sep {
				dst = append(dst, ',')
			}
			dst = append(dst, `"truncated"`...)
		}
		dst = append(dst, ']')
	}
	dst = append(dst, '}')
	if len(e.Attrs) > 0 {
		dst = append(dst, `,"docker":{"attrs":{`...)
		for i, a := range e.Attrs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendStringS(dst, a.Key)
			dst = append(dst, ':')
			dst = AppendStringS(dst, a.Value)
		}
		dst = append(dst, `}}`...)
	}
	dst = append(dst, p.tail...)
	dst = strconv.AppendInt(dst, e.Offset, 16)
	return append(dst, "\"}}\n"...)
}

// appendTime renders t in UTC as RFC 3339 with a nanosecond fraction trimmed of
// trailing zeros (time.RFC3339Nano), caching the part down to the second.
func (enc *Encoder) appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	sec := t.Unix()
	if enc.secBuf == nil || sec != enc.sec {
		enc.sec = sec
		enc.secBuf = t.Truncate(time.Second).AppendFormat(enc.secBuf[:0], "2006-01-02T15:04:05")
	}
	dst = append(dst, enc.secBuf...)
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i >= 1; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		dst = append(dst, frac[:n]...)
	}
	return append(dst, 'Z')
}

func appendHex64(dst []byte, v uint64) []byte {
	for shift := 60; shift >= 0; shift -= 4 {
		dst = append(dst, hexDigits[(v>>uint(shift))&0xf])
	}
	return dst
}

// EventID returns the deterministic event.id of the line that starts at offset in the
// file with identity fileID, as Append renders it.
func EventID(fileID uint64, offset int64) string {
	b := appendHex64(nil, fileID)
	b = append(b, '-')
	return string(strconv.AppendInt(b, offset, 16))
}
