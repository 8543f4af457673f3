// Package kubetest starts a real Kubernetes API server for integration tests: Debian's etcd
// (package etcd-server) and a kube-apiserver built from the k8s.io/kubernetes module at
// KubeVersion and cached under ~/.cache/logferry-test (see APIServerBinary). It is a normal
// package so that tests of several packages can share it, but only tests (and the CI
// prebuild helper tools/kubeapiserver) use it: the agent never imports it.
//
// Start gives each test its own etcd and kube-apiserver on free 127.0.0.1 ports, with RBAC
// authorization, an admin token (group system:masters) and service-account token issuance,
// and stops them when the test ends. There is no controller-manager, scheduler or kubelet:
// pods are created with spec.nodeName set and stay Pending; namespaces that are deleted stay
// Terminating; the ServiceAccount admission plugin is off, so pods can be created in a new
// namespace without its "default" ServiceAccount (nothing would create it).
//
// When etcd or the kube-apiserver binary is missing and cannot be built, Start skips the
// test with how to get them, except under CI=true, where it fails the test.
package kubetest
