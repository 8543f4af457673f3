package gen

import (
	"encoding/hex"
	"fmt"
	"strconv"
)

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnv64(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// mix64 is the splitmix64 finalizer.
func mix64(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	z ^= z >> 31
	return z
}

// splitmix is a tiny deterministic generator (splitmix64).
type splitmix uint64

func (s *splitmix) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	return mix64(uint64(*s))
}

// hashOf mixes the seed, a domain string and some numbers into one word.
func hashOf(seed int64, domain string, nums ...uint64) uint64 {
	h := mix64(uint64(seed) ^ fnv64(fnvOffset, domain))
	for _, n := range nums {
		h = mix64(h ^ (n + 0x9e3779b97f4a7c15))
	}
	return h
}

var namespaceNames = []string{"default", "prod", "staging", "kube-system", "monitoring", "payments", "search", "batch"}
var appNames = []string{"web", "api", "worker", "cache", "sms", "auth", "ingest", "billing", "search", "mailer", "gateway", "report"}
var containerNames = []string{"app", "sidecar", "proxy", "metrics", "log-shipper", "init-db"}

func namespaceName(i int) string {
	if i < len(namespaceNames) {
		return namespaceNames[i]
	}
	return "ns-" + strconv.Itoa(i)
}

func containerName(i int) string {
	if i < len(containerNames) {
		return containerNames[i]
	}
	return "c" + strconv.Itoa(i)
}

// podName returns a Deployment-style pod name, <app>-<10 chars>-<5 chars>, as
// Kubernetes generates them (from its "bcdfghjklmnpqrstvwxz2456789" alphabet).
func podName(seed int64, i int) string {
	const alnum = "bcdfghjklmnpqrstvwxz2456789"
	app := appNames[i%len(appNames)]
	// Pods of one "deployment" share the replicaset hash.
	rs := hashOf(seed, "replicaset", uint64(i%len(appNames)), uint64(i/(len(appNames)*4)))
	h := hashOf(seed, "pod", uint64(i))
	b := make([]byte, 0, len(app)+17)
	b = append(b, app...)
	b = append(b, '-')
	for k := 0; k < 10; k++ {
		b = append(b, alnum[rs%uint64(len(alnum))])
		rs /= uint64(len(alnum))
	}
	b = append(b, '-')
	for k := 0; k < 5; k++ {
		b = append(b, alnum[h%uint64(len(alnum))])
		h /= uint64(len(alnum))
	}
	return string(b)
}

// podUID returns a version-4-shaped UUID derived from the seed.
func podUID(seed int64, i int) string {
	var b [16]byte
	a, c := hashOf(seed, "uid-a", uint64(i)), hashOf(seed, "uid-b", uint64(i))
	for k := 0; k < 8; k++ {
		b[k] = byte(a >> (8 * k))
		b[8+k] = byte(c >> (8 * k))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// dockerID returns a 64-hex container id for instance restart of container idx.
func dockerID(seed int64, idx, restart int) string {
	var b [32]byte
	for w := 0; w < 4; w++ {
		v := hashOf(seed, "docker-id", uint64(idx), uint64(restart), uint64(w))
		for k := 0; k < 8; k++ {
			b[w*8+k] = byte(v >> (8 * k))
		}
	}
	return hex.EncodeToString(b[:])
}
