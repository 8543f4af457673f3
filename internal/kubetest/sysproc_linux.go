package kubetest

import "syscall"

// sysProcAttr makes the kernel kill etcd and kube-apiserver when the test process dies
// without running its cleanups (a test timeout's panic, SIGKILL), so they are not left
// running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
