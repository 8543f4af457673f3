//go:build !linux

package sink

import "os"

const haveWritev = false

type iovScratch struct{}

func writev(*os.File, [][]byte, *iovScratch) (int64, error) { panic("unreachable") }
