package nemesis

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"vigil/test/topo"
)

// vrid is the VRID of the nemesis's one instance (topo's VI_1).
const vrid = 51

// evidence is what the recorder and the client's observer saw during one
// schedule, from its start until the next one's: reported, never failed.
type evidence struct {
	masters []topo.Overlap // two directors advertising the VRID within an advert interval
	garps   []topo.Overlap // gratuitous ARPs for the VIP from two directors within garpWindow
	answers []topo.Change  // the client's record: who answered ARP for the VIP, and when
	// frames recorded: VRRP adverts, gratuitous ARPs, ARP replies
	adverts, garpN, replies int
}

// evidence gathers the evidence from from until now. An overlap that
// began before from but ended after it counts here.
func (tg *target) evidence(from time.Time) evidence {
	lead := max(tg.advert, garpWindow)
	evs := tg.rec.Events(from.Add(-lead), time.Time{})
	vip := netip.MustParseAddr(tg.th.Net.VIP())
	since := func(ov []topo.Overlap) []topo.Overlap {
		var out []topo.Overlap
		for _, o := range ov {
			if !o.To.Before(from) {
				out = append(out, o)
			}
		}
		return out
	}
	mine := tg.rec.Events(from, time.Time{})
	return evidence{
		masters: since(topo.TwoMasters(evs, vrid, tg.advert)),
		garps:   since(topo.SeveralGARPs(evs, vip, garpWindow)),
		answers: tg.obs.Changes(from, time.Time{}),
		adverts: topo.Count(mine, topo.Advert),
		garpN:   topo.Count(mine, topo.GratuitousARP),
		replies: topo.Count(mine, topo.ARPReply),
	}
}

func (e evidence) String() string {
	return fmt.Sprintf("two advertising VRID %d: %s; gratuitous ARPs from two: %s; recorded %d adverts, %d gratuitous ARPs, %d ARP replies",
		vrid, describe(e.masters), describe(e.garps), e.adverts, e.garpN, e.replies)
}

// describe says how often and how long several directors did the same
// thing at once: answered ARP for the VIP (splits), advertised, announced.
func describe(ov []topo.Interval) string {
	if len(ov) == 0 {
		return "never"
	}
	var parts []string
	for _, o := range ov {
		parts = append(parts, fmt.Sprintf("%s (%s)", secs(o.Duration()), strings.Join(o.Who, " ")))
	}
	return strings.Join(parts, ", ")
}

// describeAnswers is the client's record, relative to start: who answered
// ARP for the VIP ("none": nobody) from when; the first dozen changes.
func describeAnswers(ch []topo.Change, start time.Time) string {
	const most = 12
	var parts []string
	for i, c := range ch {
		if i == most {
			parts = append(parts, fmt.Sprintf("%d more", len(ch)-most))
			break
		}
		who := strings.Join(c.Who, "+")
		if who == "" {
			who = "none"
		}
		parts = append(parts, fmt.Sprintf("%s at +%.2f s", who, c.At.Sub(start).Seconds()))
	}
	return strings.Join(parts, ", ")
}

// timeline is what a failing schedule prints beside its seed: the
// evidence, the client's record, and every VRRP advert and gratuitous ARP
// recorded from start on (ARP replies for the VIP only where the
// director answering changes, other ARP replies not).
func (tg *target) timeline(start time.Time) string {
	e := tg.evidence(start)
	var b strings.Builder
	fmt.Fprintf(&b, "evidence: %s\nthe client's record (who answered ARP for %s): %s\nrecorded on the bridges:\n", e, tg.th.Net.VIP(), describeAnswers(e.answers, start))
	last, vip := "", netip.MustParseAddr(tg.th.Net.VIP())
	for _, ev := range tg.rec.Events(start, time.Time{}) {
		if ev.Kind == topo.ARPReply {
			if ev.IP != vip || ev.Who == last {
				continue
			}
			last = ev.Who
		}
		fmt.Fprintf(&b, "  %s\n", ev)
	}
	return b.String()
}
