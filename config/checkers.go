package config

import (
	"strconv"
	"strings"
)

// checker parses a checker block of real server r, resolving the values
// it inherits. Type-dependent defaults (keepalived.conf(5)): retry is 3 for
// DNS_CHECK, 0 for MISC_CHECK, 1 otherwise; delay_before_retry is
// delay_loop for DNS_CHECK, 3 s for HTTP_GET and SSL_GET, 1 s otherwise.
func (b *builder) checker(n *Node, r *RealServer) *Checker {
	tab := checkerTables[n.Keyword]
	if !b.block(n) || !b.nargs(n, 0, 0) {
		return nil
	}
	c := &Checker{Type: n.Keyword, Node: n}
	switch c.Type {
	case "HTTP_GET", "SSL_GET":
		c.HTTP = &HTTPCheck{URLs: []URL{}, HTTPProtocol: "1.0", TLS: c.Type == "SSL_GET", Virtualhost: r.Virtualhost}
	case "SMTP_CHECK":
		c.SMTP = &SMTPCheck{}
	case "DNS_CHECK":
		c.DNS = &DNSCheck{Type: "SOA", Name: "."}
	case "MISC_CHECK":
		c.Misc = &MiscCheck{}
	case "UDP_CHECK":
		c.UDP = &UDPCheck{MaxReplyLength: 255}
	case "FILE_CHECK":
		c.File = &FileCheck{Weight: 1}
	}
	apply(b, tab, n.Children, c, n.Keyword)
	b.resolveChecker(c, r.inh.overlay(c.inh), r)
	switch c.Type {
	case "HTTP_GET", "SSL_GET":
		if len(c.HTTP.URLs) == 0 {
			b.errorf(n, "needs at least one url { path ... } block")
		}
	case "MISC_CHECK":
		if c.Misc.Path == "" {
			b.errorf(n, "needs misc_path")
		}
		if c.Misc.Timeout == 0 {
			c.Misc.Timeout = c.DelayLoop // keepalived: the script may run until the next check
		}
	case "FILE_CHECK":
		if c.File.TrackFile == "" {
			b.errorf(n, "needs track_file")
		}
	}
	if c.SMTP != nil {
		for _, h := range c.SMTP.Hosts {
			b.resolveChecker(h, r.inh.overlay(c.inh).overlay(h.inh), r)
		}
	}
	return c
}

func (b *builder) resolveChecker(c *Checker, in inherited, r *RealServer) {
	c.DelayLoop = in.delayLoop.or(seconds(DefaultDelayLoop))
	c.ConnectTimeout = in.connectTimeout.or(seconds(DefaultConnectTimeout))
	retry, dbr := DefaultRetry, seconds(DefaultDelayBeforeRetry)
	switch c.Type {
	case "DNS_CHECK":
		retry, dbr = 3, c.DelayLoop
	case "MISC_CHECK":
		retry = 0
	case "HTTP_GET", "SSL_GET":
		dbr = seconds(3)
	}
	c.Retry = in.retry.or(retry)
	c.DelayBeforeRetry = in.delayBeforeRetry.or(dbr)
	c.Warmup = in.warmup.or(c.DelayLoop)
	c.Alpha = in.alpha.or(false)
	switch c.Type {
	case "MISC_CHECK", "FILE_CHECK", "BFD_CHECK":
		c.ConnectTimeout = 0
		return
	}
	if !c.ConnectIP.IsValid() {
		c.ConnectIP = r.Address
	}
	if c.ConnectPort == 0 {
		c.ConnectPort = r.Port
	}
}

type ctab = table[Checker]

// connectEntries are the connection keywords of every checker but
// MISC_CHECK, FILE_CHECK and BFD_CHECK.
func connectEntries(t ctab) ctab {
	t["connect_ip"] = entry[Checker]{fn: func(b *builder, n *Node, c *Checker) { c.ConnectIP, _ = b.addr1(n) }}
	t["connect_port"] = entry[Checker]{fn: func(b *builder, n *Node, c *Checker) { c.ConnectPort, _ = b.int1(n, 1, 65535) }}
	t["bindto"] = entry[Checker]{fn: func(b *builder, n *Node, c *Checker) { c.BindTo, _ = b.addr1(n) }}
	t["bind_port"] = entry[Checker]{fn: func(b *builder, n *Node, c *Checker) { c.BindPort, _ = b.int1(n, 1, 65535) }}
	t["bind_if"] = entry[Checker]{fn: func(b *builder, n *Node, c *Checker) { c.BindIf, _ = b.str(n) }}
	t["fwmark"] = entry[Checker]{fn: func(b *builder, n *Node, c *Checker) {
		if v, ok := b.int1(n, 0, 1<<31-1); ok {
			c.Fwmark = uint32(v)
		}
	}}
	t["log_all_failures"] = entry[Checker]{fn: func(b *builder, n *Node, c *Checker) { c.LogAllFailures, _ = b.flag(n) }}
	return inheritEntries(t, func(c *Checker) *inherited { return &c.inh }, true)
}

func checkerTable(t ctab, withConnect bool) ctab {
	if withConnect {
		return connectEntries(t)
	}
	t["log_all_failures"] = entry[Checker]{fn: func(b *builder, n *Node, c *Checker) { c.LogAllFailures, _ = b.flag(n) }}
	return inheritEntries(t, func(c *Checker) *inherited { return &c.inh }, false)
}

func httpTable() ctab {
	t := ctab{
		"url": {fn: func(b *builder, n *Node, c *Checker) {
			if !b.block(n) || !b.nargs(n, 0, 0) {
				return
			}
			u := URL{}
			apply(b, urlTable, n.Children, &u, "url")
			if u.Path == "" {
				b.errorf(n, "url needs a path")
			}
			if len(u.StatusCodes) == 0 {
				u.StatusCodes = []CodeRange{{200, 299}}
			}
			c.HTTP.URLs = append(c.HTTP.URLs, u)
		}},
		"http_protocol": {fn: func(b *builder, n *Node, c *Checker) {
			if s, ok := b.oneOf(n, "1.0", "1.0C", "1.0c", "1.1"); ok {
				c.HTTP.HTTPProtocol = strings.ToUpper(s)
			}
		}},
		"virtualhost":   {fn: func(b *builder, n *Node, c *Checker) { c.HTTP.Virtualhost, _ = b.str(n) }},
		"fast_recovery": {fn: func(b *builder, n *Node, c *Checker) { c.HTTP.FastRecovery, _ = b.flag(n) }},
		"nb_get_retry": {alias: "retry", fn: func(b *builder, n *Node, c *Checker) {
			c.inh.retry.put(b.int1(n, 0, 1<<20))
		}},
	}
	// keepalived installs enable_sni for HTTP_GET too (it has effect only
	// with TLS).
	t["enable_sni"] = entry[Checker]{fn: func(b *builder, n *Node, c *Checker) { c.HTTP.EnableSNI, _ = b.flag(n) }}
	return checkerTable(t, true)
}

var urlTable = table[URL]{
	"path":        {fn: func(b *builder, n *Node, u *URL) { u.Path, _ = b.str(n) }},
	"digest":      {fn: func(b *builder, n *Node, u *URL) { u.Digest, _ = b.str(n) }},
	"virtualhost": {fn: func(b *builder, n *Node, u *URL) { u.Virtualhost, _ = b.str(n) }},
	"regex":       {fn: func(b *builder, n *Node, u *URL) { u.Regex, _ = b.str(n) }},
	"regex_no_match": {fn: func(b *builder, n *Node, u *URL) {
		u.RegexNoMatch = b.bare(n)
	}},
	"regex_options": {fn: func(b *builder, n *Node, u *URL) {
		if b.noBlock(n) && b.nargs(n, 1, -1) {
			u.RegexOptions = append(u.RegexOptions, n.Args...)
		}
	}},
	"regex_stack":      {fn: func(b *builder, n *Node, u *URL) { b.nargs(n, 2, 2) }},
	"regex_min_offset": {fn: func(b *builder, n *Node, u *URL) { b.int1(n, 0, 1<<31-1) }},
	"regex_max_offset": {fn: func(b *builder, n *Node, u *URL) { b.int1(n, 0, 1<<31-1) }},
	"status_code": {fn: func(b *builder, n *Node, u *URL) {
		if !b.noBlock(n) || !b.nargs(n, 1, -1) {
			return
		}
		for _, a := range n.Args {
			lo, hi, isRange := strings.Cut(a, "-")
			from, err1 := strconv.Atoi(lo)
			to, err2 := from, error(nil)
			if isRange {
				to, err2 = strconv.Atoi(hi)
			}
			if err1 != nil || err2 != nil || from < 100 || to > 599 || to < from {
				b.errorf(n, "%q is not an HTTP status code or range (100-599)", a)
				continue
			}
			u.StatusCodes = append(u.StatusCodes, CodeRange{from, to})
		}
	}},
}

var smtpHostTable = connectEntries(ctab{})

// checkerTables maps each checker keyword to the keywords of its block.
var checkerTables = map[string]ctab{
	"TCP_CHECK":  checkerTable(ctab{}, true),
	"PING_CHECK": checkerTable(ctab{}, true),
	"HTTP_GET":   httpTable(),
	"SSL_GET":    httpTable(),
	"SMTP_CHECK": checkerTable(ctab{
		"helo_name": {fn: func(b *builder, n *Node, c *Checker) { c.SMTP.HeloName, _ = b.str(n) }},
		"host": {fn: func(b *builder, n *Node, c *Checker) {
			if !b.block(n) || !b.nargs(n, 0, 0) {
				return
			}
			h := &Checker{Type: "SMTP_CHECK", Node: n}
			apply(b, smtpHostTable, n.Children, h, "SMTP_CHECK host")
			c.SMTP.Hosts = append(c.SMTP.Hosts, h)
		}},
	}, true),
	"DNS_CHECK": checkerTable(ctab{
		"type": {fn: func(b *builder, n *Node, c *Checker) {
			if s, ok := b.str(n); ok {
				u := strings.ToUpper(s)
				switch u {
				case "A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA":
					c.DNS.Type = u
				default:
					b.errorf(n, "%q is not a DNS query type (A, NS, CNAME, SOA, MX, TXT, AAAA)", s)
				}
			}
		}},
		"name": {fn: func(b *builder, n *Node, c *Checker) { c.DNS.Name, _ = b.str(n) }},
	}, true),
	"MISC_CHECK": checkerTable(ctab{
		"misc_path":    {fn: func(b *builder, n *Node, c *Checker) { c.Misc.Path, _ = b.joined(n) }},
		"misc_timeout": {fn: func(b *builder, n *Node, c *Checker) { c.Misc.Timeout, _ = b.dur1(n, 86400) }},
		"misc_dynamic": {fn: func(b *builder, n *Node, c *Checker) { c.Misc.Dynamic, _ = b.flag(n) }},
		"user": {fn: func(b *builder, n *Node, c *Checker) {
			if b.noBlock(n) && b.nargs(n, 1, 2) {
				c.Misc.User = n.Args[0]
				if len(n.Args) == 2 {
					c.Misc.Group = n.Args[1]
				}
			}
		}},
	}, false),
	"UDP_CHECK": checkerTable(ctab{
		"payload": {fn: func(b *builder, n *Node, c *Checker) {
			if b.noBlock(n) && b.nargs(n, 1, -1) {
				c.UDP.Payload = strings.Join(n.Args, " ")
			}
		}},
		"require_reply": {fn: func(b *builder, n *Node, c *Checker) {
			if b.noBlock(n) {
				c.UDP.RequireReply = true
				c.UDP.ReplyData = strings.Join(n.Args, " ")
			}
		}},
		"min_reply_length": {fn: func(b *builder, n *Node, c *Checker) { c.UDP.MinReplyLength, _ = b.int1(n, 0, 65535) }},
		"max_reply_length": {fn: func(b *builder, n *Node, c *Checker) { c.UDP.MaxReplyLength, _ = b.int1(n, 0, 65535) }},
	}, true),
	"FILE_CHECK": {
		"track_file": {fn: func(b *builder, n *Node, c *Checker) { c.File.TrackFile, _ = b.str(n) }},
		"dynamic":    {fn: func(b *builder, n *Node, c *Checker) { c.File.Dynamic = b.bare(n) }},
		"weight": {fn: func(b *builder, n *Node, c *Checker) {
			c.File.Weight, c.File.Reverse, _ = b.weight(n, 0, 2147483647)
		}},
	},
	"BFD_CHECK": {
		"name": {fn: func(b *builder, n *Node, c *Checker) { c.BFDName, _ = b.str(n) }},
	},
}
