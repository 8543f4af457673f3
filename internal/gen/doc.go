// Package gen simulates a busy Kubernetes node: pods whose containers write
// their stdout/stderr the way the container runtimes do (containerd and CRI-O
// in the CRI format, dockerd in the json-file format), rotated the way the
// kubelet (CRI) or dockerd (json-file) rotates them, with restarts, long lines
// that the runtimes split, and occasional garbage lines.
//
// Every logical line carries a unique, checkable key (see Message), and Run
// writes a Manifest saying exactly which lines exist, so that a checker
// (package verify) can prove that an agent delivered every line.
//
// Layout under Options.Out:
//
//	pods/<ns>_<pod>_<uid>/<container>/<restart>.log        (--format cri, crio)
//	docker/<id>/<id>-json.log, docker/<id>/config.v2.json  (--format docker)
//	manifest.json
//
// # Runtime behaviours reproduced
//
//   - containerd: RFC3339Nano timestamps (variable-width fraction, "Z" in UTC),
//     lines longer than 16384 bytes split into P records of 16384 bytes and a
//     final F record of 1..16384 bytes; every record gets its own time.Now().
//   - CRI-O (conmon): exactly 9 fractional digits and a numeric offset ("+00:00"
//     in UTC); the line plus its newline is read in 8192-byte buffers, a buffer
//     without a newline is written as a P record, the buffer holding the newline
//     as F. A line of exactly k*8192 bytes therefore ends with an F record with
//     empty content, as conmon writes it. Records of one buffer share one
//     timestamp (each buffer holds at most one record here: the simulated
//     application writes one line per write(2)).
//   - dockerd json-file: moby's writer (keys log, stream, time; moby's escaping,
//     so tab is \u0009 and <, >, & are \u003c, \u003e, \u0026), time in UTC
//     RFC3339Nano, lines of 16384 bytes or more split into 16384-byte pieces that
//     all reuse the first piece's timestamp, "\n" only on the last piece (which
//     may be just "\n").
//
// # Rotation
//
// CRI formats: a simulated kubelet container log manager checks every
// RotateInterval and rotates exactly like pkg/kubelet/logs (see rotateLog). The
// rotated file name carries the kubelet's clock to the second
// (N.log.YYYYMMDD-HHMMSS, UTC here). Because tests rotate many times a second,
// the simulated kubelet clock of a container advances at least one second per
// rotation of that container, so it can run ahead of the wall clock; names never
// collide and their lexical order is their age order, as the kubelet assumes.
//
// docker: rotation inside the writer, checked before each record once the live
// file has reached RotateSize, like moby's loggerutils.LogFile.
//
// # Restarts
//
// A container restarts after RestartEvery logical lines. CRI: the runtime starts
// writing <n+1>.log, and the kubelet's garbage collection (one dead container is
// kept) removes <n-1>.log* at that moment. docker: a restart is a new container
// id and directory, and the directory of the container before the previous one
// is removed. KeepRestarts keeps everything.
package gen
