package config

// NewSink returns a sink of type typ named name with every default applied, for sinks
// given on the command line rather than in the file.
func NewSink(name, typ, path string) Sink {
	s := defaultSink()
	s.Name, s.Type, s.Path = name, typ, path
	finishSink(&s)
	return s
}
