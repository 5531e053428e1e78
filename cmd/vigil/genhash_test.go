package main

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
)

// webHandler serves a plain body, a chunked one (HTTP/1.1 only) and
// records the Host headers it saw.
func webHandler(hosts *[]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*hosts = append(*hosts, r.Host)
		switch r.URL.Path {
		case "/index.html":
			fmt.Fprint(w, "<html>vigil genhash</html>\n")
		case "/chunked":
			fmt.Fprint(w, "<html>part one, ")
			w.(http.Flusher).Flush() // HTTP/1.1: chunked from here
			fmt.Fprint(w, "part two</html>\n")
		default:
			http.NotFound(w, r)
		}
	})
}

// TestGenhash fetches from a real local web server and checks the digest
// is the MD5 of the body.
func TestGenhash(t *testing.T) {
	var hosts []string
	srv := httptest.NewServer(webHandler(&hosts))
	defer srv.Close()
	tls := httptest.NewTLSServer(srv.Config.Handler)
	defer tls.Close()
	sum := md5.Sum([]byte("<html>vigil genhash</html>\n"))
	want := hex.EncodeToString(sum[:]) + "\n"

	for _, args := range [][]string{
		{srv.URL + "/index.html"},
		{"--virtualhost", "www.vigil.test", srv.URL + "/index.html"},
		{tls.URL + "/index.html", "--sni", "www.vigil.test"},
		{"--ssl", "--protocol", "1.1", "http" + strings.TrimPrefix(tls.URL, "https") + "/index.html"},
	} {
		var out, errb bytes.Buffer
		if code := run(append([]string{"genhash"}, args...), &out, &errb); code != 0 || out.String() != want {
			t.Errorf("genhash %q: exit %d, %q (stderr %q), want %q", args, code, out.String(), errb.String(), want)
		}
	}
	if hosts[1] != "www.vigil.test" {
		t.Errorf("--virtualhost sent Host %q", hosts[1])
	}

	var out, errb bytes.Buffer
	if code := run([]string{"genhash", "--verbose", srv.URL + "/missing"}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "HTTP status = 404") {
		t.Errorf("verbose: exit %d %q", code, out.String())
	}
	for _, bad := range [][]string{{}, {"ftp://x/"}, {"http://127.0.0.1:1/"}} {
		out.Reset()
		errb.Reset()
		if code := run(append([]string{"genhash"}, bad...), &out, &errb); code == 0 {
			t.Errorf("genhash %q succeeded: %q", bad, out.String())
		}
	}
}

// TestGenhashMatchesKeepalived runs keepalived's own genhash (Debian's
// keepalived package) against the same server: the digests must be
// identical, chunked HTTP/1.1 bodies included, so digests users already
// have in their keepalived.conf keep matching.
func TestGenhashMatchesKeepalived(t *testing.T) {
	ka, err := exec.LookPath("genhash")
	if err != nil {
		t.Fatalf("keepalived's genhash is not installed (Debian package keepalived): %v", err)
	}
	var hosts []string
	srv := httptest.NewServer(webHandler(&hosts))
	defer srv.Close()
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	for _, tc := range []struct{ path, proto, vhost string }{
		{"/index.html", "1.0", ""},
		{"/index.html", "1.1", ""},
		{"/chunked", "1.0", ""},
		{"/chunked", "1.1", ""},
		{"/chunked", "1.0C", "www.vigil.test"},
		{"/missing", "1.1", ""},
	} {
		args := []string{"-s", host, "-p", port, "-u", tc.path, "-P", strings.ToLower(tc.proto)}
		ours := []string{"genhash", "--protocol", tc.proto, srv.URL + tc.path}
		if tc.vhost != "" {
			args = append(args, "-V", tc.vhost)
			ours = append(ours, "--virtualhost", tc.vhost)
		}
		theirs, err := exec.Command(ka, args...).Output()
		if err != nil {
			t.Fatalf("genhash %q: %v", args, err)
		}
		var out, errb bytes.Buffer
		if code := run(ours, &out, &errb); code != 0 {
			t.Fatalf("vigil %q: exit %d: %s", ours, code, errb.String())
		}
		if out.String() != string(theirs) {
			t.Errorf("%s over %s: vigil says %q, keepalived's genhash %q", tc.path, tc.proto, out.String(), theirs)
		}
	}

	// SSL_GET, with SNI.
	tlsSrv := httptest.NewTLSServer(webHandler(&hosts))
	defer tlsSrv.Close()
	host, port, _ = net.SplitHostPort(strings.TrimPrefix(tlsSrv.URL, "https://"))
	for _, path := range []string{"/index.html", "/chunked"} {
		theirs, err := exec.Command(ka, "-S", "-I", "-V", "www.vigil.test", "-s", host, "-p", port, "-u", path, "-P", "1.1").Output()
		if err != nil {
			t.Fatalf("genhash -S %s: %v", path, err)
		}
		var out, errb bytes.Buffer
		if code := run([]string{"genhash", "--protocol", "1.1", "--virtualhost", "www.vigil.test", "--sni", "www.vigil.test", tlsSrv.URL + path}, &out, &errb); code != 0 {
			t.Fatalf("vigil genhash over TLS: exit %d: %s", code, errb.String())
		}
		if out.String() != string(theirs) {
			t.Errorf("TLS %s: vigil says %q, keepalived's genhash %q", path, out.String(), theirs)
		}
	}
}

// TestGenhashRequestMatchesKeepalived records the request each tool sends:
// vigil's (the same code as HTTP_GET's) must be keepalived's, byte for byte.
func TestGenhashRequestMatchesKeepalived(t *testing.T) {
	ka, err := exec.LookPath("genhash")
	if err != nil {
		t.Fatalf("keepalived's genhash is not installed (Debian package keepalived): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	heads := make(chan string, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			var head strings.Builder
			buf := make([]byte, 1)
			for !strings.HasSuffix(head.String(), "\r\n\r\n") {
				if _, err := c.Read(buf); err != nil {
					break
				}
				head.Write(buf)
			}
			c.Write([]byte("HTTP/1.0 200 OK\r\n\r\nok"))
			c.Close()
			heads <- head.String()
		}
	}()
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	for _, tc := range []struct{ proto, vhost string }{{"1.0", ""}, {"1.0C", ""}, {"1.1", ""}, {"1.1", "www.vigil.test"}} {
		args := []string{"-s", host, "-p", port, "-u", "/check?x=1", "-P", strings.ToLower(tc.proto)}
		ours := []string{"genhash", "--protocol", tc.proto, "http://" + ln.Addr().String() + "/check?x=1"}
		if tc.vhost != "" {
			args = append(args, "-V", tc.vhost)
			ours = append(ours, "--virtualhost", tc.vhost)
		}
		if err := exec.Command(ka, args...).Run(); err != nil {
			t.Fatalf("genhash %q: %v", args, err)
		}
		theirs := <-heads
		var out, errb bytes.Buffer
		if code := run(ours, &out, &errb); code != 0 {
			t.Fatalf("vigil %q: exit %d: %s", ours, code, errb.String())
		}
		if mine := <-heads; mine != theirs {
			t.Errorf("http_protocol %s vhost %q: vigil sent\n%q\nkeepalived sent\n%q", tc.proto, tc.vhost, mine, theirs)
		}
	}
}
