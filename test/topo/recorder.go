package topo

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"

	"vigil/fencing/arpwatch"
	"vigil/test/netns"
	"vigil/vrrp"
)

// ethPAll is ETH_P_ALL (linux/if_ether.h): every protocol.
const ethPAll = 0x0003

// Kind is what a recorded frame was.
type Kind int

const (
	ARPReply      Kind = iota // an ARP reply that is not gratuitous
	GratuitousARP             // an ARP request or reply whose sender and target IP are the same
	Advert                    // a VRRP advert (IPv4, protocol 112)
)

func (k Kind) String() string {
	return [...]string{"ARP reply", "gratuitous ARP", "VRRP advert"}[k]
}

// Event is one frame the Recorder saw enter a bridge.
type Event struct {
	At   time.Time // when the recorder read it
	Link string    // the bridge: "lan" or "hb"
	Kind Kind
	MAC  string // the Ethernet source
	Who  string // the director with that MAC, or "unknown MAC"
	// IP is, for ARP, the sender IP (the address the frame claims); for
	// an advert, its IP source.
	IP netip.Addr
	// The advert's fields, as the vrrp codec decodes them.
	VRID, Priority uint8
	Interval       time.Duration
	Addrs          []netip.Addr
	Err            error // the codec rejected the advert (VRID and priority are still the header's)
}

func (e Event) String() string {
	s := fmt.Sprintf("%s %s %s from %s (%s) %s", e.At.UTC().Format("15:04:05.000"), e.Link, e.Kind, e.Who, e.MAC, e.IP)
	if e.Kind == Advert {
		s += fmt.Sprintf(" vrid %d priority %d", e.VRID, e.Priority)
		if e.Err != nil {
			s += fmt.Sprintf(" (invalid: %v)", e.Err)
		}
	}
	return s
}

// Recorder is the passive observer of the topology: a host of its own
// tapped into each bridge (netns.Host.Tap, a mirror port: it sees every
// frame any host sends into the bridge and sends nothing), recording with
// a timestamp every ARP reply, gratuitous ARP and VRRP advert. Where the
// Observer shows what the client is told, the Recorder shows what the
// directors claim.
type Recorder struct {
	macs  map[string]string // MAC → director name, both links
	conns []*packet.Conn
	wg    sync.WaitGroup
	stop  chan struct{}

	mu     sync.Mutex
	events []Event
}

// arpOrVRRP keeps ARP frames and IPv4 frames of protocol 112 (VRRP) and
// drops the rest in the kernel.
var arpOrVRRP = func() []bpf.RawInstruction {
	prog, err := bpf.Assemble([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2},                                 // EtherType
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0806, SkipTrue: 3},          // ARP: keep
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 0x0800, SkipTrue: 3},       // not IPv4: drop
		bpf.LoadAbsolute{Off: 14 + 9, Size: 1},                             // IP protocol
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: vrrp.IPProto, SkipTrue: 1}, // not VRRP: drop
		bpf.RetConstant{Val: 0xffff},
		bpf.RetConstant{Val: 0},
	})
	if err != nil {
		panic(err) // a constant program
	}
	return prog
}()

// Record starts recording on both of th's bridges, from a host named
// "recorder" tapped into each. Close stops it.
func Record(th *Three) (*Recorder, error) {
	r := &Recorder{macs: map[string]string{}, stop: make(chan struct{})}
	for n, d := range th.D {
		for _, i := range []*netns.Iface{d.LAN, d.HB} {
			mac, err := i.MAC()
			if err != nil {
				return nil, fmt.Errorf("topo: recorder: MAC of %s: %w", n, err)
			}
			r.macs[mac] = n
		}
	}
	h := th.Lab.Host("recorder")
	links := map[string]string{"lan": h.Tap(th.LAN, "lan").Name, "hb": h.Tap(th.HB, "hb").Name}
	for link, ifname := range links {
		var c *packet.Conn
		err := h.Do(func() error {
			ifi, err := net.InterfaceByName(ifname)
			if err != nil {
				return err
			}
			c, err = packet.Listen(ifi, packet.Raw, ethPAll, &packet.Config{Filter: arpOrVRRP})
			return err
		})
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("topo: recorder on %s: %w", link, err)
		}
		r.conns = append(r.conns, c)
		r.wg.Add(1)
		go r.read(c, link)
	}
	return r, nil
}

// Close stops recording and waits for the readers. Events stay readable.
func (r *Recorder) Close() {
	close(r.stop)
	for _, c := range r.conns {
		// A pending read wakes up on its deadline, not on Close.
		_ = c.SetReadDeadline(time.Unix(1, 0))
	}
	r.wg.Wait()
	for _, c := range r.conns {
		c.Close()
	}
}

func (r *Recorder) read(c *packet.Conn, link string) {
	defer r.wg.Done()
	buf := make([]byte, 2048)
	for {
		n, _, err := c.ReadFrom(buf)
		select {
		case <-r.stop:
			return
		default:
		}
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		e, ok := Decode(buf[:n])
		if !ok {
			continue
		}
		e.At, e.Link = time.Now(), link
		if e.Who = r.macs[e.MAC]; e.Who == "" {
			e.Who = "unknown " + e.MAC
		}
		r.mu.Lock()
		r.events = append(r.events, e)
		r.mu.Unlock()
	}
}

// Events are the events recorded in [from, to) (zero to: until now), in
// the order they were read.
func (r *Recorder) Events(from, to time.Time) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, e := range r.events {
		if !e.At.Before(from) && (to.IsZero() || e.At.Before(to)) {
			out = append(out, e)
		}
	}
	return out
}

// Decode reads an Ethernet frame: an ARP reply, a gratuitous ARP (request
// or reply, decoded by arpwatch.ParseClaim) or an IPv4 VRRP advert
// (decoded by vrrp.Parse, whatever its v3 checksum convention); anything
// else is not an event. At, Link and Who are left to the caller.
func Decode(frame []byte) (Event, bool) {
	if len(frame) < 14 {
		return Event{}, false
	}
	e := Event{MAC: net.HardwareAddr(frame[6:12]).String()}
	switch binary.BigEndian.Uint16(frame[12:14]) {
	case 0x0806:
		c, ok := arpwatch.ParseClaim(frame)
		if !ok {
			return Event{}, false
		}
		e.Kind, e.IP = ARPReply, c.SenderIP
		if c.Gratuitous {
			e.Kind = GratuitousARP
		}
		return e, true
	case 0x0800:
		ip := frame[14:]
		if len(ip) < 20 || ip[0]>>4 != 4 || ip[9] != vrrp.IPProto {
			return Event{}, false
		}
		hl, total := int(ip[0]&0x0f)*4, int(binary.BigEndian.Uint16(ip[2:4]))
		if hl < 20 || total < hl || total > len(ip) {
			return Event{}, false
		}
		msg := ip[hl:total]
		src, dst := netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20]))
		e.Kind, e.IP = Advert, src
		a, err := vrrp.Parse(msg, src, dst, vrrp.ParseOptions{HopLimit: int(ip[8]), AnyV3Checksum: true})
		if err != nil {
			e.Err = err
			if len(msg) >= 3 {
				e.VRID, e.Priority = msg[1], msg[2]
			}
			return e, true
		}
		e.VRID, e.Priority, e.Interval, e.Addrs = a.VRID, a.Priority, a.Interval, slices.Clone(a.Addrs)
		return e, true
	}
	return Event{}, false
}
