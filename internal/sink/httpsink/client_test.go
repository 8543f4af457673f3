package httpsink

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/secret"
	"github.com/logferry/logferry/internal/secret/secrettest"
)

func TestAuth(t *testing.T) {
	write := secrettest.Files(t)
	pw, tok := write("pw", "p\n"), write("tok", "s3cret\n")
	for _, tc := range []struct {
		name string
		c    config.HTTPClient
		want string // the header; "-" no Authorization
		err  string
	}{
		{"none", config.HTTPClient{}, "-", ""},
		{"password", config.HTTPClient{Username: "logferry", Password: "s3cret"}, "Basic bG9nZmVycnk6czNjcmV0", ""},
		{"user alone", config.HTTPClient{Username: "u"}, "Basic dTo=", ""},
		{"password file", config.HTTPClient{Username: "u", PasswordFile: pw}, "Basic dTpw", ""},
		{"bearer", config.HTTPClient{BearerToken: "eyJhbGciOi"}, "Bearer eyJhbGciOi", ""},
		{"bearer file", config.HTTPClient{BearerTokenFile: tok}, "Bearer s3cret", ""},
		{"missing password file", config.HTTPClient{Username: "u", PasswordFile: tok + ".nope"}, "", "tok.nope"},
		{"empty bearer file", config.HTTPClient{BearerTokenFile: write("empty", "\n")}, "", "is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Auth(tc.c)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || a != nil {
					t.Fatalf("got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "-" {
				if a != nil {
					t.Fatal("an Authorization without credentials")
				}
				return
			}
			if h, err := a(); h != tc.want || err != nil {
				t.Fatalf("got %q, %v; want %q", h, err, tc.want)
			}
		})
	}
}

// TestSecret: the header function sees the file's new content.
func TestSecret(t *testing.T) {
	t.Parallel()
	write := secrettest.Files(t)
	p := write("key", "one\n")
	a, err := Secret("ignored", p, func(s string) string { return "Key " + s })
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(secret.Recheck + 10*time.Millisecond)
	write("key", "two-two\n")
	if h, err := a(); h != "Key two-two" || err != nil {
		t.Fatalf("got %q, %v", h, err)
	}
}

// certFiles writes a self-signed certificate and its key as PEM files.
func certFiles(t *testing.T, write func(name, content string) string) (cert, key string) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "logferry"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return write("cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))),
		write("key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})))
}

func TestTLSConfig(t *testing.T) {
	write := secrettest.Files(t)
	cert, key := certFiles(t, write)
	yes, no := true, false
	for _, tc := range []struct {
		name  string
		c     config.HTTPClient
		check string // "nil", "insecure", "ca", "cert"
		err   string
	}{
		{"none", config.HTTPClient{}, "nil", ""},
		{"insecure false", config.HTTPClient{InsecureSkipVerify: &no}, "nil", ""},
		{"insecure", config.HTTPClient{InsecureSkipVerify: &yes}, "insecure", ""},
		{"ca", config.HTTPClient{CAFile: cert}, "ca", ""},
		{"client certificate", config.HTTPClient{CertFile: cert, KeyFile: key}, "cert", ""},
		{"missing ca", config.HTTPClient{CAFile: cert + ".nope"}, "", "ca_file: "},
		{"bad ca", config.HTTPClient{CAFile: key}, "", "no PEM certificates"},
		{"bad key", config.HTTPClient{CertFile: cert, KeyFile: cert}, "", "client certificate: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := TLSConfig(tc.c)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ok := false
			switch tc.check {
			case "nil":
				ok = c == nil
			case "insecure":
				ok = c != nil && c.InsecureSkipVerify && c.RootCAs == nil
			case "ca":
				ok = c != nil && !c.InsecureSkipVerify && c.RootCAs != nil && len(c.Certificates) == 0
			case "cert":
				ok = c != nil && !c.InsecureSkipVerify && c.RootCAs == nil && len(c.Certificates) == 1
			}
			if !ok {
				t.Fatalf("%+v", c)
			}
		})
	}
}

// TestFromConfig: the Options carry the credentials, the timeout, the logger and
// the dead-letter file, and leave the rest to the sink; credentials and TLS files
// are read before the dead-letter file is opened, so a failure leaves nothing open.
func TestFromConfig(t *testing.T) {
	write := secrettest.Files(t)
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	dead := config.DeadLetter{DeadLetterPath: filepath.Join(dir, "dead.jsonl")}
	st, err := FromConfig("lk", config.HTTPClient{BearerTokenFile: write("tok", "t"), Timeout: 3 * time.Second}, dead, log)
	if err != nil {
		t.Fatal(err)
	}
	defer st.DeadLetter.Close(t.Context())
	if h, _ := st.Authorization(); h != "Bearer t" || st.TLS != nil || st.DeadLetter.Name() != "lk-dead-letter" ||
		st.Timeout != 3*time.Second || st.Logger != log || st.MaxRequestBytes != 0 || st.Transport != nil || st.Now != nil {
		t.Fatalf("%+v", st)
	}
	for name, tc := range map[string]struct {
		c    config.HTTPClient
		dead config.DeadLetter
		err  string
	}{
		"no dead letter": {config.HTTPClient{}, config.DeadLetter{}, "dead_letter_path is required"},
		"bad secret":     {config.HTTPClient{BearerTokenFile: filepath.Join(dir, "nope")}, config.DeadLetter{DeadLetterPath: filepath.Join(dir, "d1")}, "nope"},
		"bad tls":        {config.HTTPClient{CAFile: filepath.Join(dir, "nope")}, config.DeadLetter{DeadLetterPath: filepath.Join(dir, "d2")}, "ca_file"},
	} {
		t.Run(name, func(t *testing.T) {
			st, err := FromConfig("lk", tc.c, tc.dead, log)
			if err == nil || !strings.Contains(err.Error(), tc.err) || st.DeadLetter != nil {
				t.Fatalf("got %+v, %v", st, err)
			}
			if tc.dead.DeadLetterPath != "" {
				if _, err := os.Stat(tc.dead.DeadLetterPath); err == nil {
					t.Fatal("dead-letter file opened")
				}
			}
		})
	}
}
