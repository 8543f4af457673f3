// Package pipeline carries encoded records from the file readers to the sinks and
// carries acknowledgements back, so that a file's checkpoint only ever covers records
// that every sink has durably accepted.
//
// The unit of transport is the Chunk: the records one reader produced from one file in
// one turn, already encoded as JSON lines. A Chunk is delivered to every sink; each sink
// calls Done exactly once when the chunk is durably accepted (or, for later sinks, given
// up and counted). The last Done releases the chunk's bytes from the Budget and reports
// the chunk's sequence number to its file's Tracker, which advances the file's committed
// offset over every contiguous acknowledged chunk.
package pipeline
