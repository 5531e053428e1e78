// Package nemesis is the fault testing of issue 9, in the style of
// Jepsen: random fault schedules, from a seed, against three real vigil
// agents on two links (topo.Three), then the very same schedules against
// three keepalived nodes on the same topology. The client's observer
// (topo.Observer) asks who has the VIP every 50 ms and records every round
// in which two directors answer: for vigil that fails the run, for
// keepalived it is counted and reported side by side. vigil's run also
// fails when an acknowledged configuration change is lost, or the VIP is
// not served within healBound of healing. A recorder tapped into both
// bridges (topo.Recorder) keeps every VRRP advert, gratuitous ARP and ARP
// reply: the report shows from it, for both systems, when two directors
// advertised one VRID, or announced the VIP, at once. That is evidence,
// not failure: a killed holder's last advert legitimately overlaps its
// successor's first. `make test` runs a short slice; `make nemesis N=200`
// the long one, with the report.
package nemesis

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vigil/test/netns"
	"vigil/test/topo"
)

var (
	nemesisN = flag.Int("nemesis.n", 20, "fault schedules to run")
	// A fixed seed by default, so make test runs the same schedules every
	// time; make nemesis draws a new one (0: from the clock).
	nemesisSeed       = flag.Uint64("nemesis.seed", 1, "seed of the first schedule (0: from the clock); printed to reproduce")
	nemesisKeepalived = flag.Bool("nemesis.keepalived", true, "run the same schedules against three keepalived nodes and report side by side")
	nemesisAdvert     = flag.String("nemesis.advert", "1", "keepalived's advert_int in seconds (VRRPv3 below 1, else VRRPv2)")
	nemesisReport     = flag.String("nemesis.report", "", "write the side-by-side report as Markdown to this `FILE`")
	nemesisLogLevel   = flag.String("nemesis.loglevel", "info", "the vigil agents' --log-level")
	nemesisTimeline   = flag.Bool("nemesis.timeline", false, "log every schedule's timeline (the recorded adverts and gratuitous ARPs, the client's record), not only a failing one's")
)

// healBound: from healing to the VIP served again (election, the lease
// wait, a restarted agent rejoining), and to every acknowledged
// configuration change applied everywhere.
const healBound = 10 * time.Second

var names3 = topo.Names

// subnets of the nemesis's topology: directors 10.99.0.11-13 and
// 192.168.99.11-13, the VIP 10.99.0.200.
var subnets = topo.Subnets{LAN: "10.99.0", HB: "192.168.99"}

// stamp is how the nemesis prints times, as the agents' logs do (UTC).
const stamp = "15:04:05.000Z07:00"

// garpWindow: gratuitous ARPs for the VIP from two directors this close
// are reported as two announcing it.
const garpWindow = time.Second

// vigilBin is the vigil binary built once for the package by TestMain.
var vigilBin string

func TestMain(m *testing.M) { os.Exit(topo.RunWithVigil(m, &vigilBin)) }

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
	evidence
}

// result is one system's run of the schedules.
type result struct {
	label    string
	outcomes []outcome
	failed   string            // why the run stopped early (vigil: the schedule that failed)
	macs     map[string]string // the directors' names, by LAN MAC (topo.Three.MACs)
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

// newTarget watches th for a run against d: the client's observer (onSplit
// called for every round two directors answer) and the recorder on the
// bridges, both stopped at t's cleanup; advert is the system's advert
// interval.
func newTarget(t *testing.T, label string, th *topo.Three, d *topo.Daemons, advert time.Duration, onSplit func(time.Time, []string)) *target {
	tg := &target{label: label, t: t, th: th, d: d, advert: advert}
	var err error
	if tg.obs, err = topo.Observe(th, 50*time.Millisecond, onSplit); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tg.obs.Close)
	if tg.rec, err = topo.Record(th); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tg.rec.Close)
	return tg
}

func nemesisVigil(t *testing.T, scheds []schedule, res *result) {
	th := topo.New(t, netns.New(t), subnets)
	dir := t.TempDir()
	conf := filepath.Join(dir, "vigil.conf")
	// A virtual server from the start: adding the first one is not live.
	text := topo.VigilConf(th, "nemesis", "    vrrp_garp_master_delay 1\n    vrrp_garp_master_refresh 1\n", "", nemesisBaseVS)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	d := topo.Vigil(th, vigilBin, conf, dir, *nemesisLogLevel)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent logs:\n%s", d.Dump(0))
		}
	})
	for _, n := range names3 {
		d.Start(n)
	}
	tg := newTarget(t, "vigil", th, d, time.Second, func(at time.Time, who []string) {
		t.Errorf("split brain at %s: %v answer ARP for %s", at.UTC().Format(stamp), who, th.Net.VIP())
	})
	tg.conf, tg.ops = conf, newOpQueue(t)
	var err error
	if tg.config, err = newConfigLog(th, conf, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if res.macs, err = th.MACs(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := th.WaitAnswer(20*time.Second, 50*time.Millisecond, 300*time.Millisecond, func(string) bool { return true }); err != nil {
		t.Fatalf("vigil: %v\n%s", err, d.Dump(3000))
	}
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
			res.outcomes[i].evidence = tg.evidence(o.start)
			// The agents' logs follow (the cleanup above prints them).
			t.Fatalf("schedule %d (seed %d; -nemesis.seed=%d -nemesis.n=%d replays the run up to it, -nemesis.n=1 it alone): %s\nschedule (started %s, healed %s): %s\n%s\nthe directors' status now:\n%s",
				i+1, s.seed, scheds[0].seed, i+1, why, o.start.UTC().Format(stamp), o.healed.UTC().Format(stamp), s, tg.timeline(o.start), tg.status())
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
		o.evidence = tg.evidence(o.start)
		res.outcomes[i] = o
		t.Logf("schedule %d (seed %d): %s: served by %s %v after healing; config changes acknowledged %d/%d; %s",
			i+1, s.seed, s, o.by, o.served.Round(time.Millisecond), o.acked, o.tried, o.evidence)
		if *nemesisTimeline {
			t.Log(tg.timeline(o.start))
		}
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
	advert, err := time.ParseDuration(*nemesisAdvert + "s")
	if err != nil {
		t.Fatalf("-nemesis.advert %q: %v", *nemesisAdvert, err)
	}
	version := 2
	if advert < time.Second {
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
	tg := newTarget(t, "keepalived", th, d, advert, nil) // splits are counted, not failures
	if res.macs, err = th.MACs(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := th.WaitAnswer(20*time.Second, 50*time.Millisecond, 300*time.Millisecond, func(string) bool { return true }); err != nil {
		t.Fatalf("keepalived: %v\n%s", err, d.Dump(3000))
	}
	defer tg.attributeSplits(res)
	for i, s := range scheds {
		o := tg.play(s)
		if o.served < 0 {
			// Start the next schedule from a served VIP, as vigil's does.
			_, _, _ = th.WaitAnswer(30*time.Second, 50*time.Millisecond, 300*time.Millisecond, func(string) bool { return true })
		}
		o.evidence = tg.evidence(o.start)
		res.outcomes = append(res.outcomes, o)
		t.Logf("schedule %d (seed %d): %s: served by %q %v after healing; two directors answered %s; %s",
			i+1, s.seed, s, o.by, o.served.Round(time.Millisecond), describe(tg.obs.Splits(o.start)), o.evidence)
		if *nemesisTimeline {
			t.Log(tg.timeline(o.start))
		}
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
