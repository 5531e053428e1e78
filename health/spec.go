package health

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Kind is the type of a checker, named after its keepalived.conf block.
type Kind int

// The checker kinds of keepalived.conf.
const (
	KindTCP  Kind = iota + 1 // TCP_CHECK
	KindHTTP                 // HTTP_GET
	KindSSL                  // SSL_GET
	KindSMTP                 // SMTP_CHECK
	KindDNS                  // DNS_CHECK
	KindMisc                 // MISC_CHECK
	KindUDP                  // UDP_CHECK
	KindPing                 // PING_CHECK
)

var kindNames = map[Kind]string{
	KindTCP: "TCP_CHECK", KindHTTP: "HTTP_GET", KindSSL: "SSL_GET", KindSMTP: "SMTP_CHECK",
	KindDNS: "DNS_CHECK", KindMisc: "MISC_CHECK", KindUDP: "UDP_CHECK", KindPing: "PING_CHECK",
}

func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// ParseKind maps a keepalived.conf block name (TCP_CHECK, HTTP_GET, ...) to
// its Kind.
func ParseKind(s string) (Kind, error) {
	for k, n := range kindNames {
		if strings.EqualFold(s, n) {
			return k, nil
		}
	}
	return 0, fmt.Errorf("health: unknown checker %q (want one of TCP_CHECK HTTP_GET SSL_GET SMTP_CHECK DNS_CHECK MISC_CHECK UDP_CHECK PING_CHECK)", s)
}

// keepalived's defaults (keepalived.conf(5), 2.2).
const (
	DefaultDelayLoop      = 60 * time.Second // delay_loop
	DefaultConnectTimeout = 5 * time.Second  // connect_timeout
	DefaultRetry          = 1                // retry, except DNS_CHECK (3) and MISC_CHECK (0)
	DefaultHTTPRetryDelay = 3 * time.Second  // delay_before_retry of HTTP_GET and SSL_GET
	DefaultRetryDelay     = 1 * time.Second  // delay_before_retry of the others (DNS_CHECK: delay_loop)
	DefaultHeloName       = "smtpchecker.keepalived.org"
	DefaultDNSType        = "SOA"
	DefaultDNSName        = "."
)

// CheckSpec is one checker of one real server, with the keepalived keywords
// already inherited (virtual server → real server → checker) by the caller.
//
// Zero values mean "keepalived's default" for every field where zero is not
// meaningful; the two counters where zero is meaningful (retry, warmup) are
// pointers, nil meaning the default. Resolved returns the effective timing.
type CheckSpec struct {
	Kind Kind
	// Target is the real server's address and port (real_server IP PORT).
	Target netip.AddrPort

	ConnectIP   netip.Addr // connect_ip; default Target's address
	ConnectPort uint16     // connect_port; default Target's port
	BindTo      netip.Addr // bindto; default: the kernel chooses
	BindPort    uint16     // bind_port; default: the kernel chooses
	FWMark      uint32     // fwmark: SO_MARK on the probe's packets (not PING_CHECK); 0: none

	ConnectTimeout   time.Duration  // connect_timeout; default 5s. The whole probe's deadline (except MISC_CHECK)
	Retry            *int           // retry (nb_get_retry); default 1, DNS_CHECK 3, MISC_CHECK 0
	DelayBeforeRetry time.Duration  // delay_before_retry; default 3s HTTP/SSL, delay_loop DNS, 1s others
	DelayLoop        time.Duration  // delay_loop; default 60s
	Warmup           *time.Duration // warmup; default delay_loop; 0 disables the random initial delay
	Alpha            bool           // alpha: the checker starts failed

	// HTTP_GET / SSL_GET.
	URLs         []URLSpec
	HTTPProtocol string // http_protocol: "1.0" (default), "1.0C" (1.0 + Connection: close) or "1.1"
	VirtualHost  string // virtualhost inherited from the real/virtual server; a URL's own wins
	SNI          string // SSL_GET enable_sni: the server name sent (default: the virtualhost when enable_sni)
	EnableSNI    bool   // enable_sni
	CAFile       string // SSL { ca }: verify the server's chain against it; empty: no verification (keepalived's default)
	CertFile     string // SSL { certificate }: client certificate
	KeyFile      string // SSL { key }

	// SMTP_CHECK.
	HeloName string // helo_name; default "smtpchecker.keepalived.org"

	// DNS_CHECK.
	DNSType string // type: A NS CNAME SOA MX TXT AAAA; default SOA
	DNSName string // name; default "."

	// MISC_CHECK.
	MiscPath    string        // misc_path: a command line, split on blanks (quotes group words)
	MiscTimeout time.Duration // misc_timeout; default delay_loop
	MiscDynamic bool          // misc_dynamic: exit 2..255 sets the weight to code-2
	User        string        // user USERNAME [GROUPNAME]: run misc_path as USERNAME; default: as ourselves (the config layer applies script_user)
	Group       string        // ... and GROUPNAME; default the user's primary group
	// ScriptSecurity is enable_script_security: refuse a misc_path run as
	// root that a non-root user could modify.
	ScriptSecurity bool

	// UDP_CHECK.
	UDPPayload   []byte // payload; default: 8 random bytes
	RequireReply bool   // require_reply
	ReplyPattern string // require_reply HEX_STR (x/X nibbles match anything); empty: any reply
	MinReplyLen  int    // min_reply_length; default 0
	MaxReplyLen  int    // max_reply_length; default 255
}

// URLSpec is one `url { }` block of HTTP_GET / SSL_GET.
type URLSpec struct {
	Path         string     // path; default "/"
	Digest       string     // digest: hex MD5 of the body (genhash); empty: not checked
	StatusCodes  []CodeSpan // status_code; default 200-299
	Regex        string     // regex (RE2 syntax, not PCRE2); empty: not checked
	RegexNoMatch bool       // regex_no_match: a match fails the check
	VirtualHost  string     // virtualhost: the Host header; default the spec's, else connect address
}

// CodeSpan is an inclusive range of HTTP status codes (200-299, or 404-404).
type CodeSpan struct{ Lo, Hi int }

// Timing is the effective scheduling of one check, after defaults.
type Timing struct {
	DelayLoop        time.Duration
	Retry            int
	DelayBeforeRetry time.Duration
	Warmup           time.Duration
	Timeout          time.Duration // the deadline of one probe (HTTP_GET/SSL_GET: connect_timeout × urls)
	Alpha            bool
}

// Resolved returns the effective timing of the check with keepalived's
// defaults filled in.
func (s *CheckSpec) Resolved() Timing {
	t := Timing{DelayLoop: s.DelayLoop, Alpha: s.Alpha}
	if t.DelayLoop <= 0 {
		t.DelayLoop = DefaultDelayLoop
	}
	switch {
	case s.Retry != nil:
		t.Retry = *s.Retry
	case s.Kind == KindDNS:
		t.Retry = 3
	case s.Kind == KindMisc:
		t.Retry = 0
	default:
		t.Retry = DefaultRetry
	}
	t.DelayBeforeRetry = s.DelayBeforeRetry
	if t.DelayBeforeRetry <= 0 {
		switch s.Kind {
		case KindHTTP, KindSSL:
			t.DelayBeforeRetry = DefaultHTTPRetryDelay
		case KindDNS:
			t.DelayBeforeRetry = t.DelayLoop
		default:
			t.DelayBeforeRetry = DefaultRetryDelay
		}
	}
	if s.Warmup != nil {
		t.Warmup = *s.Warmup
	} else {
		t.Warmup = t.DelayLoop
	}
	if s.Kind == KindMisc {
		t.Timeout = s.MiscTimeout
		if t.Timeout <= 0 {
			t.Timeout = t.DelayLoop
		}
	} else {
		t.Timeout = s.ConnectTimeout
		if t.Timeout <= 0 {
			t.Timeout = DefaultConnectTimeout
		}
		if n := len(s.URLs); n > 1 && (s.Kind == KindHTTP || s.Kind == KindSSL) {
			t.Timeout *= time.Duration(n) // connect_timeout per url, as keepalived
		}
	}
	return t
}

// addr is the address a probe connects to: connect_ip/connect_port
// overriding the real server's.
func (s *CheckSpec) addr() netip.AddrPort {
	ip, port := s.Target.Addr(), s.Target.Port()
	if s.ConnectIP.IsValid() {
		ip = s.ConnectIP
	}
	if s.ConnectPort != 0 {
		port = s.ConnectPort
	}
	return netip.AddrPortFrom(ip, port)
}
