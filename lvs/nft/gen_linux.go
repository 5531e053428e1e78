//go:build linux

package nft

import (
	"encoding/binary"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// generation returns the nftables ruleset generation of the namespace: the
// kernel bumps it on every commit, by anyone. Apply trusts its cached view
// of its tables only while the generation is the one its own last commit
// produced, so an incremental change does not re-read 800,000 elements, and
// any foreign change (an admin's nft command) makes it read everything.
func (d *Datapath) generation() (uint32, error) {
	if d.genConn == nil {
		c, err := d.dial(false)
		if err != nil {
			return 0, err
		}
		d.genConn = c
	}
	msgs, err := d.genConn.Execute(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETGEN), Flags: netlink.Request},
		Data:   []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0},
	})
	if err != nil {
		return 0, fmt.Errorf("nft: get ruleset generation: %w", err)
	}
	for _, m := range msgs {
		if len(m.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[4:])
		if err != nil {
			return 0, err
		}
		for ad.Next() {
			if ad.Type() == unix.NFTA_GEN_ID && len(ad.Bytes()) == 4 {
				return binary.BigEndian.Uint32(ad.Bytes()), nil
			}
		}
	}
	return 0, fmt.Errorf("nft: no generation id in GETGEN reply")
}

// dial opens a netfilter netlink connection in the datapath's namespace;
// big gives it buffers as large as nft's (a batch of 10,000 services is
// tens of megabytes).
func (d *Datapath) dial(big bool) (*netlink.Conn, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: d.opt.NetNS})
	if err != nil {
		return nil, fmt.Errorf("nft: netlink: %w", err)
	}
	if big {
		if err := bigBuffers(c); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}
