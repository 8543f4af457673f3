package sink

import (
	"io"
	"os"
	"syscall"
	"unsafe"
)

const haveWritev = true

// iovMax is Linux's IOV_MAX: the most buffers one writev takes.
const iovMax = 1024

// iovScratch keeps the iovec array between calls.
type iovScratch struct{ iov []syscall.Iovec }

// writev writes bufs to f with as few writev(2) calls as the kernel allows.
func writev(f *os.File, bufs [][]byte, scratch *iovScratch) (int64, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var total int64
	var werr error
	if scratch == nil {
		scratch = &iovScratch{}
	}
	iov := scratch.iov[:0]
	for len(bufs) > 0 {
		iov = iov[:0]
		for _, b := range bufs {
			if len(iov) == iovMax {
				break
			}
			if len(b) == 0 {
				continue
			}
			v := syscall.Iovec{Base: &b[0]}
			v.SetLen(len(b))
			iov = append(iov, v)
		}
		if len(iov) == 0 {
			break
		}
		var n uintptr
		var errno syscall.Errno
		err := rc.Write(func(fd uintptr) bool {
			for {
				n, _, errno = syscall.Syscall(syscall.SYS_WRITEV, fd,
					uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
				if errno != syscall.EINTR {
					return true
				}
			}
		})
		if err == nil && errno != 0 {
			err = os.NewSyscallError("writev", errno)
		}
		if err != nil {
			werr = &os.PathError{Op: "write", Path: f.Name(), Err: err}
			break
		}
		if n == 0 {
			werr = &os.PathError{Op: "write", Path: f.Name(), Err: io.ErrShortWrite}
			break
		}
		total += int64(n)
		bufs = advance(bufs, int(n))
		// drop leading empty buffers so the loop ends when everything is written
		for len(bufs) > 0 && len(bufs[0]) == 0 {
			bufs = bufs[1:]
		}
	}
	clear(iov[:cap(iov)]) // keep no pointer to the data
	scratch.iov = iov[:0]
	return total, werr
}
