package tail

import (
	"time"

	"github.com/logferry/logferry/internal/checkpoint"
	"github.com/logferry/logferry/internal/discover"
	"github.com/logferry/logferry/internal/format"
	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/record"
)

// file is one file identity being read: a plain file (device + inode) or a gzipped
// rotation read through decompression. It is only touched with its group's lock held.
type file struct {
	path     string
	name     discover.Name
	dev, ino uint64
	r        reader // nil once closed

	fp      uint64
	fpKnown bool
	key     checkpoint.Key

	kind    format.Kind
	dec     format.Decoder
	prefix  *record.Prefix
	tracker *pipeline.Tracker

	readOff  int64 // start of the next unconsumed physical line
	size     int64 // size at the last stat (uncompressed size for gz, when known)
	skipping bool  // discarding the rest of an over-long line
	holdOff  int64 // while skipping: where that line starts (checkpoints stay there)
	deleted  bool  // link count 0: the runtime or kubelet removed it

	pendingSince time.Time // when the decoder was first seen holding the partial line at pendingOff
	pendingOff   int64
	finalSeen    bool // isFinal was true at an end of file; the next end of file finishes it
	lastActive   time.Time
	done         bool // read to its final end; closes once acknowledged
	lost         bool // given up: closed without waiting for acknowledgement
}

// safeOffset is where reading would restart without losing anything: before any partial
// line the decoder holds and before an over-long line being skipped.
func (f *file) safeOffset() int64 {
	safe := f.readOff
	if f.skipping && f.holdOff < safe {
		safe = f.holdOff
	}
	if f.dec != nil {
		if p, ok := f.dec.Pending(); ok && p < safe {
			safe = p
		}
	}
	return safe
}

func (f *file) close() {
	if f.r != nil {
		f.r.Close()
		f.r = nil
	}
}
