package agent

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"time"
)

// TLSFiles are the PEM files of mutual TLS between directors (the cluster
// block's tls { ca cert key }). Every director's certificate must be signed
// by the CA and name the director (a DNS subject alternative name equal to
// its node name): a peer is authenticated as the node it claims to be.
type TLSFiles struct{ CA, Cert, Key string }

// clientServerTLS loads the files into the two sides' configurations.
func clientServerTLS(f TLSFiles) (server, client *tls.Config, err error) {
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("agent: tls cert %s / key %s: %w", f.Cert, f.Key, err)
	}
	pem, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, nil, fmt.Errorf("agent: tls ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, nil, fmt.Errorf("agent: tls ca %s: no PEM certificate in it", f.CA)
	}
	server = &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
	}
	client = &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		MinVersion:   tls.VersionTLS13,
	}
	return server, client, nil
}

// tlsDial wraps a connection to node in TLS, verifying the peer's
// certificate names node, and finishes the handshake within the deadline.
func tlsDial(c net.Conn, node string, cfg *tls.Config, deadline time.Time) (net.Conn, error) {
	cc := cfg.Clone()
	cc.ServerName = node
	tc := tls.Client(c, cc)
	_ = tc.SetDeadline(deadline)
	if err := tc.Handshake(); err != nil {
		c.Close()
		return nil, fmt.Errorf("agent: TLS with %s: %w", node, err)
	}
	_ = tc.SetDeadline(time.Time{})
	return tc, nil
}
