package health

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Real servers for the checkers' tests: each listens on a loopback (or
// namespace) address, runs until Stop or the end of the test, and can be
// stopped and started again on the same address.

// tcpServer accepts connections and hands each to handle (nil: close at
// once).
type tcpServer struct {
	t      testing.TB
	addr   netip.AddrPort
	handle func(net.Conn)
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

func startTCP(t testing.TB, listen string, handle func(net.Conn)) *tcpServer {
	t.Helper()
	s := &tcpServer{t: t, handle: handle, conns: map[net.Conn]bool{}}
	s.start(listen)
	s.addr = netip.MustParseAddrPort(s.ln.Addr().String())
	t.Cleanup(s.Stop)
	return s
}

func (s *tcpServer) start(listen string) {
	s.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port may linger a moment after Stop
		if ln, err = net.Listen("tcp", listen); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("listen %s: %v", listen, err)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = true
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer func() {
					s.mu.Lock()
					delete(s.conns, c)
					s.mu.Unlock()
					c.Close()
				}()
				if s.handle != nil {
					_ = c.SetDeadline(time.Now().Add(10 * time.Second))
					s.handle(c)
				}
			}()
		}
	}()
}

// Start listens again on the same address after Stop.
func (s *tcpServer) Start() { s.start(s.addr.String()) }

// Stop closes the listener (connections are then refused) and every open
// connection, and waits for the handlers.
func (s *tcpServer) Stop() {
	s.mu.Lock()
	ln := s.ln
	s.ln = nil
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	s.wg.Wait()
}

// httpHandler serves a few fixed paths the way a web server would.
func httpHandler(c net.Conn) {
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		return
	}
	host := ""
	for {
		h, err := br.ReadString('\n')
		if err != nil || h == "\r\n" {
			break
		}
		if k, v, ok := strings.Cut(h, ":"); ok && strings.EqualFold(k, "host") {
			host = strings.TrimSpace(v)
		}
	}
	f := strings.Fields(line)
	if len(f) < 3 {
		return
	}
	path, proto := f[1], f[2]
	switch path {
	case "/ok":
		c.Write([]byte(proto + " 200 OK\r\nContent-Type: text/plain\r\n\r\nhello world\n"))
	case "/host":
		c.Write([]byte(proto + " 200 OK\r\n\r\nhost=" + host + "\n"))
	case "/chunked":
		if proto == "HTTP/1.1" {
			c.Write([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n6\r\nworld\n\r\n0\r\n\r\n"))
		} else {
			c.Write([]byte(proto + " 200 OK\r\n\r\nhello world\n"))
		}
	case "/error":
		c.Write([]byte(proto + " 503 Service Unavailable\r\n\r\nmaintenance\n"))
	case "/hang":
		io.Copy(io.Discard, c) // until the client gives up or Stop closes us
	default:
		c.Write([]byte(proto + " 404 Not Found\r\n\r\nnope\n"))
	}
}

// smtpHandler speaks enough SMTP for SMTP_CHECK; greeting is its 220 line.
func smtpHandler(greeting string, helos chan<- string) func(net.Conn) {
	return func(c net.Conn) {
		br := bufio.NewReader(c)
		c.Write([]byte(greeting + "\r\n"))
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			switch cmd := strings.ToUpper(strings.Fields(l + " x")[0]); cmd {
			case "HELO":
				if helos != nil {
					select {
					case helos <- strings.TrimSpace(l):
					default:
					}
				}
				c.Write([]byte("250-vigil.test greets you\r\n250 ok\r\n"))
			case "QUIT":
				c.Write([]byte("221 bye\r\n"))
				return
			default:
				c.Write([]byte("500 what\r\n"))
			}
		}
	}
}

// udpServer answers datagrams with reply(in) (nil: no answer). It can be
// stopped and started again on the same address.
type udpServer struct {
	t     testing.TB
	addr  netip.AddrPort
	reply func([]byte) []byte
	mu    sync.Mutex
	pc    net.PacketConn
	done  chan struct{}
}

func startUDP(t testing.TB, listen string, reply func([]byte) []byte) *udpServer {
	t.Helper()
	s := &udpServer{t: t, reply: reply}
	s.start(listen)
	s.addr = netip.MustParseAddrPort(s.pc.LocalAddr().String())
	t.Cleanup(s.Stop)
	return s
}

func (s *udpServer) start(listen string) {
	s.t.Helper()
	pc, err := net.ListenPacket("udp", listen)
	if err != nil {
		s.t.Fatal(err)
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.pc, s.done = pc, done
	s.mu.Unlock()
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out := s.reply(buf[:n]); out != nil {
				pc.WriteTo(out, from)
			}
		}
	}()
}

// Start listens again on the same address after Stop.
func (s *udpServer) Start() { s.start(s.addr.String()) }

// Stop closes the socket (datagrams then meet ICMP port unreachable).
func (s *udpServer) Stop() {
	s.mu.Lock()
	pc, done := s.pc, s.done
	s.pc = nil
	s.mu.Unlock()
	if pc != nil {
		pc.Close()
		<-done
	}
}

// dnsReply is a tiny authoritative server: SOA and A for "vigil.test."
// and the root, NXDOMAIN for anything else.
func dnsReply(in []byte) []byte {
	q := new(dns.Msg)
	if err := q.Unpack(in); err != nil || len(q.Question) != 1 {
		return nil
	}
	r := new(dns.Msg)
	r.SetReply(q)
	r.Authoritative = true
	qs := q.Question[0]
	switch {
	case qs.Name != "." && qs.Name != "vigil.test.":
		r.Rcode = dns.RcodeNameError
	case qs.Qtype == dns.TypeSOA:
		rr, _ := dns.NewRR(qs.Name + " 60 IN SOA ns.vigil.test. admin.vigil.test. 1 60 60 60 60")
		r.Answer = append(r.Answer, rr)
	case qs.Qtype == dns.TypeA:
		rr, _ := dns.NewRR(qs.Name + " 60 IN A 10.0.0.1")
		r.Answer = append(r.Answer, rr)
	}
	out, _ := r.Pack()
	return out
}

// selfSigned makes a CA-less self-signed certificate for the names and IPs
// and writes cert.pem and key.pem into dir.
func selfSigned(t testing.TB, dir string, names []string, ips ...net.IP) (tls.Certificate, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: names[0]},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		DNSNames:              names,
		IPAddresses:           ips,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	cp, kp := filepath.Join(dir, names[0]+".pem"), filepath.Join(dir, names[0]+".key")
	if err := os.WriteFile(cp, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kp, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cert, cp, kp
}

// tlsWrap turns a plain handler into a TLS one, recording the SNI.
func tlsWrap(cert tls.Certificate, sni chan<- string, h func(net.Conn)) func(net.Conn) {
	cfg := &tls.Config{Certificates: []tls.Certificate{cert},
		GetConfigForClient: func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
			select {
			case sni <- hi.ServerName:
			default:
			}
			return nil, nil
		}}
	return func(c net.Conn) {
		tc := tls.Server(c, cfg)
		if err := tc.Handshake(); err != nil {
			return
		}
		h(tc)
		tc.Close()
	}
}
