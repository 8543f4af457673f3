package tail

import "github.com/logferry/logferry/internal/discover"

// Docker gives every instance of a Kubernetes container (every restart) its own
// directory, so each is a group of its own. To keep a container's lines in order
// across restarts, a newer instance is not read while an older one still has files
// to finish, and an older instance's live file counts as final once a newer instance
// has written. Instances are matched by pod UID and container name from the docker
// metadata; without it, groups are independent.
//
// The metadata is in config.v2.json, which docker writes (atomically) before it creates
// the container's log file. Discovery can still see a new directory half made: its
// metadata read before config.v2.json exists, its listing taken after the log file
// appeared. So the metadata is read again after every listing that finds it missing
// (see reconcile): any log file a listing shows then has its config.v2.json readable, and
// no file is opened with metadata older than the listing that found it.

// instanceKey returns the key linking the instances of one container, or "".
func instanceKey(dg discover.Group) string {
	s := dg.Source
	if dg.Layout != discover.Docker || s.PodUID == "" || s.Container == "" || s.RestartCount < 0 {
		return ""
	}
	return s.PodUID + "/" + s.Container
}

// link (re)links g with the other instances of its container after its metadata
// changed: it is unknown until config.v2.json has been read, and a group is never read
// before it is linked (see adoptMetadata). g.mu held; takes m.mu.
func (m *Manager) link(g *group) {
	key, restart := instanceKey(g.g), g.g.Source.RestartCount
	m.mu.Lock()
	defer m.mu.Unlock()
	if g.inst == key && g.instRestart == restart {
		return
	}
	m.unregister(g)
	if m.groups[g.g.Key] != g {
		return // dropped meanwhile (its directory is gone)
	}
	g.inst, g.instRestart = key, restart
	if key != "" {
		m.instances[key] = append(m.instances[key], g)
	}
}

// unregister removes g. m.mu held.
func (m *Manager) unregister(g *group) {
	if g.inst == "" {
		return
	}
	list := m.instances[g.inst]
	for i, o := range list {
		if o == g {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(m.instances, g.inst)
	} else {
		m.instances[g.inst] = list
	}
	g.inst, g.instRestart = "", 0
}

// adoptMetadata is called when g gained its docker metadata (g.g.Source is updated):
// the records of files already opened are rendered again and g is linked with its
// container's other instances. g.mu held.
func (m *Manager) adoptMetadata(g *group) {
	m.o.Logger.Debug("docker metadata found", "dir", g.g.Dir, "pod", g.g.Source.Pod,
		"container", g.g.Source.Container, "restart", g.g.Source.RestartCount)
	for _, f := range g.files {
		if f.fpKnown {
			m.setPrefix(g, f)
		}
	}
	m.link(g)
}

// siblings returns the other instances of g's container that are older (newer=false)
// or newer (newer=true) than g.
func (m *Manager) siblings(g *group, newer bool) []*group {
	m.mu.Lock()
	defer m.mu.Unlock()
	if g.inst == "" {
		return nil
	}
	var out []*group
	for _, o := range m.instances[g.inst] {
		r, mine := o.instRestart, g.instRestart
		if o != g && (newer && r > mine || !newer && r < mine) {
			out = append(out, o)
		}
	}
	return out
}

// olderUnfinished reports whether an older instance of g's container still has files
// to read to their end, or is in a turn: a turn hands its chunks to the sinks after it
// released the group (and updated undone), and lines of a newer instance read meanwhile
// by another worker would overtake them.
func (m *Manager) olderUnfinished(g *group) bool {
	for _, o := range m.siblings(g, false) {
		if o.undone.Load() > 0 || o.inTurn.Load() {
			return true
		}
	}
	return false
}

// newerHasData reports whether a newer instance of g's container has written.
func (m *Manager) newerHasData(g *group) bool {
	for _, o := range m.siblings(g, true) {
		if o.hasData.Load() {
			return true
		}
	}
	return false
}

// updateState refreshes the counters siblings read without g's lock. g.mu held.
func (g *group) updateState() {
	var undone int32
	data := false
	for _, f := range g.files {
		if f.r != nil && !f.done {
			undone++
		}
		if f.size > 0 {
			data = true
		}
	}
	g.undone.Store(undone)
	if data {
		g.hasData.Store(true)
	}
}
