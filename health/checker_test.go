package health

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func probe(t *testing.T, spec CheckSpec, timeout time.Duration) Result {
	t.Helper()
	c, err := New(spec)
	if err != nil {
		t.Fatalf("New(%v): %v", spec.Kind, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return c.Check(ctx)
}

func wantUp(t *testing.T, what string, r Result) {
	t.Helper()
	if !r.Up {
		t.Errorf("%s: down (%s), want up", what, r.Reason)
	}
}

func wantDown(t *testing.T, what string, r Result, reason string) {
	t.Helper()
	if r.Up {
		t.Errorf("%s: up (%s), want down", what, r.Reason)
	} else if !strings.Contains(r.Reason, reason) {
		t.Errorf("%s: down because %q, want a reason containing %q", what, r.Reason, reason)
	}
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestTCPCheck(t *testing.T) {
	srv := startTCP(t, "127.0.0.1:0", nil)
	spec := CheckSpec{Kind: KindTCP, Target: srv.addr}
	wantUp(t, "listening", probe(t, spec, time.Second))
	srv.Stop()
	wantDown(t, "stopped", probe(t, spec, time.Second), "refused")
	srv.Start()
	wantUp(t, "restarted", probe(t, spec, time.Second))

	// connect_port overrides the real server's port; bindto sets the source.
	other := CheckSpec{Kind: KindTCP, Target: netip.MustParseAddrPort("127.0.0.1:1"), ConnectPort: srv.addr.Port(),
		BindTo: netip.MustParseAddr("127.0.0.2")}
	wantUp(t, "connect_port+bindto", probe(t, other, time.Second))
}

func TestHTTPGet(t *testing.T) {
	srv := startTCP(t, "127.0.0.1:0", httpHandler)
	base := CheckSpec{Kind: KindHTTP, Target: srv.addr}
	tests := []struct {
		name   string
		urls   []URLSpec
		proto  string
		vhost  string
		up     bool
		reason string
	}{
		{name: "status 200 by default", urls: []URLSpec{{Path: "/ok"}}, up: true},
		{name: "digest matches", urls: []URLSpec{{Path: "/ok", Digest: md5hex("hello world\n")}}, up: true},
		{name: "digest upper case", urls: []URLSpec{{Path: "/ok", Digest: strings.ToUpper(md5hex("hello world\n"))}}, up: true},
		{name: "digest differs", urls: []URLSpec{{Path: "/ok", Digest: md5hex("other")}}, reason: "digest"},
		{name: "503 fails by default", urls: []URLSpec{{Path: "/error"}}, reason: "status 503"},
		{name: "503 accepted by status_code", urls: []URLSpec{{Path: "/error", StatusCodes: []CodeSpan{{200, 299}, {503, 503}}}}, up: true},
		{name: "404", urls: []URLSpec{{Path: "/missing"}}, reason: "status 404"},
		{name: "regex matches", urls: []URLSpec{{Path: "/ok", Regex: "hel+o w"}}, up: true},
		{name: "regex does not match", urls: []URLSpec{{Path: "/ok", Regex: "goodbye"}}, reason: "does not match"},
		{name: "regex_no_match with a match", urls: []URLSpec{{Path: "/error", StatusCodes: []CodeSpan{{503, 503}}, Regex: "maint", RegexNoMatch: true}}, reason: "regex_no_match"},
		{name: "regex_no_match without a match", urls: []URLSpec{{Path: "/ok", Regex: "maint", RegexNoMatch: true}}, up: true},
		{name: "every url must pass", urls: []URLSpec{{Path: "/ok"}, {Path: "/error"}}, reason: "/error"},
		{name: "virtualhost of the checker is the Host header", urls: []URLSpec{{Path: "/host", Regex: `host=www\.vigil\.test\n`}}, vhost: "www.vigil.test", up: true},
		{name: "virtualhost of the url wins", urls: []URLSpec{{Path: "/host", Regex: `host=u\.test\n`, VirtualHost: "u.test"}}, vhost: "www.vigil.test", up: true},
		{name: "default Host is the address", urls: []URLSpec{{Path: "/host", Regex: `host=` + strings.ReplaceAll(srv.addr.String(), ".", `\.`)}}, up: true},
		// keepalived 2.2 hashes the body as it comes on the wire, chunk
		// framing included (TestGenhashMatchesKeepalived checks it against
		// keepalived's own genhash).
		{name: "1.1 chunked body digest is of the raw body", urls: []URLSpec{{Path: "/chunked", Digest: md5hex("6\r\nhello \r\n6\r\nworld\n\r\n0\r\n\r\n")}}, proto: "1.1", up: true},
		{name: "1.0C", urls: []URLSpec{{Path: "/ok"}}, proto: "1.0C", up: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := base
			spec.URLs, spec.HTTPProtocol, spec.VirtualHost = tt.urls, tt.proto, tt.vhost
			r := probe(t, spec, 2*time.Second)
			if tt.up {
				wantUp(t, tt.name, r)
			} else {
				wantDown(t, tt.name, r, tt.reason)
			}
		})
	}
	t.Run("a server that never answers fails at the deadline", func(t *testing.T) {
		spec := base
		spec.URLs = []URLSpec{{Path: "/hang"}}
		start := time.Now()
		r := probe(t, spec, 200*time.Millisecond)
		wantDown(t, "hang", r, "deadline")
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("hung probe took %v", el)
		}
	})
	t.Run("stopped server", func(t *testing.T) {
		srv.Stop()
		defer srv.Start()
		spec := base
		spec.URLs = []URLSpec{{Path: "/ok"}}
		wantDown(t, "stopped", probe(t, spec, time.Second), "refused")
	})
}

func TestSSLGet(t *testing.T) {
	dir := t.TempDir()
	cert, certFile, keyFile := selfSigned(t, dir, []string{"vigil.test"}, net.ParseIP("127.0.0.1"))
	_, otherCA, _ := selfSigned(t, dir, []string{"other.test"})
	sni := make(chan string, 16)
	srv := startTCP(t, "127.0.0.1:0", tlsWrap(cert, sni, httpHandler))
	base := CheckSpec{Kind: KindSSL, Target: srv.addr, URLs: []URLSpec{{Path: "/ok", Digest: md5hex("hello world\n")}}}

	wantUp(t, "no CA: no verification (keepalived's default)", probe(t, base, 2*time.Second))
	if got := <-sni; got != "" {
		t.Errorf("SNI %q sent without enable_sni", got)
	}

	s := base
	s.EnableSNI, s.VirtualHost = true, "vigil.test"
	wantUp(t, "enable_sni", probe(t, s, 2*time.Second))
	if got := <-sni; got != "vigil.test" {
		t.Errorf("SNI = %q, want vigil.test", got)
	}

	s = base
	s.CAFile = certFile
	wantUp(t, "verified against its CA (IP SAN)", probe(t, s, 2*time.Second))
	<-sni
	s.SNI = "vigil.test"
	wantUp(t, "verified against its CA (name)", probe(t, s, 2*time.Second))
	<-sni
	s.CAFile = otherCA
	wantDown(t, "wrong CA", probe(t, s, 2*time.Second), "certificate")

	s = base
	s.CertFile, s.KeyFile = certFile, keyFile
	wantUp(t, "client certificate", probe(t, s, 2*time.Second))

	p := base
	p.Kind = KindHTTP
	wantDown(t, "plain HTTP to a TLS server", probe(t, p, 2*time.Second), "")
}

func TestSMTPCheck(t *testing.T) {
	helos := make(chan string, 4)
	srv := startTCP(t, "127.0.0.1:0", smtpHandler("220 vigil.test ESMTP", helos))
	spec := CheckSpec{Kind: KindSMTP, Target: srv.addr}
	wantUp(t, "smtp", probe(t, spec, 2*time.Second))
	if got := <-helos; got != "HELO "+DefaultHeloName {
		t.Errorf("got %q, want HELO %s", got, DefaultHeloName)
	}
	spec.HeloName = "director1.vigil.test"
	wantUp(t, "helo_name", probe(t, spec, 2*time.Second))
	if got := <-helos; got != "HELO director1.vigil.test" {
		t.Errorf("got %q", got)
	}

	busy := startTCP(t, "127.0.0.1:0", smtpHandler("554 go away", nil))
	wantDown(t, "554 greeting", probe(t, CheckSpec{Kind: KindSMTP, Target: busy.addr}, 2*time.Second), "554")

	mute := startTCP(t, "127.0.0.1:0", func(c net.Conn) { io.Copy(io.Discard, c) })
	wantDown(t, "no greeting", probe(t, CheckSpec{Kind: KindSMTP, Target: mute.addr}, 200*time.Millisecond), "deadline")
	srv.Stop()
	wantDown(t, "stopped", probe(t, CheckSpec{Kind: KindSMTP, Target: srv.addr}, time.Second), "refused")
}

func TestDNSCheck(t *testing.T) {
	srv := startUDP(t, "127.0.0.1:0", dnsReply)
	spec := CheckSpec{Kind: KindDNS, Target: srv.addr}
	wantUp(t, "SOA . (defaults)", probe(t, spec, time.Second))
	spec.DNSType, spec.DNSName = "A", "vigil.test"
	wantUp(t, "A vigil.test", probe(t, spec, time.Second))
	spec.DNSType = "MX"
	wantDown(t, "no answer", probe(t, spec, time.Second), "no answer")
	spec.DNSType, spec.DNSName = "A", "elsewhere.test"
	wantDown(t, "NXDOMAIN", probe(t, spec, time.Second), "NXDOMAIN")

	mute := startUDP(t, "127.0.0.1:0", func([]byte) []byte { return nil })
	wantDown(t, "no reply", probe(t, CheckSpec{Kind: KindDNS, Target: mute.addr}, 200*time.Millisecond), "deadline")
	srv.Stop()
	wantDown(t, "stopped (ICMP port unreachable)", probe(t, CheckSpec{Kind: KindDNS, Target: srv.addr}, time.Second), "refused")
}

func TestUDPCheck(t *testing.T) {
	echo := startUDP(t, "127.0.0.1:0", func(b []byte) []byte { return append([]byte{0xab, 0xcd}, b...) })
	spec := CheckSpec{Kind: KindUDP, Target: echo.addr, UDPPayload: []byte("ping"), RequireReply: true}
	wantUp(t, "reply", probe(t, spec, time.Second))
	spec.ReplyPattern = "abcd 70"
	wantUp(t, "reply pattern", probe(t, spec, time.Second))
	spec.ReplyPattern = "aXcd"
	wantUp(t, "wildcard nibble", probe(t, spec, time.Second))
	spec.ReplyPattern = "abce"
	wantDown(t, "pattern mismatch", probe(t, spec, time.Second), "byte 1")
	spec.ReplyPattern, spec.MaxReplyLen = "", 3
	wantDown(t, "too long", probe(t, spec, time.Second), "bytes")

	mute := startUDP(t, "127.0.0.1:0", func([]byte) []byte { return nil })
	wantUp(t, "silent server without require_reply", probe(t, CheckSpec{Kind: KindUDP, Target: mute.addr}, 200*time.Millisecond))
	wantDown(t, "silent server with require_reply", probe(t, CheckSpec{Kind: KindUDP, Target: mute.addr, RequireReply: true}, 200*time.Millisecond), "no reply")
	mute.Stop()
	wantDown(t, "closed port", probe(t, CheckSpec{Kind: KindUDP, Target: mute.addr}, time.Second), "refused")
}

func TestParseHex(t *testing.T) {
	got, err := ParseHex("Ab12f 3 456 546443123")
	if err != nil {
		t.Fatal(err)
	}
	// keepalived.conf(5)'s own example.
	if want := "ab120f0345065464431203"; hex.EncodeToString(got) != want {
		t.Errorf("got %x, want %s", got, want)
	}
	for _, bad := range []string{"", "zz", "12 g"} {
		if _, err := ParseHex(bad); err == nil {
			t.Errorf("ParseHex(%q) succeeded", bad)
		}
	}
}

func TestPingCheck(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (raw ICMP socket) or a ping_group_range that allows us")
	}
	r := probe(t, CheckSpec{Kind: KindPing, Target: netip.MustParseAddrPort("127.0.0.1:0")}, time.Second)
	wantUp(t, "ping 127.0.0.1", r)
	if rng, _ := os.ReadFile("/proc/sys/net/ipv4/ping_group_range"); strings.TrimSpace(string(rng)) == "1\t0" &&
		!strings.Contains(r.Reason, "raw socket") {
		t.Errorf("ping sockets are disabled here, yet %q", r.Reason)
	}
	wantUp(t, "ping ::1", probe(t, CheckSpec{Kind: KindPing, ConnectIP: netip.MustParseAddr("::1")}, time.Second))
}

func TestNewRejectsBadSpecs(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "notexec.sh")
	os.WriteFile(notExec, []byte("#!/bin/sh\nexit 0\n"), 0o644)
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not a certificate"), 0o644)
	rs := netip.MustParseAddrPort("127.0.0.1:80")
	tests := []struct {
		name  string
		spec  CheckSpec
		field string
		msg   string
	}{
		{"bad regex", CheckSpec{Kind: KindHTTP, Target: rs, URLs: []URLSpec{{Path: "/", Regex: "a(b"}}}, "regex", "missing closing )"},
		{"bad digest", CheckSpec{Kind: KindHTTP, Target: rs, URLs: []URLSpec{{Digest: "xyz"}}}, "digest", "not an MD5"},
		{"no url", CheckSpec{Kind: KindHTTP, Target: rs}, "url", "no url"},
		{"bad protocol", CheckSpec{Kind: KindHTTP, Target: rs, URLs: []URLSpec{{}}, HTTPProtocol: "2"}, "http_protocol", "1.0C"},
		{"bad status range", CheckSpec{Kind: KindHTTP, Target: rs, URLs: []URLSpec{{StatusCodes: []CodeSpan{{300, 200}}}}}, "status_code", "bad range"},
		{"unreadable CA", CheckSpec{Kind: KindSSL, Target: rs, URLs: []URLSpec{{}}, CAFile: filepath.Join(dir, "nope.pem")}, "ca", "no such file"},
		{"CA without certificates", CheckSpec{Kind: KindSSL, Target: rs, URLs: []URLSpec{{}}, CAFile: garbage}, "ca", "no PEM certificate"},
		{"bad client key pair", CheckSpec{Kind: KindSSL, Target: rs, URLs: []URLSpec{{}}, CertFile: garbage, KeyFile: garbage}, "certificate", "PEM"},
		{"missing script", CheckSpec{Kind: KindMisc, MiscPath: filepath.Join(dir, "nope.sh") + " arg"}, "misc_path", "no such file"},
		{"script not executable", CheckSpec{Kind: KindMisc, MiscPath: notExec}, "misc_path", "not executable"},
		{"no misc_path", CheckSpec{Kind: KindMisc}, "misc_path", "missing"},
		{"unknown user", CheckSpec{Kind: KindMisc, MiscPath: "/bin/true", User: "no-such-user-vg"}, "misc_path", "no-such-user-vg"},
		{"bad dns type", CheckSpec{Kind: KindDNS, Target: rs, DNSType: "PTRX"}, "type", "PTRX"},
		{"bad helo", CheckSpec{Kind: KindSMTP, Target: rs, HeloName: "a b"}, "helo_name", "blank"},
		{"bad reply pattern", CheckSpec{Kind: KindUDP, Target: rs, ReplyPattern: "zz"}, "require_reply", "hex digit"},
		{"no port", CheckSpec{Kind: KindTCP, Target: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), 0)}, "connect_port", "no port"},
		{"no address", CheckSpec{Kind: KindPing}, "connect_ip", "no address"},
		{"fwmark on PING_CHECK", CheckSpec{Kind: KindPing, ConnectIP: netip.MustParseAddr("10.0.0.1"), FWMark: 1}, "fwmark", "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.spec)
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("New: %v, want a *SpecError", err)
			}
			if se.Field != tt.field || !strings.Contains(err.Error(), tt.msg) || !errors.Is(err, ErrBadSpec) {
				t.Errorf("New: field %q, %q; want field %q and %q (and ErrBadSpec)", se.Field, err, tt.field, tt.msg)
			}
		})
	}
}

// writeAtomic replaces a file's contents in one step (a script reading it
// never sees it half written).
func writeAtomic(t *testing.T, path, contents string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(contents), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
