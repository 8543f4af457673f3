package gen

// plan decides, deterministically from the options, what line seq of a
// container looks like: its length, whether it is long, its stream, and whether
// it is written interleaved with its neighbour.
type plan struct {
	format       string
	seed         int64
	lineSize     int
	longEvery    int64
	longSize     int
	restartEvery int64
	lines        int64
}

func newPlan(o Options) plan {
	return plan{
		format:       o.Format,
		seed:         o.Seed,
		lineSize:     o.LineSize,
		longEvery:    int64(o.LongEvery),
		longSize:     o.LongSize,
		restartEvery: o.RestartEvery,
		lines:        o.Lines,
	}
}

// baseLong: every longEvery-th line (seq longEvery-1, 2*longEvery-1, ...).
func (p *plan) baseLong(seq int64) bool {
	return p.longEvery > 0 && (seq+1)%p.longEvery == 0
}

// pairSecond reports whether seq is the second line of an interleaved pair
// (CRI formats only): every other long line m is written interleaved with line
// m-1, which is then also long and on the other stream. The records alternate
// (m's first record comes first) and m-1's F record always precedes m's, so the
// lines complete in seq order. Pairs never span a restart or the end.
func (p *plan) pairSecond(seq int64) bool {
	if p.format == FormatDocker || p.longEvery < 3 || seq < 1 || !p.baseLong(seq) {
		return false
	}
	if ((seq+1)/p.longEvery)%2 != 0 {
		return false
	}
	if p.restartEvery > 0 && (seq-1)/p.restartEvery != seq/p.restartEvery {
		return false
	}
	if p.lines > 0 && seq >= p.lines {
		return false
	}
	return true
}

// long reports whether line seq has a long message.
func (p *plan) long(seq int64) bool {
	return p.baseLong(seq) || p.pairSecond(seq+1)
}

// stderr reports whether line seq goes to stderr: every 7th line, except that
// the first line of an interleaved pair takes the stream its partner does not.
func (p *plan) stderr(seq int64) bool {
	if p.pairSecond(seq + 1) {
		return !baseStderr(seq + 1)
	}
	return baseStderr(seq)
}

func baseStderr(seq int64) bool { return seq%7 == 6 }

// length returns the message length of line seq of container idx (before
// fitting the key prefix): long lines are longSize, others are uniform in
// [lineSize/2, lineSize/2+lineSize], averaging lineSize.
func (p *plan) length(idx int, seq int64) int {
	if p.long(seq) {
		return p.longSize
	}
	h := hashOf(p.seed, "len", uint64(idx), uint64(seq))
	return p.lineSize/2 + int(h%uint64(p.lineSize+1))
}

func streamName(stderr bool) string {
	if stderr {
		return "stderr"
	}
	return "stdout"
}
