package agent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCA makes a CA and, per name, a certificate for that node (DNS SAN =
// name), written as PEM files in dir.
func testCA(t *testing.T, dir, caName string, names ...string) map[string]TLSFiles {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: caName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile := write(caName+"-ca.pem", "CERTIFICATE", der)
	out := map[string]TLSFiles{}
	for i, n := range names {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		c := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: n}, DNSNames: []string{n},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			KeyUsage:    x509.KeyUsageDigitalSignature,
		}
		cder, err := x509.CreateCertificate(rand.Reader, c, ca, &k.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(k)
		out[n] = TLSFiles{CA: caFile, Cert: write(caName+"-"+n+".pem", "CERTIFICATE", cder), Key: write(caName+"-"+n+"-key.pem", "EC PRIVATE KEY", kder)}
	}
	return out
}

// TestLinkStreamTLS: with mutual TLS a peer connects only with a
// certificate of the cluster's CA naming the node it dials.
func TestLinkStreamTLS(t *testing.T) {
	dir := t.TempDir()
	good := testCA(t, dir, "cluster", "d1", "d2")
	rogue := testCA(t, dir, "rogue", "d2")
	port := 30000 + mrand.IntN(20000)
	peers := map[string][]string{"d1": {"127.0.0.1"}, "d2": {"127.0.0.2"}}

	srv, _, err := clientServerTLS(good["d1"])
	if err != nil {
		t.Fatal(err)
	}
	ln, err := listenLinks(peers["d1"], port, newPeerTable(peers), time.Second, srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b := make([]byte, 5)
				if _, err := io.ReadFull(c, b); err == nil {
					c.Write(b)
				}
			}()
		}
	}()

	dial := func(files TLSFiles) error {
		_, cli, err := clientServerTLS(files)
		if err != nil {
			return err
		}
		s := &linkStream{port: port, peers: newPeerTable(peers), perLink: time.Second, cliTLS: cli}
		c, err := s.Dial("d1", 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("hello")); err != nil {
			return err
		}
		b := make([]byte, 5)
		if _, err := io.ReadFull(c, b); err != nil {
			return fmt.Errorf("read: %w", err)
		}
		return nil
	}
	if err := dial(good["d2"]); err != nil {
		t.Fatalf("d2 with the cluster's certificate: %v", err)
	}
	if err := dial(rogue["d2"]); err == nil {
		t.Fatal("a certificate of another CA was accepted")
	}
	// d1's listener presenting a certificate for d2: a client dialing d1
	// must refuse it.
	srv2, _, _ := clientServerTLS(good["d2"])
	ln2, err := listenLinks([]string{"127.0.0.3"}, port, newPeerTable(map[string][]string{"d1": {"127.0.0.3"}}), time.Second, srv2, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	go func() {
		c, err := ln2.Accept()
		if err == nil {
			io.Copy(io.Discard, c)
		}
	}()
	_, cli, _ := clientServerTLS(good["d2"])
	s := &linkStream{port: port, peers: newPeerTable(map[string][]string{"d1": {"127.0.0.3"}}), perLink: time.Second, cliTLS: cli}
	if _, err := s.Dial("d1", 2*time.Second); err == nil || !strings.Contains(err.Error(), "d1") {
		t.Fatalf("a server whose certificate names d2 passed as d1: %v", err)
	}
}

// TestMessagesAuthenticated: with a key, a message signed with another key
// or unsigned is refused, and a signed one passes.
func TestMessagesAuthenticated(t *testing.T) {
	a := &messenger{key: []byte("0123456789abcdef"), cluster: "c", me: "d1"}
	b := &messenger{key: []byte("fedcba9876543210"), cluster: "c", me: "d2"}
	msg := message{Kind: kindLeaseGrant, From: "d1", Cluster: "c", Instance: "VI_1", Epoch: 7}
	a.sign(&msg)
	if !a.verify(&msg) {
		t.Fatal("a signed message does not verify with its own key")
	}
	if b.verify(&msg) {
		t.Fatal("a message signed with another key verified")
	}
	forged := msg
	forged.Epoch = 8
	if a.verify(&forged) {
		t.Fatal("a changed message kept its MAC")
	}
	unsigned := message{Kind: kindLeaseGrant, From: "d1", Cluster: "c"}
	if a.verify(&unsigned) {
		t.Fatal("an unsigned message passed with a key configured")
	}
	plain := &messenger{cluster: "c", me: "d3"}
	if !plain.verify(&unsigned) {
		t.Fatal("without a key every message passes")
	}
}
