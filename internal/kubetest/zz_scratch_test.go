package kubetest_test

import (
	"os/exec"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/kubetest"
)

func TestScratch(t *testing.T) {
	c := kubetest.Start(t)
	time.Sleep(500 * time.Millisecond)
	exec.Command("cp", c.Dir+"/kube-apiserver.log", "/tmp/kt/api.log").Run()
	exec.Command("cp", c.Dir+"/etcd.log", "/tmp/kt/etcd.log").Run()
	t.Cleanup(func() { exec.Command("cp", c.Dir+"/kube-apiserver.log", "/tmp/kt/api-stop.log").Run() })
}
