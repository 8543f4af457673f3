package kubetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/testenv"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const (
	// envEtcd names the etcd binary to use instead of the one on PATH.
	envEtcd = "LOGFERRY_ETCD"

	// ServiceClusterIPRange is the cluster's --service-cluster-ip-range.
	ServiceClusterIPRange = "10.0.0.0/24"
	// ServiceAccountIssuer is the cluster's --service-account-issuer (also the audience of
	// the service-account tokens).
	ServiceAccountIssuer = "https://kubernetes.default.svc"

	etcdTimeout      = 30 * time.Second
	apiserverTimeout = 90 * time.Second
	// minBuildTime is how much of the test timeout must be left to build kube-apiserver in
	// a test rather than skipping with how to prebuild it.
	minBuildTime = 15 * time.Minute
)

// Cluster is a running etcd + kube-apiserver pair, started by Start.
type Cluster struct {
	// URL is the API server's address, https://127.0.0.1:<port>.
	URL string
	// CAFile is the PEM file of the CA that signed the API server's serving certificate.
	CAFile string
	// AdminToken is a bearer token of user "admin" in group system:masters.
	AdminToken string
	// Dir holds the certificates, keys, etcd data and the logs (etcd.log,
	// kube-apiserver.log); it is removed when the test ends.
	Dir string

	caPEM      []byte
	clientOnce sync.Once
	clientset  kubernetes.Interface
	clientErr  error
}

// Start starts etcd and kube-apiserver for the test and stops them (and removes their
// files) when it ends. It builds kube-apiserver first if it is not cached (see
// APIServerBinary), except with -short or when the test timeout leaves too little time
// for the build. When etcd or kube-apiserver is missing and cannot be built, the test is
// skipped with how to install them, or fails under CI=true.
func Start(t testing.TB) *Cluster {
	t.Helper()
	etcdBin := os.Getenv(envEtcd)
	if etcdBin != "" {
		if err := checkExecutable(etcdBin); err != nil {
			testenv.SkipOrFail(t, "%s=%s: %v", envEtcd, etcdBin, err)
		}
	} else {
		var err error
		if etcdBin, err = exec.LookPath("etcd"); err != nil {
			testenv.SkipOrFail(t, "etcd is not on PATH: install it with `apt-get install etcd-server` (Debian/Ubuntu) or set %s to an etcd binary", envEtcd)
		}
	}
	apiBin := apiServer(t)

	begin := time.Now()
	dir, err := os.MkdirTemp("", "kubetest-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{Dir: dir}
	var procs []*process
	t.Cleanup(func() {
		stopStart := time.Now()
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].stop()
		}
		t.Logf("kubetest: stopped kube-apiserver and etcd in %s", time.Since(stopStart).Round(time.Millisecond))
		if t.Failed() {
			for _, p := range procs {
				t.Logf("kubetest: last lines of %s:\n%s", p.logPath, tailFile(p.logPath, 40))
			}
		}
		os.RemoveAll(dir)
	})

	token := make([]byte, 16)
	rand.Read(token)
	c.AdminToken = hex.EncodeToString(token)
	tokenFile := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokenFile, []byte(c.AdminToken+",admin,admin-uid,system:masters\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	certs, err := newPKI(dir, []string{"127.0.0.1", "localhost", "10.0.0.1", "kubernetes",
		"kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"})
	if err != nil {
		t.Fatalf("kubetest: certificates: %v", err)
	}
	c.CAFile, c.caPEM = certs.caFile, certs.caPEM

	// etcd. The ports are picked free and then bound by etcd, so another process can take
	// one in between: retry with new ports when it exits at once.
	var etcd *process
	var etcdURL string
	for attempt := 1; ; attempt++ {
		ports := freePorts(t, 2)
		etcdURL = "http://127.0.0.1:" + strconv.Itoa(ports[0])
		peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
		etcd, err = startProcess(etcdBin, 5*time.Second, filepath.Join(dir, "etcd.log"),
			"--name=kubetest",
			"--data-dir="+filepath.Join(dir, "etcd"),
			"--listen-client-urls="+etcdURL,
			"--advertise-client-urls="+etcdURL,
			"--listen-peer-urls="+peerURL,
			"--initial-advertise-peer-urls="+peerURL,
			"--initial-cluster=kubetest="+peerURL,
			"--initial-cluster-state=new",
			"--logger=zap", "--log-level=warn",
			// A single member: elect itself leader after ~100 ms, not the default ~1 s.
			"--heartbeat-interval=10", "--election-timeout=100",
		)
		if err != nil {
			t.Fatalf("kubetest: starting etcd: %v", err)
		}
		procs = append(procs, etcd)
		err = waitReady(etcd, etcdTimeout, &http.Client{Timeout: 5 * time.Second}, etcdURL+"/health", func(b []byte) bool {
			return bytes.Contains(b, []byte(`"health":"true"`))
		})
		if err == nil {
			break
		}
		if !etcd.exited() || attempt == 3 {
			t.Fatalf("kubetest: etcd: %v\n%s", err, tailFile(etcd.logPath, 30))
		}
		etcd.stop()
	}
	etcdReady := time.Since(begin)

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.caPEM)
	httpc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
	}}
	for attempt := 1; ; attempt++ {
		port := freePorts(t, 1)[0]
		c.URL = "https://127.0.0.1:" + strconv.Itoa(port)
		api, err := startProcess(apiBin, 0, filepath.Join(dir, "kube-apiserver.log"),
			"--etcd-servers="+etcdURL,
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			"--secure-port="+strconv.Itoa(port),
			"--cert-dir="+filepath.Join(dir, "apiserver-certs"),
			"--tls-cert-file="+certs.servingCertFile,
			"--tls-private-key-file="+certs.servingKeyFile,
			"--client-ca-file="+certs.caFile,
			"--token-auth-file="+tokenFile,
			"--authorization-mode=RBAC",
			"--service-cluster-ip-range="+ServiceClusterIPRange,
			"--service-account-issuer="+ServiceAccountIssuer,
			"--service-account-key-file="+certs.saPublicKeyFile,
			"--service-account-signing-key-file="+certs.saPrivateKeyFile,
			// Nothing would create the "default" ServiceAccount of a new namespace (no
			// controller-manager), and ServiceAccount admission rejects pods without it.
			"--disable-admission-plugins=ServiceAccount",
			// Keeps 127.0.0.1 out of the "kubernetes" Endpoints.
			"--endpoint-reconciler-type=none",
			"--profiling=false",
		)
		if err != nil {
			t.Fatalf("kubetest: starting kube-apiserver: %v", err)
		}
		procs = append(procs, api)
		err = waitReady(api, apiserverTimeout, httpc, c.URL+"/readyz", func(b []byte) bool {
			return strings.TrimSpace(string(b)) == "ok"
		})
		if err == nil {
			break
		}
		if !api.exited() || attempt == 3 || !strings.Contains(tailFile(api.logPath, 30), "address already in use") {
			t.Fatalf("kubetest: kube-apiserver: %v\n%s", err, tailFile(api.logPath, 30))
		}
		api.stop()
	}
	t.Logf("kubetest: kube-apiserver %s at %s ready after %s (etcd %s)", KubeVersion, c.URL,
		time.Since(begin).Round(time.Millisecond), etcdReady.Round(time.Millisecond))
	return c
}

// apiServer returns the kube-apiserver binary, building it when that is allowed.
func apiServer(t testing.TB) string {
	t.Helper()
	const howTo = "it is built from the k8s.io/kubernetes Go module, which needs the Go toolchain and the module proxy; prebuild it with `go run ./tools/kubeapiserver` (or set " + envAPIServer + " to a kube-apiserver " + KubeVersion + " binary)"
	path, ok, err := findAPIServer()
	if err != nil {
		testenv.SkipOrFail(t, "kube-apiserver: %v", err)
	}
	if ok {
		return path
	}
	if testing.Short() {
		t.Skipf("kube-apiserver %s is not built yet and -short does not build it (~10 minutes): %s", KubeVersion, howTo)
	}
	if dl, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if d, ok := dl.Deadline(); ok && time.Until(d) < minBuildTime {
			testenv.SkipOrFail(t, "kube-apiserver %s is not built yet (%s is missing) and building it takes ~10 minutes, more than this test run's timeout leaves (%s): %s",
				KubeVersion, path, time.Until(d).Round(time.Second), howTo)
		}
	}
	path, err = APIServerBinary()
	if err != nil {
		testenv.SkipOrFail(t, "kube-apiserver could not be built: %v\n%s", err, howTo)
	}
	return path
}

// RestConfig returns a client configuration for the admin user.
func (c *Cluster) RestConfig() *rest.Config {
	return c.restConfig(c.AdminToken)
}

func (c *Cluster) restConfig(token string) *rest.Config {
	return &rest.Config{
		Host:            c.URL,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: append([]byte(nil), c.caPEM...)},
		QPS:             100,
		Burst:           200,
		Timeout:         30 * time.Second,
	}
}

// Clientset returns a clientset of the admin user (the same one on every call).
func (c *Cluster) Clientset() kubernetes.Interface {
	c.clientOnce.Do(func() {
		c.clientset, c.clientErr = kubernetes.NewForConfig(c.RestConfig())
	})
	if c.clientErr != nil {
		panic(fmt.Sprintf("kubetest: clientset: %v", c.clientErr)) // only for a bad rest.Config, which is ours
	}
	return c.clientset
}

// Kubeconfig writes a kubeconfig file of the admin user (for kubectl, or
// KUBECONFIG of a program under test) into a temporary directory of t and returns its path.
func (c *Cluster) Kubeconfig(t testing.TB) string {
	t.Helper()
	return c.KubeconfigForToken(t, c.AdminToken)
}

// KubeconfigForToken writes a kubeconfig file that authenticates with the bearer token
// (for example one from ServiceAccountToken) into a temporary directory of t and returns
// its path. The CA certificate is embedded, so the file works on its own.
func (c *Cluster) KubeconfigForToken(t testing.TB, token string) string {
	t.Helper()
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) } // a YAML double-quoted string
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kubetest
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: kubetest-user
  user:
    token: %s
contexts:
- name: kubetest
  context:
    cluster: kubetest
    user: kubetest-user
current-context: kubetest
`, q(c.URL), q(base64.StdEncoding.EncodeToString(c.caPEM)), q(token))
	f, err := os.CreateTemp(t.TempDir(), "kubeconfig-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(cfg); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// ServiceAccountToken returns a one-hour token of the ServiceAccount namespace/name from the
// TokenRequest API, creating the namespace and the ServiceAccount when they do not exist.
// The account has no permissions until the test binds it to a role.
func (c *Cluster) ServiceAccountToken(t testing.TB, namespace, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs := c.Clientset()
	_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("kubetest: creating namespace %s: %v", namespace, err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	_, err = cs.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("kubetest: creating service account %s/%s: %v", namespace, name, err)
	}
	expiry := int64(3600)
	tr, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("kubetest: token for service account %s/%s: %v", namespace, name, err)
	}
	return tr.Status.Token
}

// process is a started etcd or kube-apiserver.
type process struct {
	cmd     *exec.Cmd
	grace   time.Duration // between SIGTERM and SIGKILL in stop
	logPath string
	logFile *os.File
	done    chan struct{}
	err     error
	once    sync.Once
}

func startProcess(bin string, grace time.Duration, logPath string, args ...string) (*process, error) {
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(lf, "### %s %s\n", bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	p := &process{cmd: cmd, grace: grace, logPath: logPath, logFile: lf, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the process to exit (SIGTERM) and kills it if it has not after grace; with
// grace 0 it kills it at once. (kube-apiserver's graceful shutdown takes a second, which
// buys a throwaway server nothing.)
func (p *process) stop() {
	p.once.Do(func() {
		if !p.exited() {
			if p.grace <= 0 {
				p.cmd.Process.Kill()
			} else {
				p.cmd.Process.Signal(syscall.SIGTERM)
			}
			select {
			case <-p.done:
			case <-time.After(p.grace):
				p.cmd.Process.Kill()
				<-p.done
			}
		}
		p.logFile.Close()
	})
}

// waitReady polls url until ok accepts a 200 response's body, the process exits or the
// timeout passes.
func waitReady(p *process, timeout time.Duration, hc *http.Client, url string, ok func([]byte) bool) error {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		resp, err := hc.Get(url)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && ok(body) {
				return nil
			}
			last = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		if p.exited() {
			return fmt.Errorf("exited (%v) before %s was ready", p.err, url)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %s", url, timeout, last)
		}
		select {
		case <-p.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freePorts returns n distinct ports that were free on 127.0.0.1 a moment ago.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("kubetest: no free port: %v", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// tailFile returns the last n lines of a file.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
