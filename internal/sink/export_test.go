package sink

// Hooks for the external test package (contract_test.go, which cannot be in package
// sink: it imports sinktest, which imports sink).

// FileSystem is the file system the File sink uses (tests inject faults through it).
type FileSystem = fileSystem

// OSFile is an open output file of a FileSystem.
type OSFile = file

// OSFileSystem is the real file system.
var OSFileSystem FileSystem = osFS{}

// WithFileSystem returns o with its file system replaced by fs.
func WithFileSystem(o FileOptions, fs FileSystem) FileOptions {
	o.fs = fs
	return o
}
