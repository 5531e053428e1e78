package main

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestGenhash fetches from a real local web server and checks the digest
// is the MD5 of the body, as keepalived's genhash prints it.
func TestGenhash(t *testing.T) {
	body := "<html>vigil genhash</html>\n"
	var hosts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts = append(hosts, r.Host)
		if r.URL.Path != "/index.html" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, body)
	}))
	defer srv.Close()
	tls := httptest.NewTLSServer(srv.Config.Handler)
	defer tls.Close()
	sum := md5.Sum([]byte(body))
	want := "MD5SUM = " + hex.EncodeToString(sum[:]) + "\n"

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
