package agent

import (
	"errors"
	"fmt"
	"net"
)

// A director's gossip metadata (memberlist's NodeMeta, at most
// memberlist.MetaMaxSize bytes) tells the others the MACs it answers ARP
// with for the VIPs: its instance interfaces' and, with use_vmac, the
// VRRP virtual MACs. The arp_conflict detector counts them as the
// holder's. Gossip is a hint here as everywhere: a wrong or missing MAC
// costs an alert, never an assignment.
//
//	byte 0      version (1)
//	bytes 1...  MACs, 6 bytes each
const metaVersion = 1

// maxMetaMACs is how many MACs fit memberlist's 512-byte NodeMeta.
const maxMetaMACs = (512 - 1) / 6

var errBadMeta = errors.New("agent: bad gossip metadata")

// encodeMeta encodes macs (Ethernet only; duplicates dropped). More than
// maxMetaMACs is an error: the metadata would not fit.
func encodeMeta(macs []net.HardwareAddr) ([]byte, error) {
	out := []byte{metaVersion}
	seen := map[string]bool{}
	for _, m := range macs {
		if len(m) != 6 {
			return nil, fmt.Errorf("%w: %s is not an Ethernet MAC", errBadMeta, m)
		}
		if !seen[string(m)] {
			seen[string(m)] = true
			out = append(out, m...)
		}
	}
	if n := len(seen); n > maxMetaMACs {
		return nil, fmt.Errorf("%w: %d MACs, at most %d fit", errBadMeta, n, maxMetaMACs)
	}
	return out, nil
}

// decodeMeta decodes what encodeMeta encoded. Empty metadata (a director
// that announces nothing) is no MACs.
func decodeMeta(b []byte) ([]net.HardwareAddr, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if b[0] != metaVersion || (len(b)-1)%6 != 0 {
		return nil, fmt.Errorf("%w: version %d, %d bytes", errBadMeta, b[0], len(b))
	}
	var macs []net.HardwareAddr
	for i := 1; i < len(b); i += 6 {
		macs = append(macs, net.HardwareAddr(append([]byte(nil), b[i:i+6]...)))
	}
	return macs, nil
}
