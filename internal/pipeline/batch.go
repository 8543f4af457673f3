package pipeline

// Batch is what a sink consumes at once: whole chunks, in the order they were received.
type Batch struct {
	Chunks  []*Chunk
	Records int
	Bytes   int
}

// Add appends c.
func (b *Batch) Add(c *Chunk) {
	b.Chunks = append(b.Chunks, c)
	b.Records += c.Records
	b.Bytes += len(c.Data)
}

// Done acknowledges every chunk once, for the sink that consumed the batch, and empties it.
func (b *Batch) Done() {
	for i, c := range b.Chunks {
		c.Done()
		b.Chunks[i] = nil
	}
	b.Chunks = b.Chunks[:0]
	b.Records, b.Bytes = 0, 0
}
