//go:build linux

package nft

import (
	"fmt"
	"os"
	"runtime"

	"github.com/vishvananda/netns"
)

// setSysctls writes the NAT sysctls (see Options.Sysctls) in the datapath's
// namespace.
func (d *Datapath) setSysctls() error {
	set := [][2]string{
		{"net/ipv4/ip_forward", "1"},
		{"net/netfilter/nf_conntrack_tcp_loose", "1"},
	}
	if d.opt.BeLiberal {
		set = append(set, [2]string{"net/netfilter/nf_conntrack_tcp_be_liberal", "1"})
	}
	write := func() error {
		for _, kv := range set {
			if err := os.WriteFile("/proc/sys/"+kv[0], []byte(kv[1]), 0o644); err != nil {
				return fmt.Errorf("nft: sysctl %s=%s: %w", kv[0], kv[1], err)
			}
		}
		return nil
	}
	if d.opt.NetNS == 0 {
		return write()
	}
	errc := make(chan error, 1)
	go func() {
		// The thread enters the namespace and is never unlocked, so it is
		// discarded when the goroutine ends instead of returning to the pool.
		runtime.LockOSThread()
		if err := netns.Set(netns.NsHandle(d.opt.NetNS)); err != nil {
			errc <- fmt.Errorf("nft: enter netns: %w", err)
			return
		}
		errc <- write()
	}()
	return <-errc
}
