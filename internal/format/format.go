package format

import "time"

// Stream is the output stream of a line.
type Stream uint8

// Streams. Raw files have no stream.
const (
	StreamUnknown Stream = iota // raw files have no stream
	Stdout
	Stderr
)

// String returns "stdout", "stderr", or "" for an unknown stream.
func (s Stream) String() string {
	switch s {
	case Stdout:
		return "stdout"
	case Stderr:
		return "stderr"
	}
	return ""
}

// Kind is a file's log format.
type Kind uint8

// Kinds of log files.
const (
	KindUnknown Kind = iota
	KindCRI
	KindDocker
	KindRaw
)

// String returns "cri", "docker", "raw", or "unknown".
func (k Kind) String() string {
	switch k {
	case KindCRI:
		return "cri"
	case KindDocker:
		return "docker"
	case KindRaw:
		return "raw"
	}
	return "unknown"
}

// Attr is one docker `attrs` entry.
type Attr struct{ Key, Value string }

// Entry is one logical line.
//
// An Entry is owned by the decoder that emitted it. The Entry and every slice in it are
// only valid until the next call into that decoder; a caller that keeps an entry must
// copy it. Attrs is the exception: its strings are immutable, but the slice is shared
// between entries and must not be modified.
type Entry struct {
	// Time is the runtime timestamp of the FIRST fragment; zero for raw lines.
	Time time.Time
	// Stream is Stdout or Stderr; StreamUnknown for raw lines.
	Stream Stream
	// Msg is the content, without the line-ending '\n'. A '\r' before it is kept:
	// containerd strips CRLF endings, conmon and docker do not.
	// len(Msg) never exceeds the decoder's MaxMergedBytes.
	Msg []byte
	// Offset is the file offset of the first byte of the first fragment.
	Offset int64
	// End is the file offset just past the last fragment's '\n'.
	End int64
	// Truncated reports that bytes of this entry were lost: either the merged size cap
	// was hit (the dropped bytes are counted by Dropped), or the caller cut one of its
	// physical lines (Line's truncated argument).
	Truncated bool
	// Partial reports that the entry was emitted by Flush without its final fragment
	// (an orphan CRI P run, or an unterminated docker piece).
	Partial bool
	// Attrs are the docker attrs of the first fragment, sorted by key; nil otherwise.
	Attrs []Attr

	// The fields below are set by the log processors (internal/process), never by a
	// decoder. An entry emitted by a processor is owned by it under the same rules as a
	// decoder's: valid only during the emit call.

	// Fields is a JSON object (compact, valid JSON and valid UTF-8) from body parsing;
	// nil if none. When it is set the message has been parsed into it, and Msg is empty:
	// the record carries the object under FieldsKey instead of the message.
	Fields []byte
	// FieldsKey is the record key Fields is written under; "" means "fields".
	FieldsKey string
	// FieldsRepaired reports that the parsed body had invalid UTF-8, replaced by
	// U+FFFD in Fields: the record is flagged invalid_utf8 as a repaired message is.
	FieldsRepaired bool
	// ParseFailed reports that body parsing was asked for but the message did not
	// parse; Msg is then the message as it was.
	ParseFailed bool
	// Multiline reports that the entry joins two or more lines (Msg holds them
	// separated by '\n'); Offset is the first line's, End the last line's.
	Multiline bool
}

// Options bounds the decoders.
type Options struct {
	// MaxMergedBytes caps the size of one entry's message, merged (P...F runs, docker
	// pieces) or not. <= 0 means DefaultMaxMergedBytes.
	MaxMergedBytes int
}

// DefaultMaxMergedBytes is the cap used when Options.MaxMergedBytes is <= 0.
const DefaultMaxMergedBytes = 1 << 20

func (o Options) maxMerged() int {
	if o.MaxMergedBytes <= 0 {
		return DefaultMaxMergedBytes
	}
	return o.MaxMergedBytes
}

// Decoder turns physical lines into logical entries. It is not safe for concurrent use.
//
// emit callbacks must not call Line or Flush of the same decoder; they may call Pending
// and Dropped, which already reflect the emitted entry.
type Decoder interface {
	// Line feeds one physical line: data without its trailing '\n', starting at file
	// offset off, and end = offset just past its '\n'. truncated=true means the caller
	// cut this physical line at its own cap (the entry is then marked Truncated). Line
	// calls emit zero or more times. Lines must be fed in file order.
	//
	// A malformed line returns *Error and is otherwise skipped: no decoder state changes,
	// and pending partial runs of every stream are kept. The decoder does not retain
	// data after Line returns, but an emitted Entry.Msg may alias it.
	Line(data []byte, off, end int64, truncated bool, emit func(*Entry)) error

	// Flush emits every pending partial run as an Entry with Partial=true, in Offset
	// order, and leaves the decoder with nothing pending. Use it at file end, on
	// timeout, and at container exit.
	Flush(emit func(*Entry))

	// Pending reports the file offset of the oldest fragment held in a pending partial
	// run, over all streams. ok is false when nothing is pending. A checkpoint must not
	// move past off while ok is true, or the held fragments are lost on restart.
	Pending() (off int64, ok bool)

	// Dropped returns and resets the count of message bytes dropped by the
	// MaxMergedBytes cap. Bytes cut by the caller (Line's truncated) are not counted.
	Dropped() int64
}

// New returns a decoder for files of kind k. KindUnknown behaves like KindRaw.
func New(k Kind, o Options) Decoder {
	limit := o.maxMerged()
	switch k {
	case KindCRI:
		return &criDecoder{m: merger{limit: limit}}
	case KindDocker:
		return &dockerDecoder{m: merger{limit: limit}}
	}
	return &rawDecoder{limit: limit}
}

// Detect returns the format of a file from its first complete physical line (without
// its '\n'), as the kubelet does: CRI first, then docker json-file, else raw.
//
// A line is CRI if it parses as a CRI record, and docker if it decodes as a json-file
// object with a valid stream and time (stricter than the kubelet, which accepts any JSON
// object, so that files of arbitrary JSON logs are read as raw). Anything else, including
// an empty line, is KindRaw; a caller that wants a better guess should wait for a
// non-empty first line.
func Detect(firstLine []byte) Kind {
	var l criLine
	if r, _ := parseCRI(firstLine, &l); r == "" {
		return KindCRI
	}
	var d dockerDecoder
	if _, r, _ := d.decode(firstLine); r == "" {
		return KindDocker
	}
	return KindRaw
}
