package tail

import "github.com/logferry/logferry/internal/discover"

// Docker gives every instance of a Kubernetes container (every restart) its own
// directory, so each is a group of its own. To keep a container's lines in order
// across restarts, a newer instance is not read while an older one still has files
// to finish, and an older instance's live file counts as final once a newer instance
// has written. Instances are matched by pod UID and container name from the docker
// metadata; without it, groups are independent.

// instanceKey returns the key linking the instances of one container, or "".
func instanceKey(dg discover.Group) string {
	s := dg.Source
	if dg.Layout != discover.Docker || s.PodUID == "" || s.Container == "" || s.RestartCount < 0 {
		return ""
	}
	return s.PodUID + "/" + s.Container
}

// register links g with the other instances of its container. m.mu held.
func (m *Manager) register(g *group) {
	if g.inst = instanceKey(g.g); g.inst != "" {
		m.instances[g.inst] = append(m.instances[g.inst], g)
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
}

// siblings returns the other instances of g's container that are older (newer=false)
// or newer (newer=true) than g.
func (m *Manager) siblings(g *group, newer bool) []*group {
	if g.inst == "" {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*group
	for _, o := range m.instances[g.inst] {
		r, mine := o.g.Source.RestartCount, g.g.Source.RestartCount
		if o != g && (newer && r > mine || !newer && r < mine) {
			out = append(out, o)
		}
	}
	return out
}

// olderUnfinished reports whether an older instance of g's container still has files
// to read to their end.
func (m *Manager) olderUnfinished(g *group) bool {
	for _, o := range m.siblings(g, false) {
		if o.undone.Load() > 0 {
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
