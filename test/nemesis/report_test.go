package nemesis

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"vigil/config"
	"vigil/test/topo"
)

// report renders both systems' runs of the schedules side by side, as
// Markdown: how often and how long two directors answered for the VIP,
// how soon it was served after healing, and vigil's configuration changes.
func report(seed uint64, scheds []schedule, v, k result, advert string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Nemesis: vigil against keepalived, the same fault schedules\n\n")
	fmt.Fprintf(&b, "%s. %d schedules from seed %d (`make nemesis N=%d SEED=%d` replays them; one: `-nemesis.seed=S -nemesis.n=1`).\n",
		topo.Machine(), len(scheds), seed, len(scheds), seed)
	fmt.Fprintf(&b, "Three directors on a LAN and a heartbeat network, a client on the LAN asking who has the VIP over ARP every 50 ms "+
		"and recording who answers, by MAC; a recorder in a namespace of its own, tapped into both bridges (it gets a copy of every frame any host sends into them), "+
		"recording every VRRP advert, gratuitous ARP and ARP reply with its time.\n")
	fmt.Fprintf(&b, "vigil: default timing (lease %v), advert_int 1 s, gratuitous ARP refresh 1 s. keepalived: VRRP, priorities 100/99/98, advert_int %s s.\n\n", config.DefaultLease, advert)
	fmt.Fprintf(&b, "A run fails only on two directors answering ARP for the VIP in one round, an acknowledged configuration change lost, "+
		"or the VIP not served within %v of healing. Two directors advertising VRID %d within one advert interval, "+
		"or sending gratuitous ARPs for the VIP within %v of each other, is evidence, reported, not a failure: "+
		"a killed or paused holder's last advert precedes its successor's first by less than an interval though it no longer answers.\n\n", healBound, vrid, garpWindow)
	cols := []result{v}
	if len(k.outcomes) > 0 {
		cols = append(cols, k)
	}
	row := func(name string, f func(r result) string) {
		fmt.Fprintf(&b, "| %s |", name)
		for _, r := range cols {
			fmt.Fprintf(&b, " %s |", f(r))
		}
		b.WriteString("\n")
	}
	fmt.Fprint(&b, "| |")
	for _, r := range cols {
		fmt.Fprintf(&b, " %s |", r.label)
	}
	fmt.Fprint(&b, "\n|---|")
	for range cols {
		fmt.Fprint(&b, "---|")
	}
	b.WriteString("\n")
	row("schedules run", func(r result) string {
		if r.failed != "" {
			return fmt.Sprintf("%d, FAILED at %s", len(r.outcomes), r.failed)
		}
		return fmt.Sprint(len(r.outcomes))
	})
	row("schedules with two directors answering ARP for the VIP", func(r result) string {
		n := 0
		for _, o := range r.outcomes {
			if len(o.splits) > 0 {
				n++
			}
		}
		return fmt.Sprint(n)
	})
	row("intervals with two directors answering", func(r result) string { return fmt.Sprint(len(allSplits(r))) })
	row("total time two directors answered", func(r result) string {
		var sum time.Duration
		for _, s := range allSplits(r) {
			sum += s.Duration()
		}
		return secs(sum)
	})
	row("longest interval", func(r result) string {
		var m time.Duration
		for _, s := range allSplits(r) {
			m = max(m, s.Duration())
		}
		return secs(m)
	})
	overlapRows(row, fmt.Sprintf("two directors advertising VRID %d within one advert interval", vrid), func(o outcome) []topo.Overlap { return o.masters })
	overlapRows(row, fmt.Sprintf("gratuitous ARPs for the VIP from two directors within %v", garpWindow), func(o outcome) []topo.Overlap { return o.garps })
	row("frames recorded: VRRP adverts, gratuitous ARPs, ARP replies", func(r result) string {
		var a, g, rp int
		for _, o := range r.outcomes {
			a, g, rp = a+o.adverts, g+o.garpN, rp+o.replies
		}
		return fmt.Sprintf("%d, %d, %d", a, g, rp)
	})
	row("the directors' LAN MACs (the client's record names them)", func(r result) string {
		var parts []string
		for mac, n := range r.macs {
			parts = append(parts, n+" "+mac)
		}
		slices.Sort(parts)
		return strings.Join(parts, ", ")
	})
	row("VIP served after healing: median, worst", func(r result) string {
		var d []time.Duration
		for _, o := range r.outcomes {
			if o.served >= 0 {
				d = append(d, o.served)
			}
		}
		if len(d) == 0 {
			return "–"
		}
		slices.Sort(d)
		return secs(d[len(d)/2]) + ", " + secs(d[len(d)-1])
	})
	row(fmt.Sprintf("not served within %v of healing", healBound), func(r result) string {
		n := 0
		for _, o := range r.outcomes {
			if o.served < 0 {
				n++
			}
		}
		return fmt.Sprint(n)
	})
	row("configuration changes acknowledged / tried; lost", func(r result) string {
		if r.label != "vigil" {
			return "n/a (no replicated configuration)"
		}
		tried, acked := 0, 0
		for _, o := range r.outcomes {
			tried, acked = tried+o.tried, acked+o.acked
		}
		lost := "0"
		if strings.Contains(r.failed, "configuration change") {
			lost = "LOST (see the failure)"
		}
		return fmt.Sprintf("%d / %d; %s", acked, tried, lost)
	})
	row("drains, transfers acknowledged / tried", func(r result) string {
		if r.label != "vigil" {
			return "n/a"
		}
		return fmt.Sprintf("%d / %d, %d / %d", r.drains[1], r.drains[0], r.transfers[1], r.transfers[0])
	})

	fmt.Fprintf(&b, "\n## Schedules\n\n| # | seed | steps (fault, then the wait before the next) | %s |\n|---|---|---|", strings.Join(labels(cols), " | "))
	for range cols {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for i, s := range scheds {
		fmt.Fprintf(&b, "| %d | %d | %s |", i+1, s.seed, s)
		for _, r := range cols {
			if i >= len(r.outcomes) {
				b.WriteString(" not run |")
				continue
			}
			o := r.outcomes[i]
			served := "not served within " + healBound.String()
			if o.served >= 0 {
				served = "served by " + o.by + " after " + secs(o.served)
			}
			fmt.Fprintf(&b, " %s; two answering: %s; two advertising: %s; gratuitous ARPs from two: %s; the client's record: %s |",
				served, describe(o.splits), describe(o.masters), describe(o.garps), describeAnswers(o.answers, o.start))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func labels(rs []result) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.label)
	}
	return out
}

func allSplits(r result) []topo.Split {
	var out []topo.Split
	for _, o := range r.outcomes {
		out = append(out, o.splits...)
	}
	return out
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// overlapRows adds the summary rows of one kind of overlap: in how many
// schedules, how many intervals, their total and longest duration.
func overlapRows(row func(string, func(result) string), what string, of func(outcome) []topo.Overlap) {
	row("schedules with "+what, func(r result) string {
		n := 0
		for _, o := range r.outcomes {
			if len(of(o)) > 0 {
				n++
			}
		}
		return fmt.Sprint(n)
	})
	row("intervals of "+what+": count, total, longest", func(r result) string {
		var n int
		var sum, longest time.Duration
		for _, o := range r.outcomes {
			for _, ov := range of(o) {
				n, sum, longest = n+1, sum+ov.Duration(), max(longest, ov.Duration())
			}
		}
		return fmt.Sprintf("%d, %s, %s", n, secs(sum), secs(longest))
	})
}
