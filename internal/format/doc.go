// Package format decodes the container log files written by container runtimes
// into logical log entries.
//
// Three formats are supported, each behind the same [Decoder] interface:
//
//   - CRI (containerd, CRI-O/conmon): "<timestamp> <stream> <tag> <content>", where
//     a run of P (partial) records ended by an F (full) record forms one logical line.
//   - Docker json-file: one JSON object per line; consecutive objects of a stream are
//     joined until the "log" value ends with "\n" (the daemon splits lines at 16 KiB).
//   - Raw: every physical line is one entry.
//
// The caller splits a file into physical lines (without the trailing '\n') and feeds
// them in file order, one decoder per file. Partial runs are reassembled per stream,
// because stdout and stderr runs may interleave. A merged message is capped at
// [Options.MaxMergedBytes]; bytes beyond the cap are dropped and counted, so memory
// stays bounded however many fragments a runaway writer produces.
//
// Decoders are built for the hot path: once their buffers are warm, feeding a well-formed
// line does not allocate. Entries and their slices are owned by the decoder and are
// only valid until the next call into it; copy what must be kept.
//
// Timestamps are parsed as the kubelet does (RFC 3339 with a fraction of any width and
// either "Z" or a numeric offset), so both the containerd and the CRI-O dialect are
// accepted. The returned time carries the line's UTC offset as a fixed zone.
package format
