// Package deploy holds logferry's deployment artefacts and their tests; it has no
// code of its own. The directory:
//
//	kustomize/        the kustomize base: kubectl apply -k deploy/kustomize
//	helm/logferry/    the Helm chart; ci/all-values.yaml sets every value
//	monitoring/       Prometheus alert rules and a Grafana dashboard
//
// deploy_test.go renders the base with kubectl and the chart with helm, checks the
// security properties of the DaemonSet, the RBAC rules and that the shipped agent
// configuration loads with internal/config, and, against a real kube-apiserver
// (internal/kubetest), that every rendered object passes kubectl apply --dry-run=server.
// docs/kubernetes.md explains the choices the tests hold in place.
package deploy
