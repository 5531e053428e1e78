package health

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"strings"

	"github.com/miekg/dns"
)

var dnsTypes = map[string]uint16{
	"A": dns.TypeA, "NS": dns.TypeNS, "CNAME": dns.TypeCNAME, "SOA": dns.TypeSOA,
	"MX": dns.TypeMX, "TXT": dns.TypeTXT, "AAAA": dns.TypeAAAA,
}

type dnsChecker struct {
	dialer *net.Dialer
	addr   string
	qtype  uint16
	name   string
}

func newDNSChecker(spec CheckSpec) (*dnsChecker, error) {
	t := strings.ToUpper(spec.DNSType)
	if t == "" {
		t = DefaultDNSType
	}
	qt, ok := dnsTypes[t]
	if !ok {
		return nil, specErr(KindDNS, "type", "%q is not one of A NS CNAME SOA MX TXT AAAA", spec.DNSType)
	}
	name := spec.DNSName
	if name == "" {
		name = DefaultDNSName
	}
	name = dns.Fqdn(name)
	if _, ok := dns.IsDomainName(name); !ok {
		return nil, specErr(KindDNS, "name", "%q is not a domain name", spec.DNSName)
	}
	return &dnsChecker{dialer: newDialer(&spec, "udp"), addr: spec.addr().String(), qtype: qt, name: name}, nil
}

// Check sends one query over UDP and accepts the reply as keepalived does:
// same ID, QR set, RCODE NOERROR, the same question count, and at least one
// answer.
func (c *dnsChecker) Check(ctx context.Context) Result {
	var idb [2]byte
	_, _ = rand.Read(idb[:])
	q := new(dns.Msg)
	q.SetQuestion(c.name, c.qtype)
	q.Id = binary.BigEndian.Uint16(idb[:])
	q.RecursionDesired = true // as keepalived: a recursive server answers too
	wire, err := q.Pack()
	if err != nil {
		return down("pack query: %v", err)
	}
	conn, err := c.dialer.DialContext(ctx, "udp", c.addr)
	if err != nil {
		return ioErr(ctx, "connect "+c.addr, err)
	}
	defer conn.Close()
	stop := bindCtx(ctx, conn)
	defer stop()
	if _, err := conn.Write(wire); err != nil {
		return ioErr(ctx, "send query", err)
	}
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return ioErr(ctx, "read reply", err)
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:n]); err != nil {
			if n >= 2 && binary.BigEndian.Uint16(buf) != q.Id {
				continue // not ours: keep waiting
			}
			return down("malformed reply: %v", err)
		}
		if r.Id != q.Id {
			continue
		}
		switch {
		case !r.Response:
			return down("reply is a query (QR clear)")
		case r.Rcode != dns.RcodeSuccess:
			return down("rcode %s", dns.RcodeToString[r.Rcode])
		case len(r.Question) != len(q.Question):
			return down("question count %d, want %d", len(r.Question), len(q.Question))
		case len(r.Answer) == 0:
			return down("no answer for %s %s", c.name, dns.TypeToString[c.qtype])
		}
		return up(fmt.Sprintf("%d answer(s)", len(r.Answer)))
	}
}
