package vip_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"vigil/test/netns"
	"vigil/vrrp/vip"
)

// director is one vigil node's kernel side: a Manager and an Announcer
// in its own namespace, as the agent wires them.
type director struct {
	h    *netns.Host
	ifc  *netns.Iface
	mac  string
	m    *vip.Manager
	a    *vip.Announcer
	held []vip.Hold
}

func newDirector(t *testing.T, lab *netns.Lab, lan *netns.Bridge, name string, tm vip.Timing, ours []vip.Owned, addrs ...string) *director {
	t.Helper()
	h := lab.Host(name)
	ifc := h.Link(lan, "eth0", addrs...)
	mac, err := ifc.MAC()
	if err != nil {
		t.Fatal(err)
	}
	conn := netlinkIn(t, h)
	var snd *vip.LinkSender
	if err := h.Do(func() (err error) { snd, err = vip.NewLinkSender(vip.SenderOptions{}); return err }); err != nil {
		t.Fatal(err)
	}
	log := testLogger(t).With("node", name)
	a, err := vip.NewAnnouncer(snd, tm, vip.AnnouncerOptions{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }() // not inside h.Do: the sender keeps its namespace
	t.Cleanup(func() {
		cancel()
		<-done
		snd.Close()
	})
	return &director{h: h, ifc: ifc, mac: mac, a: a, m: vip.NewManager(conn, ours, vip.ManagerOptions{Logger: log})}
}

// take holds p with a long lease and announces it, in the agent's order:
// the address first, then the announcements.
func (d *director) take(t *testing.T, p netip.Prefix) {
	t.Helper()
	d.held = append(d.held, vip.Hold{Addr: p, Iface: "eth0", Until: time.Now().Add(time.Minute)})
	if err := d.m.Set(d.held); err != nil {
		t.Fatal(err)
	}
	d.a.Announce("eth0", p.Addr())
}

// release stops announcing p, then removes it.
func (d *director) release(t *testing.T, p netip.Prefix) {
	t.Helper()
	d.a.Stop("eth0", p.Addr())
	sent, failed := d.a.Stats()
	t.Logf("%s: %d announcements sent, %d failed", d.h.Name(), sent, failed)
	var keep []vip.Hold
	for _, h := range d.held {
		if h.Addr != p {
			keep = append(keep, h)
		}
	}
	d.held = keep
	if err := d.m.Set(d.held); err != nil {
		t.Fatal(err)
	}
}

// capture is a tshark writing a pcap in an observer namespace.
type capture struct {
	p    *netns.Proc
	file string
}

func startCapture(t *testing.T, h *netns.Host, filter string) *capture {
	t.Helper()
	file := filepath.Join(t.TempDir(), "cap.pcapng")
	p := h.Start("tshark", "-n", "-i", "eth0", "-f", filter, "-w", file)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.Output(), "Capture started") {
		if time.Now().After(deadline) {
			t.Fatalf("tshark did not start:\n%s", p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &capture{p: p, file: file}
}

// stop ends the capture and returns the file.
func (c *capture) stop(t *testing.T) string {
	t.Helper()
	// dumpcap reads the kernel's ring in blocks it retires every 250 ms
	// (its read timeout); frames in a block not yet retired when it stops
	// are lost. Wait for the last block to be handed over.
	time.Sleep(750 * time.Millisecond)
	// SIGINT to tshark alone: it stops its dumpcap child cleanly, which
	// flushes the file (a signal to the whole group can lose the tail).
	if err := c.p.Cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = c.p.Cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("tshark did not stop:\n%s", c.p.Output())
	}
	return c.file
}

// dissect runs tshark over file and returns its output.
func dissect(t *testing.T, file string, args ...string) string {
	t.Helper()
	out, err := exec.Command("tshark", append([]string{"-n", "-r", file}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("tshark %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(strings.ReplaceAll(string(out), "Running as user \"root\" and group \"root\". This could be dangerous.\n", ""))
}

// checkNoExperts fails on any expert warning or error in the capture.
func checkNoExperts(t *testing.T, file string) {
	t.Helper()
	v := dissect(t, file, "-V")
	for _, bad := range []string{"Expert Info (Warning", "Expert Info (Error", "Malformed", "[Checksum Status: Bad]"} {
		if strings.Contains(v, bad) {
			t.Errorf("tshark reports %q:\n%s", bad, v)
		}
	}
}

// neighMAC returns the client's neighbour entry for ip ("" if none).
func neighMAC(t *testing.T, h *netns.Host, ip netip.Addr) (mac, state string) {
	t.Helper()
	fam := "-4"
	if ip.Is6() {
		fam = "-6"
	}
	out := h.MustRun("ip", fam, "-j", "neigh", "show", ip.String(), "dev", "eth0")
	var ns []struct {
		LLAddr string   `json:"lladdr"`
		State  []string `json:"state"`
	}
	if err := json.Unmarshal([]byte(out), &ns); err != nil {
		t.Fatalf("ip neigh: %v: %s", err, out)
	}
	if len(ns) == 0 {
		return "", ""
	}
	return ns[0].LLAddr, strings.Join(ns[0].State, ",")
}

// waitNeigh polls the client's neighbour table until ip maps to mac, for
// at most within; it returns how long it took.
func waitNeigh(t *testing.T, h *netns.Host, ip netip.Addr, mac string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got, state := neighMAC(t, h, ip)
		if got == mac {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("client's neighbour entry for %s is %s (%s) after %s, want %s", ip, got, state, within, mac)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ping(t *testing.T, h *netns.Host, ip netip.Addr) {
	t.Helper()
	if out, err := h.Run("ping", "-c", "1", "-W", "2", ip.String()); err != nil {
		t.Fatalf("client cannot ping %s: %v\n%s", ip, err, out)
	}
}

// announceLab is two directors, a client and an observer on one LAN.
type announceLab struct {
	d1, d2, client, obs *netns.Host
	dir1, dir2          *director
	tm                  vip.Timing
}

func newAnnounceLab(t *testing.T, ours []vip.Owned) *announceLab {
	lab := netns.New(t)
	lan := lab.Bridge("lan")
	// Short periods so the test runs in seconds; the shape is keepalived's.
	tm := vip.Timing{Repeat: 3, Delay: 500 * time.Millisecond, Refresh: 2 * time.Second, RefreshRepeat: 1}
	l := &announceLab{tm: tm}
	l.dir1 = newDirector(t, lab, lan, "d1", tm, ours, "10.0.0.11/24", "fd00::11/64")
	l.dir2 = newDirector(t, lab, lan, "d2", tm, ours, "10.0.0.12/24", "fd00::12/64")
	l.d1, l.d2 = l.dir1.h, l.dir2.h
	l.client = lab.Host("client")
	l.client.Link(lan, "eth0", "10.0.0.50/24", "fd00::50/64")
	l.obs = lab.Host("obs")
	l.obs.Link(lan, "eth0")
	return l
}

func TestAnnounceMoveIPv4(t *testing.T) {
	checkGoroutines(t) // the announcers' loops end with the test
	v := netip.MustParsePrefix("10.0.0.200/24")
	l := newAnnounceLab(t, []vip.Owned{{"eth0", v.Addr()}})

	// The VIP on d1, with its burst.
	c1 := startCapture(t, l.obs, "arp")
	l.dir1.take(t, v)
	ping(t, l.client, v.Addr())
	if mac, _ := neighMAC(t, l.client, v.Addr()); mac != l.dir1.mac {
		t.Fatalf("client resolves the VIP to %s, want d1's %s", mac, l.dir1.mac)
	}
	time.Sleep(l.tm.Delay + 200*time.Millisecond) // the second burst
	f1 := c1.stop(t)

	// Move it to d2: d1 stops announcing and drops it, d2 adds and bursts.
	c2 := startCapture(t, l.obs, "arp")
	l.dir1.release(t, v)
	l.dir2.take(t, v)
	took := waitNeigh(t, l.client, v.Addr(), l.dir2.mac, l.tm.Refresh)
	t.Logf("client's entry moved to d2 in %s", took.Round(time.Millisecond))
	ping(t, l.client, v.Addr())
	if out := l.d1.MustRun("ip", "-o", "addr", "show", "dev", "eth0"); strings.Contains(out, "10.0.0.200") {
		t.Errorf("d1 still has the VIP:\n%s", out)
	}
	time.Sleep(l.tm.Delay + l.tm.Refresh + 200*time.Millisecond) // second burst and a refresh
	f2 := c2.stop(t)

	for i, tc := range []struct {
		file, mac string
	}{{f1, l.dir1.mac}, {f2, l.dir2.mac}} {
		// Every gratuitous ARP for the VIP is from the holder of the phase;
		// the old holder sent none after its Stop (tshark would also flag
		// a duplicate IP address).
		rows := dissect(t, tc.file, "-Y", "arp.isgratuitous == 1", "-T", "fields", "-E", "separator=|",
			"-e", "eth.src", "-e", "eth.dst", "-e", "arp.opcode", "-e", "arp.src.hw_mac", "-e", "arp.src.proto_ipv4",
			"-e", "arp.dst.proto_ipv4", "-e", "arp.isannouncement", "-e", "_ws.col.Info")
		lines := strings.Split(rows, "\n")
		t.Logf("phase %d gratuitous ARPs:\n%s", i+1, rows)
		min := 2 * l.tm.Repeat // both bursts
		if i == 1 {
			min += l.tm.RefreshRepeat // and a refresh
		}
		if len(lines) < min || rows == "" {
			t.Errorf("phase %d: %d gratuitous ARPs, want at least %d", i+1, len(lines), min)
		}
		for _, ln := range lines {
			f := strings.Split(ln, "|")
			if len(f) != 8 || f[0] != tc.mac || f[1] != "ff:ff:ff:ff:ff:ff" || f[2] != "1" || f[3] != tc.mac ||
				f[4] != "10.0.0.200" || f[5] != "10.0.0.200" || f[6] != "1" || !strings.Contains(f[7], "ARP Announcement for 10.0.0.200") {
				t.Errorf("phase %d: unexpected GARP %q, want an ARP Announcement from %s", i+1, ln, tc.mac)
			}
		}
		checkNoExperts(t, tc.file)
	}
}

func TestAnnounceMoveIPv6(t *testing.T) {
	checkGoroutines(t) // the announcers' loops end with the test
	v := netip.MustParsePrefix("fd00::200/64")
	l := newAnnounceLab(t, []vip.Owned{{"eth0", v.Addr()}})
	naOnly := "icmp6 and ip6[40] == 136"

	c1 := startCapture(t, l.obs, naOnly)
	l.dir1.take(t, v)
	ping(t, l.client, v.Addr())
	if mac, _ := neighMAC(t, l.client, v.Addr()); mac != l.dir1.mac {
		t.Fatalf("client resolves the VIP to %s, want d1's %s", mac, l.dir1.mac)
	}
	f1 := c1.stop(t)

	c2 := startCapture(t, l.obs, naOnly)
	l.dir1.release(t, v)
	l.dir2.take(t, v)
	took := waitNeigh(t, l.client, v.Addr(), l.dir2.mac, l.tm.Refresh)
	t.Logf("client's IPv6 neighbour entry moved to d2 in %s", took.Round(time.Millisecond))
	ping(t, l.client, v.Addr())
	time.Sleep(l.tm.Delay + 200*time.Millisecond)
	f2 := c2.stop(t)

	for i, tc := range []struct {
		file, mac string
	}{{f1, l.dir1.mac}, {f2, l.dir2.mac}} {
		rows := dissect(t, tc.file, "-Y", "icmpv6.type == 136 && icmpv6.nd.na.flag.s == 0", "-T", "fields", "-E", "separator=|",
			"-e", "eth.src", "-e", "eth.dst", "-e", "ipv6.dst", "-e", "ipv6.hlim", "-e", "icmpv6.nd.na.target_address",
			"-e", "icmpv6.nd.na.flag.o", "-e", "icmpv6.nd.na.flag.r", "-e", "icmpv6.opt.linkaddr", "-e", "icmpv6.checksum.status")
		t.Logf("phase %d unsolicited NAs:\n%s", i+1, rows)
		lines := strings.Split(rows, "\n")
		if rows == "" || len(lines) < l.tm.Repeat {
			t.Errorf("phase %d: %d unsolicited NAs, want at least %d", i+1, len(lines), l.tm.Repeat)
		}
		for _, ln := range lines {
			want := strings.Join([]string{tc.mac, "33:33:00:00:00:01", "ff02::1", "255", "fd00::200", "1", "0", tc.mac, "1"}, "|")
			if ln != want {
				t.Errorf("phase %d: NA %q, want %q (checksum status 1 is Good)", i+1, ln, want)
			}
		}
		checkNoExperts(t, tc.file)
	}
}

// TestRefreshHealsAMissedBurst: a client that missed the takeover bursts
// (ARP was dropped on its way in) still points at the departed holder; the steady
// refresh corrects it within one period, which keepalived's default (no
// refresh) would leave to the client's neighbour timers.
func TestRefreshHealsAMissedBurst(t *testing.T) {
	checkGoroutines(t) // the announcers' loops end with the test
	v := netip.MustParsePrefix("10.0.0.200/24")
	l := newAnnounceLab(t, []vip.Owned{{"eth0", v.Addr()}})
	client := l.client
	l.dir1.take(t, v)
	ping(t, client, v.Addr())
	// Cut the client off from ARP only: a link down would flush its
	// neighbour table, and the point is a stale entry.
	client.MustRun("nft", "add table arp vgcut")
	client.MustRun("nft", "add chain arp vgcut in { type filter hook input priority 0 ; policy drop ; }")
	l.dir1.release(t, v)
	l.dir2.take(t, v)
	time.Sleep(l.tm.Delay + 300*time.Millisecond) // both bursts go out while the client is deaf
	if mac, _ := neighMAC(t, client, v.Addr()); mac != l.dir1.mac {
		t.Fatalf("client entry %s, want it still at d1's %s before the refresh", mac, l.dir1.mac)
	}
	client.MustRun("nft", "delete table arp vgcut")
	took := waitNeigh(t, client, v.Addr(), l.dir2.mac, l.tm.Refresh+time.Second)
	t.Logf("a refresh corrected the client %s after ARP came through again (refresh period %s)", took.Round(time.Millisecond), l.tm.Refresh)
	ping(t, client, v.Addr())
}
