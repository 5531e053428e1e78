package e2e

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"vigil/test/netns"
	"vigil/test/topo"
)

// The nemesis: random fault schedules, from a seed, against the three real
// vigil agents on two links, then the very same schedules against three
// keepalived nodes on the same topology. An ARP observer on the client
// records every round in which two directors answer for the VIP: for vigil
// that fails the run, for keepalived it is counted and reported side by
// side. vigil's run also fails when an acknowledged configuration change
// is lost, or the VIP is not served within healBound of healing. `make
// test` runs a short slice; `make nemesis N=200` the long one, with the
// report.
var (
	nemesisN = flag.Int("nemesis.n", 20, "fault schedules to run")
	// A fixed seed by default, so make test runs the same schedules every
	// time; make nemesis draws a new one (0: from the clock).
	nemesisSeed       = flag.Uint64("nemesis.seed", 1, "seed of the first schedule (0: from the clock); printed to reproduce")
	nemesisKeepalived = flag.Bool("nemesis.keepalived", true, "run the same schedules against three keepalived nodes and report side by side")
	nemesisAdvert     = flag.String("nemesis.advert", "1", "keepalived's advert_int in seconds (VRRPv3 below 1, else VRRPv2)")
	nemesisReport     = flag.String("nemesis.report", "", "write the side-by-side report as Markdown to this `FILE`")
)

// healBound: from healing to the VIP served again (election, the lease
// wait, a restarted agent rejoining), and to every acknowledged
// configuration change applied everywhere.
const healBound = 10 * time.Second

var names3 = topo.Names

// stamp is how the nemesis prints times, as the agents' logs do (UTC).
const stamp = "15:04:05.000Z07:00"

// nemesisBaseVS is the virtual server the nemesis's cluster starts with;
// its configuration changes add more (configLog).
const nemesisBaseVS = `virtual_server 10.99.49.100 80 {
    lvs_sched mh
    lvs_method NAT
    protocol TCP
    real_server 192.168.99.60 80 {
        weight 1
    }
}
`

// outcome is what one schedule did to one system.
type outcome struct {
	start        time.Time
	healed       time.Time
	served       time.Duration // from healing until the VIP answered; < 0: not within healBound
	by           string        // who answered
	splits       []topo.Split  // two directors answering ARP, from this schedule's start to the next's
	tried, acked int           // vigil's configuration changes during the schedule
}

// result is one system's run of the schedules.
type result struct {
	label    string
	outcomes []outcome
	failed   string // why the run stopped early (vigil: the schedule that failed)
	// vigil's drains and transfers: tried, acknowledged
	drains, transfers [2]int
}

// TestNemesis runs the schedules one after another on one cluster of
// vigil agents, then on one of keepalived nodes, and reports both.
func TestNemesis(t *testing.T) {
	seed := *nemesisSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	scheds := make([]schedule, *nemesisN)
	for i := range scheds {
		scheds[i] = newSchedule(seed + uint64(i))
	}
	vr, kr := result{label: "vigil"}, result{label: "keepalived"}
	t.Run("vigil", func(t *testing.T) { nemesisVigil(t, scheds, &vr) })
	if *nemesisKeepalived {
		t.Run("keepalived", func(t *testing.T) { nemesisKeepalivedRun(t, scheds, &kr) })
	}
	rep := report(seed, scheds, vr, kr, *nemesisAdvert)
	t.Log("\n" + rep)
	if *nemesisReport != "" {
		if err := os.WriteFile(*nemesisReport, []byte(rep), 0o644); err != nil {
			t.Error(err)
		}
	}
}

func nemesisVigil(t *testing.T, scheds []schedule, res *result) {
	// A virtual server from the start: adding the first one is not live.
	c := newCluster3With(t, nemesisBaseVS)
	for _, n := range names3 {
		c.start(n)
	}
	tg := &target{label: "vigil", t: t, th: c.th, d: c.vigil, vigil: c, ops: newOpQueue(t)}
	var err error
	if tg.config, err = newConfigLog(c.th, c.conf, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	tg.obs = c.watchARP() // fails the test on any round two directors answer
	c.waitAnswer(20*time.Second, func(string) bool { return true })
	defer tg.attributeSplits(res)
	defer func() {
		res.drains[0], res.drains[1] = tg.stats.get(drain)
		res.transfers[0], res.transfers[1] = tg.stats.get(transfer)
	}()
	for i, s := range scheds {
		tried0, acked0 := tg.config.counts()
		o := tg.play(s)
		res.outcomes = append(res.outcomes, o)
		replay := func(why string) {
			res.failed = fmt.Sprintf("schedule %d (seed %d): %s", i+1, s.seed, why)
			// The agents' logs follow (newCluster3's cleanup prints them).
			t.Fatalf("schedule %d (seed %d; -nemesis.seed=%d -nemesis.n=%d replays the run up to it, -nemesis.n=1 it alone): %s\nschedule (started %s, healed %s): %s",
				i+1, s.seed, scheds[0].seed, i+1, why, o.start.UTC().Format(stamp), o.healed.UTC().Format(stamp), s)
		}
		if o.served < 0 {
			replay("the VIP was not served within " + healBound.String() + " of healing")
		}
		tg.ops.wait()
		if err := tg.config.check(healBound); err != nil {
			replay("an acknowledged configuration change was lost, or not applied everywhere within " + healBound.String() + " of healing:\n" + err.Error())
		}
		tried, acked := tg.config.counts()
		o.tried, o.acked = tried-tried0, acked-acked0
		res.outcomes[i] = o
		t.Logf("schedule %d (seed %d): %s: served by %s %v after healing; config changes acknowledged %d/%d",
			i+1, s.seed, s, o.by, o.served.Round(time.Millisecond), o.acked, o.tried)
		if nacks := tg.config.nacked(tried0 - acked0); len(nacks) > 0 {
			t.Logf("  not acknowledged: %s", strings.Join(nacks, "; "))
			if n := strings.Join(nacks, ""); strings.Contains(n, "400 Bad Request") {
				replay("vigil refused a configuration change as invalid: the nemesis's change is wrong")
			}
		}
		if t.Failed() {
			replay("two directors answered ARP for the VIP (see above)")
		}
	}
	// The checker is not vacuous: a change recorded as acknowledged that
	// was never applied is reported lost.
	tried, acked := tg.config.counts()
	tg.config.mu.Lock()
	tg.config.acked = append(tg.config.acked, ack{k: tried + 1, via: "nobody"})
	tg.config.mu.Unlock()
	if err := tg.config.check(0); err == nil || !strings.Contains(err.Error(), "change "+fmt.Sprint(tried+1)+" ") {
		t.Errorf("the checker missed a change acknowledged but never applied: %v", err)
	}
	t.Logf("%d schedules: never two directors answering one ARP request (%d observer rounds); every one of %d acknowledged configuration changes applied on every director",
		len(scheds), tg.obs.Rounds(), acked)
}

func nemesisKeepalivedRun(t *testing.T, scheds []schedule, res *result) {
	th := topo.New(t, netns.New(t), subnets)
	version := 2
	if d, err := time.ParseDuration(*nemesisAdvert + "s"); err == nil && d < time.Second {
		version = 3
	}
	d, err := topo.Keepalived(th, t.TempDir(), version, *nemesisAdvert)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names3 {
		d.Start(n)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("keepalived logs:\n%s", d.Dump(3000))
		}
	})
	obs, err := topo.Observe(th, 50*time.Millisecond, nil) // splits are counted, not failures
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(obs.Close)
	tg := &target{label: "keepalived", t: t, th: th, d: d, obs: obs}
	if _, _, err := th.WaitAnswer(20*time.Second, 50*time.Millisecond, 300*time.Millisecond, func(string) bool { return true }); err != nil {
		t.Fatalf("keepalived: %v\n%s", err, d.Dump(3000))
	}
	defer tg.attributeSplits(res)
	for i, s := range scheds {
		o := tg.play(s)
		res.outcomes = append(res.outcomes, o)
		if o.served < 0 {
			// Start the next schedule from a served VIP, as vigil's does.
			_, _, _ = th.WaitAnswer(30*time.Second, 50*time.Millisecond, 300*time.Millisecond, func(string) bool { return true })
		}
		t.Logf("schedule %d (seed %d): %s: served by %q %v after healing; two directors answered %s",
			i+1, s.seed, s, o.by, o.served.Round(time.Millisecond), describeSplits(tg.obs.Splits(o.start)))
	}
}

// play runs a schedule's steps, heals them all (the last first), and
// measures how soon the VIP is served again.
func (tg *target) play(s schedule) outcome {
	o := outcome{start: time.Now(), served: -1}
	var heals []func()
	for _, st := range s.steps {
		heals = append(heals, tg.do(st))
		time.Sleep(st.after)
	}
	for i := len(heals) - 1; i >= 0; i-- {
		heals[i]()
	}
	healed := time.Now()
	o.healed = healed
	for time.Since(healed) < healBound {
		if got := tg.th.Ask(300 * time.Millisecond); got != "" {
			o.served, o.by = time.Since(healed), got
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return o
}

// attributeSplits gives every split the observer saw to the schedule
// during which (up to the next one's start) it began.
func (tg *target) attributeSplits(res *result) {
	for _, sp := range tg.obs.Splits(time.Time{}) {
		for i := len(res.outcomes) - 1; i >= 0; i-- {
			if !sp.From.Before(res.outcomes[i].start) {
				res.outcomes[i].splits = append(res.outcomes[i].splits, sp)
				break
			}
		}
	}
}
