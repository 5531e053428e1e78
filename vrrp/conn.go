package vrrp

import (
	"net/netip"
	"time"
)

// PacketInfo is what the socket layer knows about a received VRRP message.
type PacketInfo struct {
	Src, Dst netip.Addr // IP source and destination (group or unicast)
	HopLimit int        // IPv4 TTL or IPv6 hop limit; -1 if unknown
	IfIndex  int        // receiving interface; 0 if unknown
}

// PacketConn carries VRRP messages (the IP payload, protocol 112) on one
// interface and one address family. The Sender and the Listener own no
// socket; they take a PacketConn, so tests can give them an in-memory LAN
// (package vrrptest) and Dial is only a convenience.
//
// Concurrency: ReadFrom is called from one goroutine, WriteTo from any
// number, concurrently with ReadFrom and with each other.
type PacketConn interface {
	// ReadFrom blocks until a message arrives, copies its VRRP payload
	// into b and returns its length and metadata. A message longer than b
	// is truncated to len(b). After Close it returns net.ErrClosed; after
	// the read deadline, an error for which os.IsTimeout is true (or
	// errors.Is(err, os.ErrDeadlineExceeded)).
	ReadFrom(b []byte) (int, PacketInfo, error)
	// WriteTo sends one VRRP message to dst (the group or a unicast peer)
	// with hop limit 255, from the connection's source address. It does
	// not block for long (a full socket buffer at most) and does not retain b.
	WriteTo(b []byte, dst netip.Addr) error
	// SetReadDeadline sets the deadline for pending and future ReadFrom
	// calls; the zero time means none. The Listener uses it to stop.
	SetReadDeadline(t time.Time) error
	// Close releases the connection; pending ReadFrom calls return.
	Close() error
}

// DialConfig says which interface and addresses a raw connection uses.
type DialConfig struct {
	// Interface is the name of the interface to send and receive on.
	Interface string
	// IPv6 selects IPv6 (ff02::12) instead of IPv4 (224.0.0.18).
	IPv6 bool
	// Src is the source address of sent adverts (keepalived's
	// mcast_src_ip / unicast_src_ip). Zero: the interface's first IPv4
	// address, or for IPv6 its link-local address (RFC 5798 §5.1.2.1).
	Src netip.Addr
	// NoMulticast skips joining the VRRP group: unicast peers only.
	NoMulticast bool
	// Loopback delivers the connection's own multicast adverts back to
	// sockets on this host (IP_MULTICAST_LOOP). Off by default.
	Loopback bool
}
