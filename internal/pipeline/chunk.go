package pipeline

import "sync/atomic"

// Chunk is a run of records from one file, encoded as newline-terminated JSON documents.
// Sinks may read Data until they call Done and must not keep it afterwards.
type Chunk struct {
	Data    []byte // one JSON document per line
	Records int    // number of documents in Data
	InBytes int64  // input bytes the records were read from
	// Consts, when not nil, is a JSON object of fields that every record in Data has
	// with the same value (record.Prefix.Consts): a lookup that finds a scalar in it
	// need not look into each record. Nil when the records do not share one.
	Consts []byte

	refs    atomic.Int32
	tracker *Tracker
	seq     uint64
	links   []link // more acknowledgements this chunk completes
	budget  *Budget
	held    int64
	pool    *Pool
}

// Done acknowledges the chunk for one consumer. The last of the consumers it was sent
// to releases its budget, acknowledges it to its file's tracker and recycles it.
func (c *Chunk) Done() {
	if c.refs.Add(-1) != 0 {
		return
	}
	if c.tracker != nil {
		c.tracker.Done(c.seq)
	}
	for _, l := range c.links {
		l.t.Done(l.seq)
	}
	if c.budget != nil {
		c.budget.Release(c.held)
	}
	if c.pool != nil {
		c.pool.put(c)
	}
}

// Seal binds c to its file's tracker (registering it with safe offset safe and the log
// time first of its oldest line, unix ns or 0) and to the budget it holds bytes of. The
// chunk starts with one reference, its sender's: whoever hands it on calls Retain once
// per consumer and then Done for its own reference. Seal is called once, by the reader.
func (c *Chunk) Seal(t *Tracker, safe, first int64, b *Budget, held int64) {
	c.tracker = t
	c.seq = t.Add(safe, first)
	c.budget = b
	c.held = held
	c.refs.Store(1)
}

// Retain adds n consumers that will each call Done. It must be called before the
// reference it is called under is released.
func (c *Chunk) Retain(n int) { c.refs.Add(int32(n)) }

type link struct {
	t   *Tracker
	seq uint64
}

// Link makes the chunk's final acknowledgement also acknowledge seq of t: used when a
// line that started in an older file of a container ends in a newer one, so the older
// file's end is only committed once that line is delivered. Call before handing on.
func (c *Chunk) Link(t *Tracker, seq uint64) { c.links = append(c.links, link{t, seq}) }
