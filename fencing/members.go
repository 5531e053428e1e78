package fencing

import (
	"bytes"
	"net"
	"net/netip"
	"slices"
	"sort"
	"time"
)

// NodeIdentity declares a director of the cluster and what identifies it
// on the wire: the source addresses of its VRRP adverts and the MACs it
// answers ARP with for the VIPs (its interfaces' and, with use_vmac, the
// VRRP virtual MAC). It replaces what was known of Node before.
//
// Knowing the directors does two things. A holder's packets are judged
// against everything it announced, not only Holder.Addr and Holder.MAC.
// And a packet from a director that is not (yet) the holder is judged
// only HandoverGrace after it was seen: the new holder's first adverts
// and gratuitous ARPs routinely reach an observer before the replicated
// assignment does, and a normal failover must raise nothing. A director
// still claiming the VIP after that is reported, with its name.
type NodeIdentity struct {
	Node  string
	Addrs []netip.Addr
	MACs  []net.HardwareAddr
}

func (NodeIdentity) monitorEvent() {}

// identity is what the Monitor knows of one director.
type identity struct {
	addrs []netip.Addr
	macs  []net.HardwareAddr
}

// deferredClaim is a packet from a director that was not the holder when
// it was seen, waiting out the handover grace before it is judged.
type deferredClaim struct {
	first, last Event // the first and the latest such packet
	due         time.Time
}

// setIdentity records a director's identity and refreshes the holder
// table entries it appears in.
func (m *Monitor) setIdentity(e NodeIdentity) {
	id := identity{addrs: slices.Clone(e.Addrs), macs: slices.Clone(e.MACs)}
	m.members[e.Node] = id
	for name, ih := range m.holders {
		if ih.Holder.Node == e.Node {
			ih.Holder = m.withIdentity(ih.Holder)
		}
		if ih.Previous.Node == e.Node {
			ih.Previous = m.withIdentity(ih.Previous)
		}
		m.holders[name] = ih
	}
}

// withIdentity fills h's further addresses and MACs from its director's
// identity, when it is known.
func (m *Monitor) withIdentity(h Holder) Holder {
	if id, ok := m.members[h.Node]; ok {
		h.Addrs, h.MACs = id.addrs, id.macs
	}
	return h
}

// member returns the director an observation comes from ("" for none).
func (m *Monitor) member(e Event) string {
	for _, n := range m.memberNames() {
		id := m.members[n]
		switch e := e.(type) {
		case AdvertObservation:
			if slices.ContainsFunc(id.addrs, func(a netip.Addr) bool { return a.Unmap() == e.Src.Unmap() }) {
				return n
			}
		case ARPObservation:
			if slices.ContainsFunc(id.macs, func(mac net.HardwareAddr) bool { return bytes.Equal(mac, e.SenderMAC) }) {
				return n
			}
		}
	}
	return ""
}

func (m *Monitor) memberNames() []string {
	names := make([]string, 0, len(m.members))
	for n := range m.members {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// detect runs the detector of an advert or ARP observation.
func (m *Monitor) detect(e Event) (Alert, bool) {
	switch e := e.(type) {
	case AdvertObservation:
		return DetectRogueAdvert(e, m.holders)
	case ARPObservation:
		return DetectARPConflict(e, m.holders)
	}
	return Alert{}, false
}

// observe judges a packet: at once when a stranger sent it, after the
// handover grace when a director did.
func (m *Monitor) observe(e Event, at time.Time) {
	a, ok := m.detect(e)
	if !ok {
		return
	}
	node := m.member(e)
	if node == "" {
		m.raise(a)
		return
	}
	key := string(a.Kind) + " " + a.Instance + " " + a.Peer
	if d, ok := m.deferred[key]; ok {
		d.last = e
		return
	}
	m.deferred[key] = &deferredClaim{first: e, due: at.Add(m.cfg.HandoverGrace)}
}

// judgeDeferred judges the deferred packets whose grace is over against
// the holder table as it is now, in key order.
func (m *Monitor) judgeDeferred(now time.Time) {
	keys := make([]string, 0, len(m.deferred))
	for k, d := range m.deferred {
		if !now.Before(d.due) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		d := m.deferred[k]
		delete(m.deferred, k)
		for _, e := range []Event{d.first, d.last} {
			if e == nil {
				continue
			}
			if a, ok := m.detect(e); ok {
				node := m.member(e)
				a.Evidence["director"] = node
				a.Message += " (sent by director " + node + ")"
				m.raise(a)
			}
		}
	}
}
