package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"vigil/health"
)

func init() {
	c := &command{
		name:    "genhash",
		summary: "print the MD5 digest of a URL's body for an HTTP_GET/SSL_GET digest (keepalived's genhash)",
		usage: `Usage: vigil genhash [--ssl] [--sni NAME] [--virtualhost HOST] [--protocol 1.0|1.0C|1.1] URL

Fetches URL (http://HOST[:PORT]/PATH, or https://... which implies --ssl)
exactly as an HTTP_GET or SSL_GET checker does, and prints the MD5 digest of
the body to put in the checker's url { digest ... } block, as keepalived's
genhash does (the same digest, a chunked body's framing included):

    9b3a0c85a887a256d6939da88aabd8cd

With --verbose it first prints the HTTP status and the body's length. The
status is not checked: a checker's status_code is.
`,
	}
	c.run = func(args []string, stdout, stderr io.Writer) error {
		fs := newFlagSet(c, stdout, stderr)
		var o health.GenhashOptions
		fs.BoolVar(&o.SSL, "ssl", false, "fetch over TLS (SSL_GET)")
		fs.StringVar(&o.SNI, "sni", "", "server name to send in the TLS handshake")
		fs.StringVar(&o.VirtualHost, "virtualhost", "", "Host header (default: the URL's host)")
		fs.StringVar(&o.HTTPProtocol, "protocol", "1.0", "http_protocol: 1.0, 1.0C or 1.1")
		timeout := fs.Duration("timeout", 5*time.Second, "give up after this long (connect_timeout)")
		verbose := fs.Bool("verbose", false, "also print the status and the body length")
		pos, err := parseFlags(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			fmt.Fprintln(stderr, "vigil genhash: want exactly one URL; see vigil genhash --help")
			return exitError{2}
		}
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		r, err := health.Genhash(ctx, pos[0], o)
		if err != nil {
			return err
		}
		if *verbose {
			fmt.Fprintf(stdout, "HTTP status = %d\nbody length = %d\n", r.Status, r.Length)
		}
		fmt.Fprintln(stdout, r.Digest)
		return nil
	}
	register(c)
}
