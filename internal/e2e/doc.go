// Package e2e holds the end-to-end tests: the real logferry binary collects from a node
// simulated by `logferry gen` (kubelet rotation with gzip and pruning, container
// restarts, long lines, malformed lines), is killed with SIGKILL at random moments and
// restarted, and the checker proves from gen's manifest that every line arrived.
package e2e
