//go:build linux

package podfiles

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// maxSymlinks is the kernel's MAXSYMLINKS: more links in one resolution is a loop.
const maxSymlinks = 40

// resolver resolves paths beneath directory descriptors. It remembers, for one call of
// Resolve or Open, whether the kernel has openat2.
type resolver struct {
	o      Options
	kernel int8 // 0: not probed yet; 1: openat2 works; -1: it does not
}

func newResolver(o Options) *resolver {
	r := &resolver{o: o}
	if o.noOpenat2 {
		r.kernel = -1
	}
	return r
}

func (r *resolver) closeFD(fd int) { unix.Close(fd) }

// openVolume opens the directory of a volume: loc.base by its path (it comes from the
// agent's configuration), then loc.rel beneath it without following any symbolic link.
func (r *resolver) openVolume(loc location) (int, string, error) {
	bfd, err := unix.Open(loc.base, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, "", errnoErr(err, false)
	}
	defer unix.Close(bfd)
	return r.resolve(bfd, loc.rel, true)
}

// resolve resolves rel (relative, "" is root itself) beneath the directory root and
// returns an O_PATH descriptor of the result and its canonical path relative to root
// (no symbolic link, no '.' or '..'; "" for root itself). A trailing symbolic link is
// followed. With noSymlinks no symbolic link may be met at all.
//
// The user-space walk decides; when the kernel has openat2, the kernel must resolve
// rel (RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS) and the canonical path (also
// RESOLVE_NO_SYMLINKS) to the same file, or the result is refused.
func (r *resolver) resolve(root int, rel string, noSymlinks bool) (int, string, error) {
	fd, canon, err := walkBeneath(root, rel, noSymlinks)
	if err != nil || canon == "" || !r.hasOpenat2() {
		// canon == "": the result is root itself (which may be a file: a subPath or
		// hostPath naming a file), nothing to check.
		return fd, canon, err
	}
	res := uint64(unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS)
	if noSymlinks {
		res |= unix.RESOLVE_NO_SYMLINKS
	}
	for _, check := range []struct {
		p     string
		flags uint64
		res   uint64
	}{
		{dot(rel), unix.O_PATH, res},
		{dot(canon), unix.O_PATH | unix.O_NOFOLLOW, res | unix.RESOLVE_NO_SYMLINKS},
	} {
		kfd, err := openat2(root, check.p, check.flags, check.res)
		if err != nil {
			unix.Close(fd)
			return -1, "", errnoErr(err, noSymlinks)
		}
		same, err := sameFile(fd, kfd)
		unix.Close(kfd)
		if err != nil || !same {
			unix.Close(fd)
			return -1, "", &resolveError{kind: kindChanged}
		}
	}
	return fd, canon, nil
}

// hasOpenat2 reports whether the kernel has openat2, probing the first time. Kernels
// before 5.6 answer ENOSYS; some seccomp profiles of container runtimes answer EPERM;
// EINVAL and E2BIG mean the kernel does not know the flags. (The RESOLVE_ flags used
// here all came with openat2 in 5.6.)
func (r *resolver) hasOpenat2() bool {
	if r.kernel == 0 {
		fd, err := openat2(unix.AT_FDCWD, "/", unix.O_PATH, unix.RESOLVE_NO_MAGICLINKS)
		switch err {
		case nil:
			unix.Close(fd)
			r.kernel = 1
		case unix.ENOSYS, unix.EPERM, unix.EINVAL, unix.E2BIG:
			r.kernel = -1
		default:
			r.kernel = 1
		}
	}
	return r.kernel > 0
}

// openat2 calls openat2(2), with O_CLOEXEC, retrying on EINTR and on EAGAIN (which
// RESOLVE_BENEATH returns when a rename or mount raced the resolution).
func openat2(dirfd int, p string, flags, resolve uint64) (int, error) {
	how := unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Resolve: resolve}
	for i := 0; ; i++ {
		fd, err := unix.Openat2(dirfd, p, &how)
		if err == unix.EINTR || (err == unix.EAGAIN && i < 16) {
			continue
		}
		return fd, err
	}
}

func dot(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}

// walkBeneath resolves rel beneath root one element at a time, each opened with
// O_PATH|O_NOFOLLOW relative to the descriptor of its directory, so nothing but this
// function ever interprets a symbolic link. A link is read from its own descriptor;
// an absolute target, or a '..' above root, is an escape; more than maxSymlinks links
// is a loop. It returns an O_PATH descriptor and the canonical relative path.
//
// '..' pops the walk's own stack of descriptors; the kernel's '..' is never used. A
// directory held on the stack may be renamed meanwhile by the pod, but only within its
// volume (rename(2) does not cross mounts, and the pod sees nothing above the volume):
// the result then stays inside the volume, and its canonical path may be stale, which
// the openat2 check, or the later Open, detects.
func walkBeneath(root int, rel string, noSymlinks bool) (int, string, error) {
	var dirs []int     // descriptors of the directories below root, owned
	var names []string // their names: the canonical path so far
	todo := split(rel) // elements still to resolve
	links := 0
	defer func() {
		for _, d := range dirs {
			unix.Close(d)
		}
	}()
	cur := func() int {
		if len(dirs) == 0 {
			return root
		}
		return dirs[len(dirs)-1]
	}
	for len(todo) > 0 {
		e := todo[0]
		todo = todo[1:]
		switch e {
		case ".":
			continue // cur is a directory
		case "..":
			if len(dirs) == 0 {
				return -1, "", &resolveError{kind: kindEscape}
			}
			unix.Close(dirs[len(dirs)-1])
			dirs, names = dirs[:len(dirs)-1], names[:len(names)-1]
			continue
		}
		fd, err := openatNoFollow(cur(), e)
		if err != nil {
			return -1, "", errnoErr(err, noSymlinks)
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, "", errnoErr(err, noSymlinks)
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			if noSymlinks {
				unix.Close(fd)
				return -1, "", &resolveError{kind: kindSymlink}
			}
			links++
			if links > maxSymlinks {
				unix.Close(fd)
				return -1, "", &resolveError{kind: kindLoop}
			}
			target, err := readlinkFD(fd)
			unix.Close(fd)
			if err != nil {
				return -1, "", errnoErr(err, noSymlinks)
			}
			if target == "" {
				return -1, "", &resolveError{kind: kindMissing}
			}
			if target[0] == '/' {
				return -1, "", &resolveError{kind: kindEscape}
			}
			todo = append(split(target), todo...)
		case unix.S_IFDIR:
			dirs = append(dirs, fd)
			names = append(names, e)
		default:
			if len(todo) > 0 {
				unix.Close(fd)
				return -1, "", &resolveError{kind: kindNotDir}
			}
			return fd, strings.Join(append(names, e), "/"), nil
		}
	}
	if len(dirs) == 0 {
		fd, err := unix.FcntlInt(uintptr(root), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return -1, "", errnoErr(err, noSymlinks)
		}
		return fd, "", nil
	}
	fd := dirs[len(dirs)-1]
	dirs = dirs[:len(dirs)-1] // the caller owns it now
	return fd, strings.Join(names, "/"), nil
}

// split splits a relative path, or a symbolic link's target, into elements. Empty
// elements are dropped; a trailing '/' becomes a '.' element, which requires a
// directory, as the kernel does.
func split(p string) []string {
	var out []string
	for _, e := range strings.Split(p, "/") {
		if e != "" {
			out = append(out, e)
		}
	}
	if strings.HasSuffix(p, "/") && len(out) > 0 {
		out = append(out, ".")
	}
	return out
}

func openatNoFollow(dirfd int, name string) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// readlinkFD reads the target of the symbolic link that fd (O_PATH|O_NOFOLLOW) is.
func readlinkFD(fd int) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(fd, "", buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
		if size >= 1<<16 {
			return "", unix.ENAMETOOLONG
		}
	}
}

func sameFile(a, b int) (bool, error) {
	var sa, sb unix.Stat_t
	if err := unix.Fstat(a, &sa); err != nil {
		return false, err
	}
	if err := unix.Fstat(b, &sb); err != nil {
		return false, err
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino, nil
}

// errnoErr turns a system call's error into a resolveError.
func errnoErr(err error, noSymlinks bool) error {
	switch err {
	case unix.ENOENT:
		return &resolveError{kind: kindMissing}
	case unix.EXDEV:
		return &resolveError{kind: kindEscape}
	case unix.ELOOP:
		if noSymlinks {
			return &resolveError{kind: kindSymlink}
		}
		return &resolveError{kind: kindLoop}
	case unix.ENOTDIR:
		return &resolveError{kind: kindNotDir}
	case unix.EACCES, unix.EPERM:
		return &resolveError{kind: kindDenied}
	case unix.EAGAIN:
		return &resolveError{kind: kindChanged}
	}
	return &resolveError{kind: kindOther, detail: err.Error()}
}

// fileType names the type of a file mode.
func fileType(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "regular file"
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFIFO:
		return "FIFO"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFCHR:
		return "character device"
	case unix.S_IFBLK:
		return "block device"
	case unix.S_IFLNK:
		return "symbolic link"
	}
	return fmt.Sprintf("mode %#o", mode&unix.S_IFMT)
}

// regularFile resolves rel beneath the mount directory mfd and returns its canonical
// path when it is a regular file.
func (r *resolver) regularFile(mfd int, rel string) (string, error) {
	fd, canon, err := r.resolve(mfd, rel, false)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", errnoErr(err, false)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return "", &resolveError{kind: kindNotRegular, detail: fileType(st.Mode)}
	}
	return canon, nil
}

// listDir lists the names in the directory rel beneath mfd, sorted.
func (r *resolver) listDir(mfd int, rel string) ([]string, error) {
	fd, _, err := r.resolve(mfd, rel, false)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	// "." of a directory descriptor is that directory: no name is looked up.
	dfd, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, errnoErr(err, false)
	}
	d := os.NewFile(uintptr(dfd), rel)
	defer d.Close()
	names, err := d.Readdirnames(maxDirEntries + 1)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, &resolveError{kind: kindOther, detail: err.Error()}
	}
	if len(names) > maxDirEntries {
		return nil, &resolveError{kind: kindOther, detail: fmt.Sprintf("refused: the directory has more than %d entries", maxDirEntries)}
	}
	sort.Strings(names)
	return names, nil
}

// Open opens a file that Resolve returned, for reading, with the guarantees of
// Resolve: f.HostPath is resolved again beneath f.VolumeRoot (symbolic links are
// followed only inside it; this is the whole volume, even when the mount had a
// subPath, as File does not carry the mount), and the file is opened only if it is a
// regular file; a FIFO, socket or device is never opened. f must be as Resolve returned it under the
// same o (Open checks that f.VolumeRoot is a volume directory under o's directories).
// A file that no longer exists yields an error matching fs.ErrNotExist.
//
// The returned *os.File is the file found at the time of the call; the caller reads
// from this descriptor and never opens f.HostPath by name.
func Open(f File, o Options) (*os.File, error) {
	file, err := open(f, o)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: f.HostPath, Err: err}
	}
	return file, nil
}

func open(f File, o Options) (*os.File, error) {
	o, err := o.normalized()
	if err != nil {
		return nil, err
	}
	rel, loc, err := relInVolume(f, o)
	if err != nil {
		return nil, err
	}
	r := newResolver(o)
	bfd, err := unix.Open(loc.base, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, errnoErr(err, false)
	}
	defer unix.Close(bfd)
	vfd, _, err := r.resolve(bfd, loc.rel, true)
	if err != nil {
		return nil, err
	}
	defer unix.Close(vfd)
	pfd, canon, err := r.resolve(vfd, rel, false)
	if err != nil {
		return nil, err
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil {
		return nil, errnoErr(err, false)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, &resolveError{kind: kindNotRegular, detail: fileType(st.Mode)}
	}
	fd, err := r.reopen(pfd, bfd, vfd, loc.rel, canon)
	if err != nil {
		return nil, err
	}
	var st2 unix.Stat_t
	if err := unix.Fstat(fd, &st2); err != nil {
		unix.Close(fd)
		return nil, errnoErr(err, false)
	}
	if st2.Dev != st.Dev || st2.Ino != st.Ino || st2.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, &resolveError{kind: kindChanged}
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, errnoErr(err, false)
	}
	return os.NewFile(uintptr(fd), f.HostPath), nil
}

// reopen opens the regular file that pfd (O_PATH) is for reading. Through
// /proc/self/fd it is exactly that file, with no lookup by name. Without /proc, the
// canonical path's directory is resolved again (no symbolic link allowed) and its last
// element opened with O_NOFOLLOW|O_NONBLOCK; the caller compares the result with pfd.
func (r *resolver) reopen(pfd, bfd, vfd int, volRel, canon string) (int, error) {
	const flags = unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOCTTY
	if !r.o.noProcReopen {
		fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(pfd), flags, 0)
		if err == nil {
			return fd, nil
		}
	}
	dirRoot, dir, name := vfd, path.Dir(canon), path.Base(canon)
	if canon == "" { // the volume itself is the file (a hostPath of type File)
		dirRoot, dir, name = bfd, path.Dir(volRel), path.Base(volRel)
	}
	if dir == "." {
		dir = ""
	}
	if !isElem(name) {
		return -1, &resolveError{kind: kindChanged}
	}
	dfd, _, err := r.resolve(dirRoot, dir, true)
	if err != nil {
		return -1, err
	}
	defer unix.Close(dfd)
	for {
		fd, err := unix.Openat(dfd, name, flags|unix.O_NOFOLLOW, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, errnoErr(err, false)
		}
		return fd, nil
	}
}
