package format

// rawDecoder decodes files with no container runtime framing: every physical line is
// one entry, with no stream and a zero time. It never holds partial state.
type rawDecoder struct {
	limit   int
	dropped int64
	e       Entry
}

// Line implements Decoder. It never fails.
func (d *rawDecoder) Line(data []byte, off, end int64, truncated bool, emit func(*Entry)) error {
	d.e = Entry{Msg: data, Offset: off, End: end, Truncated: truncated}
	if len(data) > d.limit {
		d.dropped += int64(len(data) - d.limit)
		d.e.Msg = data[:d.limit]
		d.e.Truncated = true
	}
	emit(&d.e)
	return nil
}

// Flush implements Decoder; a raw decoder has nothing pending.
func (d *rawDecoder) Flush(func(*Entry)) {}

// Pending implements Decoder; a raw decoder has nothing pending.
func (d *rawDecoder) Pending() (int64, bool) { return 0, false }

// Dropped implements Decoder.
func (d *rawDecoder) Dropped() int64 {
	n := d.dropped
	d.dropped = 0
	return n
}
