package httpsink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/sink"
)

// Dead-letter file defaults.
const (
	DefaultDeadLetterSize  = 100 << 20
	DefaultDeadLetterFiles = 5
)

// NewDeadLetter returns the dead-letter file of sink name: JSON lines appended to
// c's path, fsynced, rotated at its max size keeping its max files (defaults when
// 0).
func NewDeadLetter(name string, c config.DeadLetter, log *slog.Logger) (sink.Sink, error) {
	maxSize, maxFiles := int64(c.DeadLetterMaxSize), c.DeadLetterMaxFiles
	if maxSize <= 0 {
		maxSize = DefaultDeadLetterSize
	}
	if maxFiles <= 0 {
		maxFiles = DefaultDeadLetterFiles
	}
	f, err := sink.NewFile(name+"-dead-letter", sink.FileOptions{
		Path: c.DeadLetterPath, MaxSize: maxSize, MaxFiles: maxFiles, Fsync: true, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("dead_letter_path: %w", err)
	}
	return f, nil
}

// DeadLines are dead-letter lines not yet written. The zero value is empty.
type DeadLines struct {
	data []byte
	n    int
}

// Len returns the number of lines.
func (d *DeadLines) Len() int { return d.n }

// Add appends v as one JSON line. Unlike json.Marshal it does not escape <, > and
// & (nor U+2028 and U+2029 in a json.RawMessage): a record is kept as it was
// sent. It fails only when v cannot be encoded, adding nothing.
func (d *DeadLines) Add(v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // Encode ends the line with '\n'
		return err
	}
	d.AddLine(buf.Bytes())
	return nil
}

// AddLine appends line, adding its '\n' if it lacks it.
func (d *DeadLines) AddLine(line []byte) {
	d.data = append(d.data, line...)
	if len(line) == 0 || line[len(line)-1] != '\n' {
		d.data = append(d.data, '\n')
	}
	d.n++
}

// Record returns a record for a dead-letter line: as JSON when it is valid JSON,
// else as text.
func Record(d []byte) (rec json.RawMessage, text string) {
	if json.Valid(d) {
		return d, ""
	}
	return nil, string(d)
}

// Write writes the lines to dead (one Consume of a batch of one chunk: the
// dead-letter file has them durably when it returns nil) and then empties d. It
// returns the number of lines written; on error d keeps them.
func (d *DeadLines) Write(ctx context.Context, dead sink.Sink) (int, error) {
	if d.n == 0 {
		return 0, nil
	}
	b := &pipeline.Batch{}
	b.Add(&pipeline.Chunk{Data: d.data, Records: d.n})
	if err := dead.Consume(ctx, b); err != nil {
		return 0, fmt.Errorf("writing %d records to the dead-letter file: %w", d.n, err)
	}
	n := d.n
	*d = DeadLines{}
	return n, nil
}
