package health

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds what an HTTP probe reads: a larger body fails the check
// rather than eating the director's memory.
const maxBody = 16 << 20

type httpURL struct {
	URLSpec
	re *regexp.Regexp
}

type httpChecker struct {
	kind   Kind
	dialer *net.Dialer
	addr   string // host:port to connect to
	proto  string // "1.0", "1.0C" or "1.1"
	tls    *tls.Config
	urls   []httpURL
	vhost  string
	perURL time.Duration // connect_timeout: the deadline of each url's request
}

func newHTTPChecker(spec CheckSpec) (*httpChecker, error) {
	c := &httpChecker{
		kind:   spec.Kind,
		dialer: newDialer(&spec, "tcp"),
		addr:   spec.addr().String(),
		proto:  spec.HTTPProtocol,
		vhost:  spec.VirtualHost,
		perURL: spec.ConnectTimeout,
	}
	if c.perURL <= 0 {
		c.perURL = DefaultConnectTimeout
	}
	switch c.proto {
	case "":
		c.proto = "1.0"
	case "1.0", "1.0C", "1.1":
	case "1.0c":
		c.proto = "1.0C"
	default:
		return nil, specErr(spec.Kind, "http_protocol", "%q is not one of 1.0, 1.0C, 1.1", spec.HTTPProtocol)
	}
	urls := spec.URLs
	if len(urls) == 0 {
		return nil, specErr(spec.Kind, "url", "no url block")
	}
	for i, u := range urls {
		hu := httpURL{URLSpec: u}
		if hu.Path == "" {
			hu.Path = "/"
		}
		if !strings.HasPrefix(hu.Path, "/") {
			return nil, specErr(spec.Kind, "path", "url %d: path %q does not start with /", i+1, u.Path)
		}
		if hu.Digest != "" {
			b, err := hex.DecodeString(hu.Digest)
			if err != nil || len(b) != md5.Size {
				return nil, specErr(spec.Kind, "digest", "url %d: %q is not an MD5 digest (32 hex digits; see vigil genhash)", i+1, u.Digest)
			}
			hu.Digest = strings.ToLower(hu.Digest)
		}
		for _, s := range hu.StatusCodes {
			if s.Lo < 100 || s.Hi > 999 || s.Lo > s.Hi {
				return nil, specErr(spec.Kind, "status_code", "url %d: bad range %d-%d", i+1, s.Lo, s.Hi)
			}
		}
		if hu.Regex != "" {
			re, err := regexp.Compile(hu.Regex)
			if err != nil {
				return nil, specErr(spec.Kind, "regex", "url %d: %v", i+1, err)
			}
			hu.re = re
		} else if hu.RegexNoMatch {
			return nil, specErr(spec.Kind, "regex_no_match", "url %d: regex_no_match without a regex", i+1)
		}
		c.urls = append(c.urls, hu)
	}
	if spec.Kind == KindSSL {
		cfg, err := tlsConfig(spec)
		if err != nil {
			return nil, err
		}
		c.tls = cfg
	}
	return c, nil
}

func tlsConfig(spec CheckSpec) (*tls.Config, error) {
	cfg := &tls.Config{InsecureSkipVerify: true} // keepalived's SSL_GET verifies nothing unless a CA is given
	if spec.EnableSNI || spec.SNI != "" {
		cfg.ServerName = spec.SNI
		if cfg.ServerName == "" {
			cfg.ServerName = spec.VirtualHost
		}
	}
	if spec.CAFile != "" {
		pem, err := os.ReadFile(spec.CAFile)
		if err != nil {
			return nil, &SpecError{Kind: spec.Kind, Field: "ca", Err: fmt.Errorf("%w: %w", ErrBadSpec, err)}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, specErr(spec.Kind, "ca", "%s holds no PEM certificate", spec.CAFile)
		}
		cfg.InsecureSkipVerify = false
		cfg.RootCAs = pool
		if cfg.ServerName == "" {
			cfg.ServerName = spec.VirtualHost
		}
		if cfg.ServerName == "" {
			cfg.ServerName = spec.addr().Addr().String()
		}
	}
	if spec.CertFile != "" || spec.KeyFile != "" {
		if spec.CertFile == "" || spec.KeyFile == "" {
			return nil, specErr(spec.Kind, "certificate", "certificate and key go together")
		}
		kp, err := tls.LoadX509KeyPair(spec.CertFile, spec.KeyFile)
		if err != nil {
			return nil, &SpecError{Kind: spec.Kind, Field: "certificate", Err: fmt.Errorf("%w: %w", ErrBadSpec, err)}
		}
		cfg.Certificates = []tls.Certificate{kp}
	}
	return cfg, nil
}

// Check fetches every url in turn; the first failing one fails the probe.
func (c *httpChecker) Check(ctx context.Context) Result {
	for i := range c.urls {
		uctx, cancel := context.WithTimeout(ctx, c.perURL)
		r := c.checkURL(uctx, &c.urls[i])
		cancel()
		if !r.Up {
			return r
		}
	}
	return up(fmt.Sprintf("%d url(s) ok", len(c.urls)))
}

func (c *httpChecker) checkURL(ctx context.Context, u *httpURL) Result {
	status, digest, body, err := c.fetch(ctx, u)
	if err != nil {
		return ioErr(ctx, "GET "+u.Path, err)
	}
	if !statusOK(u.StatusCodes, status) {
		return down("GET %s: status %d", u.Path, status)
	}
	if u.Digest != "" && digest != u.Digest {
		return down("GET %s: digest %s, want %s", u.Path, digest, u.Digest)
	}
	if u.re != nil {
		if m := u.re.Match(body); m == u.RegexNoMatch {
			if m {
				return down("GET %s: body matches %q (regex_no_match)", u.Path, u.Regex)
			}
			return down("GET %s: body does not match %q", u.Path, u.Regex)
		}
	}
	return up("")
}

func statusOK(spans []CodeSpan, code int) bool {
	if len(spans) == 0 {
		return code >= 200 && code <= 299
	}
	for _, s := range spans {
		if code >= s.Lo && code <= s.Hi {
			return true
		}
	}
	return false
}

// fetch sends keepalived's request line and headers and reads the whole
// response. It returns the status, the hex MD5 of the body and the body
// itself.
func (c *httpChecker) fetch(ctx context.Context, u *httpURL) (int, string, []byte, error) {
	conn, err := c.dialer.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return 0, "", nil, err
	}
	defer conn.Close()
	stop := bindCtx(ctx, conn)
	defer stop()
	if c.tls != nil {
		tc := tls.Client(conn, c.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return 0, "", nil, fmt.Errorf("tls handshake: %w", err)
		}
		conn = tc
	}
	host := u.VirtualHost
	if host == "" {
		host = c.vhost
	}
	if host == "" {
		host = c.addr // keepalived: address:port, the port always given
	}
	// keepalived's request, header for header and in its order.
	var b strings.Builder
	ver := "1.0"
	if c.proto == "1.1" {
		ver = "1.1"
	}
	fmt.Fprintf(&b, "GET %s HTTP/%s\r\nUser-Agent: KeepAliveClient\r\n", u.Path, ver)
	if c.proto != "1.0" {
		b.WriteString("Connection: close\r\n")
	}
	fmt.Fprintf(&b, "Host: %s\r\n\r\n", host)
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return 0, "", nil, fmt.Errorf("send request: %w", err)
	}
	br := bufio.NewReader(conn)
	status, hdr, err := readHead(br)
	if err != nil {
		return 0, "", nil, err
	}
	// The body is taken as it comes on the wire, as keepalived (2.2) does:
	// a chunked body keeps its chunk framing, so digests made with
	// keepalived's genhash still match. It ends at Content-Length when
	// there is one (and no Transfer-Encoding), else at the close.
	var r io.Reader = br
	if cl := hdr.Get("Content-Length"); cl != "" && hdr.Get("Transfer-Encoding") == "" {
		n, err := strconv.ParseInt(strings.TrimSpace(cl), 10, 64)
		if err != nil || n < 0 {
			return status, "", nil, fmt.Errorf("bad Content-Length %q", cl)
		}
		if n > maxBody {
			return status, "", nil, fmt.Errorf("body larger than %d bytes", maxBody)
		}
		r = io.LimitReader(br, n)
	}
	body, err := io.ReadAll(io.LimitReader(r, maxBody+1))
	if err != nil {
		return status, "", nil, fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxBody {
		return status, "", nil, fmt.Errorf("body larger than %d bytes", maxBody)
	}
	sum := md5.Sum(body)
	return status, hex.EncodeToString(sum[:]), body, nil
}

// readHead reads the status line and the headers of an HTTP response.
func readHead(br *bufio.Reader) (int, textproto.MIMEHeader, error) {
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		return 0, nil, fmt.Errorf("read status line: %w", err)
	}
	proto, rest, _ := strings.Cut(line, " ")
	code, _, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if !strings.HasPrefix(proto, "HTTP/") || err != nil || status < 100 || status > 999 {
		return 0, nil, fmt.Errorf("malformed status line %q", line)
	}
	hdr, err := tp.ReadMIMEHeader()
	if err != nil {
		return status, nil, fmt.Errorf("read headers: %w", err)
	}
	return status, hdr, nil
}

// GenhashOptions are the options of `vigil genhash`.
type GenhashOptions struct {
	SSL          bool   // fetch over TLS (SSL_GET)
	SNI          string // server name to send in the TLS handshake
	VirtualHost  string // Host header; default from the URL
	HTTPProtocol string // 1.0 (default), 1.0C or 1.1
}

// GenhashResult is what `vigil genhash` prints.
type GenhashResult struct {
	Status int
	Digest string // hex MD5 of the body, as HTTP_GET/SSL_GET `digest` expects
	Length int
}

// Genhash fetches the URL the way HTTP_GET/SSL_GET does (same request,
// same body handling) and returns the digest to put in a `url { digest }`
// block, like keepalived's genhash. rawURL is http://HOST[:PORT]/PATH;
// https:// implies SSL. HOST must be an IP address or a name the system
// resolver knows.
func Genhash(ctx context.Context, rawURL string, o GenhashOptions) (GenhashResult, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return GenhashResult{}, fmt.Errorf("genhash: %q: want http://HOST[:PORT]/PATH", rawURL)
	}
	switch strings.ToLower(scheme) {
	case "http":
	case "https":
		o.SSL = true
	default:
		return GenhashResult{}, fmt.Errorf("genhash: %q: scheme %q is not http or https", rawURL, scheme)
	}
	hostport, path, _ := strings.Cut(rest, "/")
	path = "/" + path
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = strings.Trim(hostport, "[]"), "80"
		if o.SSL {
			port = "443"
		}
	}
	if host == "" {
		return GenhashResult{}, fmt.Errorf("genhash: %q: no host", rawURL)
	}
	kind := KindHTTP
	if o.SSL {
		kind = KindSSL
	}
	vhost := o.VirtualHost
	if vhost == "" && net.ParseIP(host) == nil {
		vhost = hostport
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return GenhashResult{}, fmt.Errorf("genhash: resolve %s: %w", host, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return GenhashResult{}, fmt.Errorf("genhash: port %q: %w", port, err)
	}
	spec := CheckSpec{Kind: kind, ConnectIP: addrs[0].Unmap(), ConnectPort: uint16(p), HTTPProtocol: o.HTTPProtocol,
		VirtualHost: vhost, SNI: o.SNI, URLs: []URLSpec{{Path: path}}}
	c, err := newHTTPChecker(spec)
	if err != nil {
		return GenhashResult{}, fmt.Errorf("genhash: %w", err)
	}
	status, digest, body, err := c.fetch(ctx, &c.urls[0])
	if err != nil {
		return GenhashResult{}, fmt.Errorf("genhash: GET %s: %w", rawURL, err)
	}
	return GenhashResult{Status: status, Digest: digest, Length: len(body)}, nil
}
