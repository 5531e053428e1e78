//go:build linux

package notify

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"vigil/fencing"
	"vigil/fencing/arpwatch"
	"vigil/test/netns"
)

// wireSniffer reads every frame arriving on one interface of a lab host
// (AF_PACKET) and turns VRRP adverts and ARP replies/announcements into
// Monitor observations.
type wireSniffer struct {
	fd   int
	obs  chan fencing.Event
	stop chan struct{}
	done chan struct{}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func sniffWire(t *testing.T, h *netns.Host, ifname string) *wireSniffer {
	t.Helper()
	s := &wireSniffer{obs: make(chan fencing.Event, 1024), stop: make(chan struct{}), done: make(chan struct{})}
	err := h.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, int(htons(syscall.ETH_P_ALL)))
		if err != nil {
			return err
		}
		if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: htons(syscall.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			syscall.Close(fd)
			return err
		}
		tv := syscall.Timeval{Usec: 100000}
		if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
			syscall.Close(fd)
			return err
		}
		s.fd = fd
		return nil
	})
	if err != nil {
		t.Fatalf("sniffer in %s: %v", h.Name(), err)
	}
	go s.run()
	t.Cleanup(func() { close(s.stop); <-s.done; syscall.Close(s.fd) })
	return s
}

func (s *wireSniffer) run() {
	defer close(s.done)
	buf := make([]byte, 2048)
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		n, from, err := syscall.Recvfrom(s.fd, buf, 0)
		if err != nil {
			if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
				continue
			}
			return
		}
		if ll, ok := from.(*syscall.SockaddrLinklayer); ok && ll.Pkttype == syscall.PACKET_OUTGOING {
			continue
		}
		if ev := parseFrame(buf[:n], time.Now()); ev != nil {
			select {
			case s.obs <- ev:
			default:
			}
		}
	}
}

// parseFrame decodes an Ethernet frame carrying a VRRP advert (IPv4
// protocol 112, RFC 5798 §5.1) or an ARP claim (arpwatch.ParseClaim).
func parseFrame(f []byte, at time.Time) fencing.Event {
	if len(f) < 14 {
		return nil
	}
	switch binary.BigEndian.Uint16(f[12:14]) {
	case 0x0800:
		ip := f[14:]
		if len(ip) < 20 || ip[9] != 112 {
			return nil
		}
		ihl := int(ip[0]&0x0f) * 4
		if len(ip) < ihl+8 {
			return nil
		}
		v := ip[ihl:]
		src, _ := netip.AddrFromSlice(ip[12:16])
		return fencing.AdvertObservation{At: at, VRID: v[1], Priority: v[2], Src: src, Version: int(v[0] >> 4)}
	case 0x0806:
		if o, ok := arpwatch.ParseClaim(f); ok {
			o.At = at
			return o
		}
	}
	return nil
}

// A rogue keepalived (priority 254, our VRID) appears next to the holder:
// the first rogue advert raises rogue_advert, its gratuitous ARP raises
// arp_conflict, and the e-mail, the webhook and the FIFO line all arrive;
// once it is gone, the alerts clear after the quiet period.
func TestRogueKeepalivedAlerts(t *testing.T) {
	checkNoLeaks(t)
	lab := netns.New(t)
	lan := lab.Bridge("lan")
	d1 := lab.Host("d1")
	d1if := d1.Link(lan, "eth0", "10.0.0.11/24")
	rogue := lab.Host("rogue")
	rogue.Link(lan, "eth0", "10.0.0.99/24")
	d1mac, err := d1if.MAC()
	if err != nil {
		t.Fatal(err)
	}
	hw, _ := net.ParseMAC(d1mac)
	sn := sniffWire(t, d1, "eth0")

	// The sinks.
	dir := t.TempDir()
	fifoPath := filepath.Join(dir, "fifo")
	fifo, err := OpenFIFO(FIFOConfig{Path: fifoPath, Create: true, Alerts: true})
	if err != nil {
		t.Fatal(err)
	}
	defer fifo.Close()
	r, err := os.OpenFile(fifoPath, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fifoLines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			fifoLines <- sc.Text()
		}
	}()
	smtpSrv := newSMTPServer(t, false)
	mailer, _ := NewSMTP(SMTPConfig{Server: smtpSrv.Addr(), To: []string{"ops@example.com"}, RouterID: "lb1"})
	recv := &hookReceiver{}
	hookSrv := httptest.NewServer(recv)
	defer hookSrv.Close()
	hook, _ := NewWebhook(WebhookConfig{URL: hookSrv.URL, RouterID: "lb1"})
	d := NewDispatcher(DispatcherConfig{Logger: testLogger(t)}, fifo, mailer, hook)
	defer d.Close(context.Background())

	// The driver: Monitor fed from the wire, ticked, actions published.
	m := fencing.NewMonitor(fencing.MonitorConfig{Node: "d1", Quiet: 3 * time.Second})
	var mu sync.Mutex
	var actions []fencing.Action
	var firstRogue time.Time
	step := func(e fencing.Event, now time.Time) {
		mu.Lock()
		defer mu.Unlock()
		if e != nil {
			if a, ok := e.(fencing.AdvertObservation); ok && a.Src.String() == "10.0.0.99" && firstRogue.IsZero() {
				firstRogue = a.At
			}
			if err := m.Step(e); err != nil {
				t.Error(err)
			}
		} else {
			m.Tick(now)
		}
		for _, a := range m.Ready() {
			actions = append(actions, a)
			al := a.Alert
			d.Publish(Notification{Time: now, Alert: &al})
		}
		m.Advance()
	}
	step(fencing.InstanceConfigured{Name: "VI_1", VRID: 51, VIPs: []netip.Addr{netip.MustParseAddr("10.0.0.100")}}, time.Now())
	step(fencing.HolderChanged{At: time.Now(), Instance: "VI_1", Holder: fencing.Holder{Node: "d1", Addr: netip.MustParseAddr("10.0.0.11"), MAC: hw, Epoch: 42}}, time.Now())
	stopDriver := make(chan struct{})
	driverDone := make(chan struct{})
	go func() {
		defer close(driverDone)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case e := <-sn.obs:
				step(e, time.Now())
			case now := <-tick.C:
				step(nil, now)
			case <-stopDriver:
				return
			}
		}
	}()
	defer func() { close(stopDriver); <-driverDone }()

	ka := startRogue(t, rogue)
	raised := func(kind fencing.Kind) (fencing.Action, bool) {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range actions {
			if a.Op == fencing.Raise && a.Alert.Kind == kind {
				return a, true
			}
		}
		return fencing.Action{}, false
	}
	waitFor(t, "rogue_advert and arp_conflict alerts", 20*time.Second, func() bool {
		_, r1 := raised(fencing.KindRogueAdvert)
		_, r2 := raised(fencing.KindARPConflict)
		return r1 && r2
	})
	ra, _ := raised(fencing.KindRogueAdvert)
	mu.Lock()
	if !ra.Alert.Since.Equal(firstRogue) {
		t.Errorf("rogue_advert raised at %v, first rogue advert seen at %v: not raised by the first advert", ra.Alert.Since, firstRogue)
	}
	mu.Unlock()
	if ra.Alert.Instance != "VI_1" || ra.Alert.Peer != "10.0.0.99" || ra.Alert.Evidence["priority"] != "254" || ra.Alert.Evidence["vrid"] != "51" || ra.Alert.Epoch != 42 {
		t.Errorf("rogue alert %s", ra.Alert)
	}
	aa, _ := raised(fencing.KindARPConflict)
	if aa.Alert.Evidence["vip"] != "10.0.0.100" || aa.Alert.Evidence["holder_mac"] != d1mac {
		t.Errorf("arp alert %s", aa.Alert)
	}

	// Every sink got the rogue alert.
	wantFIFO := `ALERT rogue_advert RAISED "instance=VI_1 peer=10.0.0.99" 42`
	waitFor(t, "FIFO line "+wantFIFO, 10*time.Second, func() bool {
		for {
			select {
			case l := <-fifoLines:
				if l == wantFIFO {
					return true
				}
			default:
				return false
			}
		}
	})
	wantSubject := "Subject: [lb1] Split-brain alert rogue_advert instance=VI_1 peer=10.0.0.99 - RAISED"
	waitFor(t, "the e-mail", 10*time.Second, func() bool {
		for {
			select {
			case got := <-smtpSrv.Got:
				if strings.Contains(got.Data, wantSubject+"\r\n") {
					return true
				}
			default:
				return false
			}
		}
	})
	waitFor(t, "the webhook", 10*time.Second, func() bool {
		recv.mu.Lock()
		defer recv.mu.Unlock()
		for _, b := range recv.bodies {
			var p Payload
			if json.Unmarshal(b, &p) == nil && p.Alert != nil && p.Alert.Kind == fencing.KindRogueAdvert && p.Alert.Evidence["src"] == "10.0.0.99" {
				return true
			}
		}
		return false
	})

	// The rogue goes away (SIGKILL: no priority-0 farewell): both alerts
	// clear after the quiet period.
	if err := ka.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alerts to clear", 20*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(m.Open()) == 0
	})
	mu.Lock()
	var ops []string
	for _, a := range actions {
		ops = append(ops, a.Op.String()+" "+string(a.Alert.Kind))
	}
	mu.Unlock()
	if len(ops) != 4 {
		t.Fatalf("actions %q: want each alert raised once and cleared once", ops)
	}
}

func startRogue(t *testing.T, h *netns.Host) *netns.Proc {
	t.Helper()
	dir := t.TempDir()
	conf := `global_defs {
  router_id rogue
}
vrrp_instance ROGUE {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 254
  advert_int 1
  virtual_ipaddress {
    10.0.0.100/24
  }
}
`
	path := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	p := h.Start("keepalived", "--dont-fork", "--log-console", "--no-syslog", "--vrrp",
		"--use-file", path, "--pid", filepath.Join(dir, "keepalived.pid"),
		"--vrrp_pid", filepath.Join(dir, "vrrp.pid"), "--checkers_pid", filepath.Join(dir, "checkers.pid"),
		"--bfd_pid", filepath.Join(dir, "bfd.pid"))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("rogue keepalived logged:\n%s", p.Output())
		}
	})
	return p
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
