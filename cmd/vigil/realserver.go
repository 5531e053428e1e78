package main

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"vigil/lvs/realserver"
)

const realserverUsage = `Usage: vigil realserver up|down --vip ADDR [--vip ADDR...]

Prepare this host as a direct-routing (lb_kind DR) real server behind the
VIPs, or undo it. up puts each VIP on the loopback interface as /32 (IPv6:
/128, label lo:vigil) so the host accepts the packets a director forwards
unchanged, and sets net.ipv4.conf.{all,lo}.arp_ignore=1 and arp_announce=2
so the host never answers ARP for a VIP (only the director holding it may).
down removes the VIPs vigil put on loopback and, when none is left, resets
those sysctls to 0. Both are idempotent: run them from boot scripts freely.

Needs root (CAP_NET_ADMIN).

Exit status: 0 done; 1 failed (the message names the address or sysctl);
2 bad usage.
`

// vipList collects repeated --vip flags (a comma-separated list works too).
type vipList []netip.Addr

func (v *vipList) String() string { return fmt.Sprint(*v) }
func (v *vipList) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		a, err := netip.ParseAddr(strings.TrimSpace(part))
		if err != nil {
			return fmt.Errorf("--vip %q: not an IP address", part)
		}
		*v = append(*v, a)
	}
	return nil
}

func init() {
	c := &command{name: "realserver", summary: "prepare (up) or undo (down) a direct-routing real server", usage: realserverUsage}
	c.run = func(args []string, stdout, stderr io.Writer) error {
		fs := newFlagSet(c, stdout, stderr)
		var vips vipList
		fs.Var(&vips, "vip", "a VIP `ADDR`ess the directors forward to this host (repeat for several)")
		pos, err := parseFlags(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 1 || (pos[0] != "up" && pos[0] != "down") {
			fmt.Fprintln(stderr, "vigil realserver: say up or down (see vigil realserver --help)")
			return exitError{2}
		}
		if len(vips) == 0 {
			fmt.Fprintln(stderr, "vigil realserver: name at least one --vip ADDR")
			return exitError{2}
		}
		if os.Geteuid() != 0 {
			return fmt.Errorf("needs root: it changes addresses and sysctls (sudo vigil realserver %s ...)", pos[0])
		}
		f := realserver.Up
		if pos[0] == "down" {
			f = realserver.Down
		}
		res, err := f(vips)
		for _, a := range res.Added {
			fmt.Fprintf(stdout, "added %s to lo\n", a)
		}
		for _, a := range res.Removed {
			fmt.Fprintf(stdout, "removed %s from lo\n", a)
		}
		for _, k := range realserver.Sysctls {
			if v, ok := res.Sysctls[k]; ok {
				fmt.Fprintf(stdout, "%s = %s\n", k, v)
			}
		}
		return err
	}
	register(c)
}
