package fencing

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Kind is the kind of a split-brain alert. Its string form is stable: it is
// a Prometheus label value, a JSON field and part of email subjects.
type Kind string

// The alert kinds.
const (
	// KindRogueAdvert: a VRRP advert for one of our VRIDs from anyone but
	// the holder (a rogue or a leftover keepalived).
	KindRogueAdvert Kind = "rogue_advert"
	// KindARPConflict: an ARP reply or gratuitous ARP for a VIP from a MAC
	// that is not the holder's.
	KindARPConflict Kind = "arp_conflict"
	// KindQuorumLost: a director cannot reach a quorum of the cluster.
	KindQuorumLost Kind = "quorum_lost"
	// KindLinkDegraded: one heartbeat link to a peer is down, others are up.
	KindLinkDegraded Kind = "link_degraded"
	// KindPeerLost: every heartbeat link to a peer is down.
	KindPeerLost Kind = "peer_lost"
	// KindVIPFlapping: a VIP moved more than N times within a window.
	KindVIPFlapping Kind = "vip_flapping"
	// KindFenceFailed: a fence-peer hook failed.
	KindFenceFailed Kind = "fence_failed"
	// KindConfigStale: a director applies an older configuration than the
	// cluster's.
	KindConfigStale Kind = "config_stale"
)

// Kinds lists every kind, in a fixed order (for metrics and docs).
var Kinds = []Kind{
	KindRogueAdvert, KindARPConflict, KindQuorumLost, KindLinkDegraded,
	KindPeerLost, KindVIPFlapping, KindFenceFailed, KindConfigStale,
}

// Severity ranks alerts.
type Severity int

// The severities.
const (
	SeverityInfo Severity = iota
	SeverityWarning
	SeverityCritical
)

func (s Severity) String() string {
	switch s {
	case SeverityInfo:
		return "info"
	case SeverityWarning:
		return "warning"
	case SeverityCritical:
		return "critical"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// MarshalText renders the severity as "info", "warning" or "critical".
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses "info", "warning" or "critical".
func (s *Severity) UnmarshalText(b []byte) error {
	for _, v := range []Severity{SeverityInfo, SeverityWarning, SeverityCritical} {
		if string(b) == v.String() {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("fencing: unknown severity %q (want info, warning or critical)", b)
}

// Severity is the default severity of alerts of kind k: anything that is
// or may become two holders of one VIP is critical.
func (k Kind) Severity() Severity {
	switch k {
	case KindRogueAdvert, KindARPConflict, KindPeerLost, KindFenceFailed, KindQuorumLost:
		return SeverityCritical
	case KindLinkDegraded, KindVIPFlapping, KindConfigStale:
		return SeverityWarning
	}
	return SeverityInfo
}

// Alert is one typed alert with its evidence. Which of Node, Instance,
// Peer and Link are set depends on the kind (see Subject).
type Alert struct {
	Kind     Kind      `json:"kind"`
	Severity Severity  `json:"severity"`
	Since    time.Time `json:"since"`          // first observation
	Last     time.Time `json:"last,omitzero"`  // latest observation
	Node     string    `json:"node,omitempty"` // the director concerned
	Instance string    `json:"instance,omitempty"`
	Peer     string    `json:"peer,omitempty"` // a peer director, or the rogue's address or MAC
	Link     string    `json:"link,omitempty"`
	Epoch    uint64    `json:"epoch,omitempty"` // the holder's epoch (fencing token) when relevant
	Count    int       `json:"count"`           // observations folded into this alert
	Message  string    `json:"message"`
	// Evidence holds the observations behind the alert, keyed by short
	// snake_case names (vrid, src, priority, holder, holder_addr, mac, vip,
	// moves, window, error, attempt, applied, cluster, ...).
	Evidence   map[string]string `json:"evidence,omitempty"`
	Resolved   bool              `json:"resolved"`
	ResolvedAt time.Time         `json:"resolved_at,omitzero"`
}

// Subject identifies what an alert is about: the Monitor keeps at most one
// open alert per Subject.
//
//	rogue_advert  Instance, Peer = advert source address
//	arp_conflict  Instance, Peer = sender MAC
//	quorum_lost   Node
//	link_degraded Peer, Link
//	peer_lost     Peer
//	vip_flapping  Instance
//	fence_failed  Node (the fenced node), Instance
//	config_stale  Node
type Subject struct {
	Kind                       Kind
	Node, Instance, Peer, Link string
}

// Subject returns the alert's subject.
func (a Alert) Subject() Subject {
	return Subject{Kind: a.Kind, Node: a.Node, Instance: a.Instance, Peer: a.Peer, Link: a.Link}
}

func (s Subject) String() string {
	var b strings.Builder
	b.WriteString(string(s.Kind))
	for _, f := range [...]struct{ k, v string }{{"node", s.Node}, {"instance", s.Instance}, {"peer", s.Peer}, {"link", s.Link}} {
		if f.v != "" {
			fmt.Fprintf(&b, " %s=%s", f.k, f.v)
		}
	}
	return b.String()
}

// String renders the alert canonically on one line: subject, severity,
// epoch, state and sorted evidence. Tests compare these lines.
func (a Alert) String() string {
	var b strings.Builder
	b.WriteString(a.Subject().String())
	fmt.Fprintf(&b, " severity=%s", a.Severity)
	if a.Epoch != 0 {
		fmt.Fprintf(&b, " epoch=%d", a.Epoch)
	}
	if a.Resolved {
		b.WriteString(" resolved")
	}
	keys := make([]string, 0, len(a.Evidence))
	for k := range a.Evidence {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, a.Evidence[k])
	}
	return b.String()
}

// newAlert fills the common fields.
func newAlert(k Kind, at time.Time, msg string, ev map[string]string) Alert {
	return Alert{Kind: k, Severity: k.Severity(), Since: at, Last: at, Count: 1, Message: msg, Evidence: ev}
}
