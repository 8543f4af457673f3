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
	serial  int64 // order of first read within the group; 0 until then
	start   int64 // read offset when the file was first read
	prefix  *record.Prefix
	tracker *pipeline.Tracker

	readOff  int64 // start of the next unconsumed physical line
	size     int64 // size at the last stat (uncompressed size for gz, when known)
	skipping bool  // discarding the rest of an over-long line
	holdOff  int64 // while skipping: where that line starts (checkpoints stay there)
	deleted  bool  // link count 0: the runtime or kubelet removed it

	pendingSince time.Time // when the decoder was first seen holding the partial line at pendingOff
	pendingOff   int64     // the partial line's (tagged) start offset
	pendingAt    int64     // the read offset when the clock started
	finalSeen    bool      // isFinal was true at an end of file; the next end of file finishes it
	lastActive   time.Time
	done         bool // read to its final end; closes once acknowledged
	lost         bool // given up: closed without waiting for acknowledgement
}

// safeOffset is where reading f would restart without losing anything: before any
// partial line the group's decoder holds and before an over-long line being skipped. A
// partial line carried over from an older file pins f at the offset it was first read
// from, since the line's later pieces are somewhere in f.
func (f *file) safeOffset(dec format.Decoder) int64 {
	safe := f.readOff
	if f.skipping && f.holdOff < safe {
		safe = f.holdOff
	}
	if dec != nil {
		if p, ok := dec.Pending(); ok {
			s, off := splitOffset(p)
			switch {
			case s == f.serial && off < safe:
				safe = off
			case s < f.serial && f.start < safe:
				safe = f.start
			}
		}
	}
	return safe
}

// The group's decoder sees offsets tagged with the file's serial in the high bits, so a
// partial line can continue from one file of a container into the next (docker splits
// long lines into pieces that a rotation can separate; so can containerd's P/F records)
// and each entry can still be attributed to the file and offset it started at.
const serialShift = 40 // files up to 1 TiB

func tagOffset(serial, off int64) int64 { return serial<<serialShift | off }

func splitOffset(v int64) (serial, off int64) { return v >> serialShift, v & (1<<serialShift - 1) }

func (f *file) close() {
	if f.r != nil {
		f.r.Close()
		f.r = nil
	}
}
