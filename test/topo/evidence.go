package topo

import (
	"net/netip"
	"slices"
	"time"
)

// Overlap is an interval in which more than one director claimed the
// same thing (to be master of a VRID, to have a VIP), each within a
// window of another's claim: the timeline evidence of two directors
// acting as holder. From is the earlier claim of the first pair, To the
// later claim of the last. It is evidence, not proof of a split: a killed
// holder's last advert legitimately precedes its successor's first by
// less than an advert interval, though nobody answers for it any more.
type Overlap = Interval

// TwoMasters is the intervals in which more than one director sent VRRP
// adverts of a non-zero priority for vrid, each within within (the advert
// interval) of another's. A director's priority-0 advert (it resigns)
// ends its claim.
func TwoMasters(evs []Event, vrid uint8, within time.Duration) []Overlap {
	var cs []claim
	for _, e := range evs {
		if e.Kind == Advert && e.VRID == vrid {
			cs = append(cs, claim{at: e.At, who: e.Who, resign: e.Priority == 0})
		}
	}
	return overlaps(cs, within)
}

// SeveralGARPs is the intervals in which more than one director sent
// gratuitous ARPs for vip, each within within of another's.
func SeveralGARPs(evs []Event, vip netip.Addr, within time.Duration) []Overlap {
	var cs []claim
	for _, e := range evs {
		if e.Kind == GratuitousARP && e.IP == vip {
			cs = append(cs, claim{at: e.At, who: e.Who})
		}
	}
	return overlaps(cs, within)
}

// Count is how many events of kind evs holds.
func Count(evs []Event, kind Kind) int {
	n := 0
	for _, e := range evs {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// claim is one director saying it holds something, at a time.
type claim struct {
	at     time.Time
	who    string
	resign bool // it says it no longer does
}

// overlaps pairs every claim with the latest standing claim of each other
// director within window before it, and merges the pairs that touch into
// intervals.
func overlaps(cs []claim, window time.Duration) []Overlap {
	slices.SortStableFunc(cs, func(a, b claim) int { return a.at.Compare(b.at) })
	last := map[string]time.Time{} // each director's latest standing claim
	var pairs []Overlap
	for _, c := range cs {
		if c.resign {
			delete(last, c.who)
			continue
		}
		for w, at := range last {
			if w != c.who && c.at.Sub(at) <= window {
				pairs = append(pairs, Overlap{From: at, To: c.at, Who: []string{w, c.who}})
			}
		}
		last[c.who] = c.at
	}
	slices.SortFunc(pairs, func(a, b Overlap) int { return a.From.Compare(b.From) })
	var out []Overlap
	for _, p := range pairs {
		if n := len(out); n > 0 && !p.From.After(out[n-1].To) {
			o := &out[n-1]
			if p.To.After(o.To) {
				o.To = p.To
			}
			o.Who = append(o.Who, p.Who...)
		} else {
			out = append(out, p)
		}
	}
	for i := range out {
		slices.Sort(out[i].Who)
		out[i].Who = slices.Compact(out[i].Who)
	}
	return out
}
