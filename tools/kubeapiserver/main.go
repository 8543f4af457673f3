// Command kubeapiserver builds (once) and caches the kube-apiserver binary that the
// integration tests run (internal/kubetest), and prints its path: `go run ./tools/kubeapiserver`.
// CI runs it before the tests, so the ~10-minute first build is not charged to a test's
// timeout. The cache is $LOGFERRY_TEST_CACHE, default ~/.cache/logferry-test;
// $LOGFERRY_KUBE_APISERVER, the path of an existing binary, skips the build.
package main

import (
	"fmt"
	"os"

	"github.com/logferry/logferry/internal/kubetest"
)

func main() {
	path, err := kubetest.APIServerBinary()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubeapiserver:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}
