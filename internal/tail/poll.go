package tail

import (
	"sort"
	"time"
)

// check inspects g for the poller (g.mu held): it closes finished files once every
// record is acknowledged and reports whether g has something to read, with the bytes of
// deleted files it holds and its number of open files.
func (m *Manager) check(g *group, now time.Time) (ready bool, heldDeleted int64, open int) {
	kept := g.files[:0]
	headSeen := false
	for _, f := range g.files {
		if f.r == nil {
			continue
		}
		if f.done {
			if f.tracker == nil || f.tracker.Outstanding() == 0 {
				f.close()
				continue
			}
			kept = append(kept, f)
			open++
			if f.deleted {
				heldDeleted += f.size
			}
			continue
		}
		kept = append(kept, f)
		open++
		if fi, err := statReader(f.r); err == nil {
			_, _, nlink := devIno(fi)
			f.deleted = nlink == 0
			if f.size != fi.Size() {
				f.size = fi.Size()
				if !headSeen {
					ready = true
				}
			}
		}
		if f.deleted {
			heldDeleted += f.size
		}
		if headSeen {
			if f.size > 0 {
				ready = true // a newer file has data: the head may be final
			}
			continue
		}
		headSeen = true
		if f.size != f.readOff && !f.skipping || f.skipping || f.deleted || f.name.Gz {
			ready = true
		}
		if !f.pendingSince.IsZero() && now.Sub(f.pendingSince) >= m.live().PartialFlushTimeout {
			ready = true
		}
		if g.chain != nil && g.chain.Due(now) {
			ready = true // a multiline group waited its timeout
		}
		if g.dec != nil {
			if _, ok := g.dec.Pending(); ok && f.pendingSince.IsZero() {
				ready = true // start the partial-line clock
			}
		}
	}
	for i := len(kept); i < len(g.files); i++ {
		g.files[i] = nil
	}
	g.files = kept
	return ready, heldDeleted, open
}

// enforceBudget releases deleted files, oldest activity first, until the bytes held open
// fit the budget. A file read to its end is just closed: its unacknowledged records are
// already in memory on their way to the sinks. A file not read to its end is given up,
// and its unread bytes are counted as lost for its container.
func (m *Manager) enforceBudget(groups []*group, held, budget int64) {
	type cand struct {
		g *group
		f *file
	}
	var cands []cand
	for _, g := range groups {
		g.mu.Lock()
		for _, f := range g.files {
			if f.deleted && f.r != nil && !f.lost {
				cands = append(cands, cand{g, f})
			}
		}
		g.mu.Unlock()
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].f.lastActive.Before(cands[j].f.lastActive) })
	for _, c := range cands {
		if held <= budget {
			return
		}
		c.g.mu.Lock()
		if c.f.r != nil && !c.f.lost {
			if !c.f.done {
				lost := c.f.size - c.f.readOff
				if lost < 0 {
					lost = 0
				}
				m.countLost(c.g, lost)
				m.o.Logger.Error("deleted file exceeds the held-bytes budget; giving it up",
					"path", c.f.path, "group", c.g.g.Key, "lost_bytes", lost, "budget", budget)
			}
			held -= c.f.size
			c.f.lost, c.f.done = true, true
			c.f.close()
		}
		c.g.mu.Unlock()
	}
}
