// Package realserver prepares a host to be a direct-routing (DR) real
// server behind vigil, as `vigil realserver up|down` does: the VIPs on the
// loopback interface as /32 (or /128), so the host accepts packets a
// director forwards to it unchanged, and the ARP sysctls that keep it from
// answering ARP for those VIPs on the wire (arp_ignore=1, arp_announce=2),
// which only the director holding the VIP may do.
//
// Both directions are idempotent: bringing up an address that is there,
// or taking down one that is not, changes nothing. Addresses vigil put on
// loopback carry the label "lo:vigil"; down removes only those, and
// resets the sysctls once none is left.
package realserver

import (
	"errors"
	"net/netip"
)

// Label marks the loopback addresses vigil manages.
const Label = "lo:vigil"

// Sysctls are the ARP settings of a DR real server, per
// keepalived/LVS documentation.
var Sysctls = []string{
	"net.ipv4.conf.all.arp_ignore",
	"net.ipv4.conf.all.arp_announce",
	"net.ipv4.conf.lo.arp_ignore",
	"net.ipv4.conf.lo.arp_announce",
}

// sysctlValue is the value Up sets for each of Sysctls (Down sets 0).
func sysctlValue(key string) string {
	if len(key) > 8 && key[len(key)-8:] == "announce" {
		return "2"
	}
	return "1"
}

// ErrUnimplemented: not on this platform.
var ErrUnimplemented = errors.New("realserver: not implemented on this platform")

// Result says what Up or Down changed.
type Result struct {
	Added, Removed []netip.Addr
	Sysctls        map[string]string // sysctls written, with their new values
}
