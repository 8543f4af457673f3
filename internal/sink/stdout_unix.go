//go:build unix

package sink

import (
	"os"
	"syscall"
)

// dupStdout returns a close-on-exec duplicate of fd 1.
func dupStdout() (*os.File, error) {
	syscall.ForkLock.RLock()
	fd, err := syscall.Dup(1)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, os.NewSyscallError("dup", err)
	}
	return os.NewFile(uintptr(fd), "/dev/stdout"), nil
}
