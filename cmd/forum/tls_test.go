package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"forum/streams/ssetest"
)

// writeCert writes a self-signed certificate for 127.0.0.1 into dir.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "forum test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

func TestTLSServesHTTP2AndSecureCookies(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	cfg, err := parseConfig(nil, env("FORUM_ADDR", "127.0.0.1:0", "FORUM_DATA", filepath.Join(dir, "forum.db"), "FORUM_TLS_CERT", cert, "FORUM_TLS_KEY", key), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMain(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}}
	resp, err := c.Post(m.URL()+"/api/register", "application/json", strings.NewReader(`{"name":"alice","password":"password123"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || resp.ProtoMajor != 2 {
		t.Fatalf("register over TLS: status %d, protocol %s; want 201 over HTTP/2", resp.StatusCode, resp.Proto)
	}
	if hsts := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(hsts, "max-age=") {
		t.Errorf("over TLS: Strict-Transport-Security %q, want a max-age", hsts)
	}
	if cookie := resp.Header.Get("Set-Cookie"); !strings.Contains(cookie, "Secure") {
		t.Fatalf("cookie over TLS without Secure: %q", cookie)
	}

	// Streams over HTTP/2 stay on net/http's path: no connection to take over.
	resp, err = c.Get(m.URL() + "/stream/posts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first, err := ssetest.NewReader(resp.Body).Next()
	if err != nil || resp.ProtoMajor != 2 || resp.Header.Get("Content-Type") != "text/event-stream" || !first.HasID {
		t.Fatalf("stream over HTTP/2: %s %q, first frame %+v, %v", resp.Proto, resp.Header.Get("Content-Type"), first, err)
	}
}

func TestTLSNeedsBothFiles(t *testing.T) {
	_, err := parseConfig(nil, env("FORUM_TLS_CERT", "cert.pem"), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "FORUM_TLS_KEY") {
		t.Fatalf("got %v", err)
	}
}
