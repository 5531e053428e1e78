package fencing

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Holder is the director holding an instance's VIPs, as the replicated
// state says. The zero Holder (Node == "") means nobody holds them.
type Holder struct {
	Node  string
	Addr  netip.Addr       // source address of its VRRP adverts
	MAC   net.HardwareAddr // the MAC its ARP replies for the VIPs carry
	Epoch uint64
	// Addrs and MACs also count as the holder's: what the director
	// announced of itself in a NodeIdentity (its other interfaces, the
	// VRRP virtual MAC of a use_vmac instance). The Monitor fills them.
	Addrs []netip.Addr
	MACs  []net.HardwareAddr
}

// hasAddr reports whether an advert from src is the holder's.
func (h Holder) hasAddr(src netip.Addr) bool {
	if h.Node == "" || !src.IsValid() {
		return false
	}
	src = src.Unmap()
	if h.Addr.Unmap() == src {
		return true
	}
	for _, a := range h.Addrs {
		if a.Unmap() == src {
			return true
		}
	}
	return false
}

// macs returns every MAC that counts as the holder's.
func (h Holder) macs() []net.HardwareAddr {
	if len(h.MAC) == 0 {
		return h.MACs
	}
	return append([]net.HardwareAddr{h.MAC}, h.MACs...)
}

// hasMAC reports whether an ARP claim from mac is the holder's.
func (h Holder) hasMAC(mac net.HardwareAddr) bool {
	if h.Node == "" || len(mac) == 0 {
		return false
	}
	for _, m := range h.macs() {
		if bytes.Equal(m, mac) {
			return true
		}
	}
	return false
}

// InstanceHolder is what the detectors know of one VRRP instance.
type InstanceHolder struct {
	VRID   uint8
	VIPs   []netip.Addr
	Holder Holder
	// Previous is the holder before the current one; its adverts and ARP
	// replies are tolerated until PreviousUntil (the handover grace: a
	// priority-0 advert or a late reply in flight is not a split brain).
	Previous      Holder
	PreviousUntil time.Time
}

// HolderTable maps instance names to what the detectors know of them.
type HolderTable map[string]InstanceHolder

// byVRID returns the instance with the given VRID, the lowest name first
// if (wrongly) several share it.
func (t HolderTable) byVRID(vrid uint8) (string, InstanceHolder, bool) {
	for _, name := range t.names() {
		if ih := t[name]; ih.VRID == vrid {
			return name, ih, true
		}
	}
	return "", InstanceHolder{}, false
}

// byVIP returns the instance owning the VIP.
func (t HolderTable) byVIP(vip netip.Addr) (string, InstanceHolder, bool) {
	vip = vip.Unmap()
	for _, name := range t.names() {
		ih := t[name]
		for _, v := range ih.VIPs {
			if v.Unmap() == vip {
				return name, ih, true
			}
		}
	}
	return "", InstanceHolder{}, false
}

func (t HolderTable) names() []string {
	names := make([]string, 0, len(t))
	for n := range t {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// AdvertObservation is a VRRP advert seen on the wire.
type AdvertObservation struct {
	At       time.Time
	Iface    string
	VRID     uint8
	Src      netip.Addr
	Priority uint8
	Version  int // 2 or 3
}

// ARPObservation is an ARP reply, or a gratuitous ARP request, seen on the
// wire: SenderIP claims to be at SenderMAC.
type ARPObservation struct {
	At         time.Time
	Iface      string
	SenderIP   netip.Addr
	SenderMAC  net.HardwareAddr
	Gratuitous bool
}

// DetectRogueAdvert reports an advert for one of our VRIDs from anyone but
// the holder (or the previous holder within its handover grace). With no
// holder, every advert for the VRID is rogue: nobody may announce it.
// Adverts for VRIDs that are not ours are none of our business.
func DetectRogueAdvert(obs AdvertObservation, t HolderTable) (Alert, bool) {
	name, ih, ok := t.byVRID(obs.VRID)
	if !ok {
		return Alert{}, false
	}
	src := obs.Src.Unmap()
	if ih.Holder.hasAddr(src) {
		return Alert{}, false
	}
	if ih.Previous.hasAddr(src) && obs.At.Before(ih.PreviousUntil) {
		return Alert{}, false
	}
	ev := map[string]string{
		"vrid":     strconv.Itoa(int(obs.VRID)),
		"src":      src.String(),
		"priority": strconv.Itoa(int(obs.Priority)),
		"holder":   holderName(ih.Holder),
	}
	if ih.Holder.Addr.IsValid() {
		ev["holder_addr"] = ih.Holder.Addr.String()
	}
	if obs.Iface != "" {
		ev["iface"] = obs.Iface
	}
	if obs.Version != 0 {
		ev["version"] = strconv.Itoa(obs.Version)
	}
	a := newAlert(KindRogueAdvert, obs.At,
		fmt.Sprintf("VRRP advert for VRID %d (instance %s) from %s, priority %d; holder is %s", obs.VRID, name, src, obs.Priority, holderName(ih.Holder)), ev)
	a.Instance, a.Peer, a.Epoch = name, src.String(), ih.Holder.Epoch
	return a, true
}

// DetectARPConflict reports an ARP reply or gratuitous ARP for one of our
// VIPs from a MAC that is not the holder's (nor the previous holder's
// within its grace). With no holder, any claim for the VIP is a conflict.
// A holder whose MAC is unknown cannot be judged: no alert.
func DetectARPConflict(obs ARPObservation, t HolderTable) (Alert, bool) {
	name, ih, ok := t.byVIP(obs.SenderIP)
	if !ok || len(obs.SenderMAC) == 0 {
		return Alert{}, false
	}
	if ih.Holder.Node != "" && (len(ih.Holder.macs()) == 0 || ih.Holder.hasMAC(obs.SenderMAC)) {
		return Alert{}, false
	}
	if ih.Previous.Node != "" && ih.Previous.hasMAC(obs.SenderMAC) && obs.At.Before(ih.PreviousUntil) {
		return Alert{}, false
	}
	kind := "reply"
	if obs.Gratuitous {
		kind = "gratuitous"
	}
	ev := map[string]string{
		"vip":    obs.SenderIP.Unmap().String(),
		"mac":    obs.SenderMAC.String(),
		"arp":    kind,
		"holder": holderName(ih.Holder),
	}
	if ms := ih.Holder.macs(); len(ms) > 0 {
		ss := make([]string, len(ms))
		for i, m := range ms {
			ss[i] = m.String()
		}
		ev["holder_mac"] = strings.Join(ss, ",")
	}
	if obs.Iface != "" {
		ev["iface"] = obs.Iface
	}
	a := newAlert(KindARPConflict, obs.At,
		fmt.Sprintf("ARP %s for VIP %s (instance %s) from %s; holder is %s", kind, obs.SenderIP.Unmap(), name, obs.SenderMAC, holderName(ih.Holder)), ev)
	a.Instance, a.Peer, a.Epoch = name, obs.SenderMAC.String(), ih.Holder.Epoch
	return a, true
}

func holderName(h Holder) string {
	if h.Node == "" {
		return "nobody"
	}
	return h.Node
}

// FlapDetector counts VIP moves per instance within a sliding window. It
// is a plain value driven with explicit times.
type FlapDetector struct {
	Window   time.Duration
	MaxMoves int // more than MaxMoves moves within Window is flapping
	moves    map[string][]time.Time
}

// Move records a move of instance at time at and returns the number of
// moves within the window ending at at, and whether that is flapping.
func (f *FlapDetector) Move(instance string, at time.Time) (int, bool) {
	if f.moves == nil {
		f.moves = make(map[string][]time.Time)
	}
	f.moves[instance] = append(f.prune(instance, at), at)
	n := len(f.moves[instance])
	return n, n > f.MaxMoves
}

// Count returns the number of moves of instance within the window ending
// at now, and whether that is flapping.
func (f *FlapDetector) Count(instance string, now time.Time) (int, bool) {
	ms := f.prune(instance, now)
	if len(ms) == 0 {
		delete(f.moves, instance)
	} else {
		f.moves[instance] = ms
	}
	return len(ms), len(ms) > f.MaxMoves
}

func (f *FlapDetector) prune(instance string, now time.Time) []time.Time {
	ms := f.moves[instance]
	i := 0
	for i < len(ms) && !ms[i].After(now.Add(-f.Window)) {
		i++
	}
	return ms[i:]
}
