package kube

// Exported for the external tests (package kube_test), which use kubefake.
var Owners = owners

// GC runs the collection of deleted pods now.
func (c *Cache) GC() { c.gc() }
