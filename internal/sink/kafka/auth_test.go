package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/pipeline"
	"github.com/logferry/logferry/internal/secret"
	"github.com/logferry/logferry/internal/secret/secrettest"
	"github.com/logferry/logferry/internal/sink"
)

// TestRunnerRetries runs the sink under the real sink.Runner while the broker
// fails produce requests with a retriable error: the Runner retries the batch
// until it succeeds and every record arrives.
func TestRunnerRetries(t *testing.T) {
	c := newCluster(t, "logs.default")
	s := newSink(t, c, nil, kgo.RecordRetries(1), kgo.MetadataMinAge(50*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond }))
	failed := failProduce(c, 3, 19 /* NOT_ENOUGH_REPLICAS */)
	in := make(chan *pipeline.Chunk, 64)
	var lines []string
	for i := range 40 {
		l := sampleRecord("default", i%4, i, "runner")
		lines = append(lines, l)
		in <- &pipeline.Chunk{Data: []byte(l + "\n"), Records: 1}
	}
	close(in)
	var fails int
	r := sink.NewRunner(s, in, sink.RunnerOptions{
		Backoff: sink.Backoff{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond, Factor: 2},
		Observe: func(_ time.Duration, err error) {
			if err != nil {
				fails++
			}
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if fails == 0 || failed.Load() < 3 {
		t.Fatalf("%d failed Consume calls, %d injected failures", fails, failed.Load())
	}
	seen := map[string]bool{}
	for _, g := range consumeAll(t, c, len(lines), "logs.default") {
		seen[g.value] = true
	}
	for _, l := range lines {
		if !seen[l] {
			t.Fatalf("lost %s", l)
		}
	}
}

// writeFile writes content to a new file name of t and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	return secrettest.Files(t)(name, content)
}

func TestSASL(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.Ports(0), kfake.SeedTopics(1, "logs"), kfake.EnableSASL(),
				kfake.Superuser(mech, "agent", "s3cret"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			s := newSink(t, c, func(k *config.KafkaSink) {
				k.Topic, k.TopicFallback = "logs", ""
				k.SASL = config.KafkaSASL{Mechanism: mech, Username: "agent", PasswordFile: writeFile(t, "pw", "s3cret\n")}
			})
			if err := s.Consume(context.Background(), batchOf([]string{sampleRecord("default", 1, 1, "sasl")}, 1)); err != nil {
				t.Fatal(err)
			}
			bad := newSink(t, c, func(k *config.KafkaSink) {
				k.Topic, k.TopicFallback = "logs", ""
				k.DeliveryTimeout = time.Second
				k.SASL = config.KafkaSASL{Mechanism: mech, Username: "agent", Password: "wrong"}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = bad.Consume(ctx, batchOf([]string{sampleRecord("default", 1, 2, "sasl")}, 1))
			if err == nil {
				t.Fatal("a wrong password was accepted")
			}
			t.Logf("wrong password: permanent=%v: %v", sink.IsPermanent(err), err)
		})
	}
	t.Run("password file rotated", func(t *testing.T) {
		c, err := kfake.NewCluster(kfake.Ports(0), kfake.SeedTopics(1, "logs"), kfake.EnableSASL(),
			kfake.Superuser("SCRAM-SHA-512", "agent", "rotated-s3cret"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		pw := writeFile(t, "pw", "old\n")
		s := newSink(t, c, func(k *config.KafkaSink) {
			k.Topic, k.TopicFallback = "logs", ""
			k.SASL = config.KafkaSASL{Mechanism: "SCRAM-SHA-512", Username: "agent", PasswordFile: pw}
		})
		// The Secret is updated in place before the first connection.
		if err := os.WriteFile(pw, []byte("rotated-s3cret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		time.Sleep(secret.Recheck + 50*time.Millisecond)
		if err := s.Consume(context.Background(), batchOf([]string{sampleRecord("default", 1, 1, "rotated")}, 1)); err != nil {
			t.Fatalf("the rotated password was not used: %v", err)
		}
	})
	if _, err := New("x", config.KafkaSink{Brokers: []string{"a:1"}, Topic: "t",
		SASL: config.KafkaSASL{Mechanism: "PLAIN", Username: "u", PasswordFile: "/nonexistent/pw"}}, nil); err == nil {
		t.Fatal("a missing password file was accepted")
	}
}

// selfSigned returns a server certificate for 127.0.0.1 and its PEM.
func selfSigned(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestTLS(t *testing.T) {
	cert, caPEM := selfSigned(t)
	c, err := kfake.NewCluster(kfake.Ports(0), kfake.SeedTopics(1, "logs"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	on := true
	s := newSink(t, c, func(k *config.KafkaSink) {
		k.Topic, k.TopicFallback = "logs", ""
		k.TLS = config.KafkaTLS{Enabled: &on, CAFile: writeFile(t, "ca.pem", string(caPEM))}
	})
	if err := s.Consume(context.Background(), batchOf([]string{sampleRecord("default", 1, 1, "tls")}, 1)); err != nil {
		t.Fatal(err)
	}
	// Without the CA the broker's certificate is refused.
	bad := newSink(t, c, func(k *config.KafkaSink) {
		k.Topic, k.TopicFallback = "logs", ""
		k.DeliveryTimeout = time.Second
		k.TLS = config.KafkaTLS{Enabled: &on}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := bad.Consume(ctx, batchOf([]string{sampleRecord("default", 1, 2, "tls")}, 1)); err == nil {
		t.Fatal("an unknown CA was accepted")
	}
}
