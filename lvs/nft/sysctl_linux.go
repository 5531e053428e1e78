//go:build linux

package nft

import (
	"fmt"
	"os"
	"runtime"

	"github.com/vishvananda/netns"
)

// setSysctls writes the NAT sysctls (see Options.Sysctls) of one address
// family in the datapath's namespace.
func (d *Datapath) setSysctls(v6 bool) error {
	set := [][2]string{
		{"net/ipv4/ip_forward", "1"},
		{"net/netfilter/nf_conntrack_tcp_loose", "1"},
	}
	if v6 {
		set[0] = [2]string{"net/ipv6/conf/all/forwarding", "1"}
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
		// The thread goes back to its namespace before it is unlocked; if
		// it cannot, it stays locked and the runtime discards it. (A thread
		// left in another namespace may be the process's main thread, which
		// the runtime never discards: tools that find processes by
		// namespace would then count this whole process in.)
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("nft: current netns: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(netns.NsHandle(d.opt.NetNS)); err != nil {
			errc <- fmt.Errorf("nft: enter netns: %w", err)
			return
		}
		werr := write()
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("nft: leave netns: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- werr
	}()
	return <-errc
}
