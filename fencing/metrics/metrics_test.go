package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"vigil/fencing"
	"vigil/fencing/notify"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("scrape: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestScrape(t *testing.T) {
	m := New()
	m.SetHolder("VI_1", "d2")
	m.SetHolder("VI_1", "d1") // the move removes d2's series
	m.SetEpoch("VI_1", 42)
	m.SetLeaseRemaining("VI_1", 1500*time.Millisecond)
	m.SetHolder("VI_2", "")
	m.SetLeaseRemaining("VI_2", -time.Second)
	m.SetRaft("Leader", 7, 1234, 1230)
	m.SetLink("d2", "lan", true)
	m.SetLink("d2", "hb", false)
	raise := fencing.Action{Op: fencing.Raise, Alert: fencing.Alert{Kind: fencing.KindLinkDegraded}}
	m.ObserveAlert(raise)
	m.ObserveAlert(fencing.Action{Op: fencing.Raise, Alert: fencing.Alert{Kind: fencing.KindRogueAdvert}})
	m.ObserveAlert(fencing.Action{Op: fencing.Clear, Alert: fencing.Alert{Kind: fencing.KindRogueAdvert}})
	m.SetRealServer("tcp 10.0.0.100:80", "10.0.1.1:80", true, 100)
	m.SetRealServer("tcp 10.0.0.100:80", "10.0.1.2:80", false, 0)
	m.AddDatapathOps("nftables", "add_real", 3, nil)
	m.AddDatapathOps("nftables", "add_real", 1, errors.New("EEXIST"))
	m.ObserveFenceAttempt(fencing.FenceOutcome{Err: errors.New("x")})
	m.ObserveFenceAttempt(fencing.FenceOutcome{})
	sf := fencing.NewSelfFence("VI_1", 42, time.Unix(0, 0))
	sf.Mark(fencing.StepVIPReleased, time.Unix(0, 0).Add(2*time.Millisecond))
	sf.Mark(fencing.StepAdvertsStopped, time.Unix(0, 0).Add(3*time.Millisecond))
	m.ObserveSelfFence(sf.Report()) // notify_fault not run yet: not observed
	m.SetNotifyStats(func() []notify.SinkStats {
		return []notify.SinkStats{{Name: "smtp", Sent: 5, Failed: 1, Dropped: 2}}
	})

	out := scrape(t, m)
	for _, want := range []string{
		"# HELP vigil_instance_holder 1 for the director holding the VRRP instance's VIPs, per the replicated state.",
		"# TYPE vigil_instance_holder gauge",
		`vigil_instance_holder{instance="VI_1",node="d1"} 1`,
		"# HELP vigil_instance_epoch Epoch (fencing token: the Raft index that assigned the holder) of the instance's current assignment.",
		`vigil_instance_epoch{instance="VI_1"} 42`,
		"# HELP vigil_lease_remaining_seconds ",
		`vigil_lease_remaining_seconds{instance="VI_1"} 1.5`,
		`vigil_lease_remaining_seconds{instance="VI_2"} 0`,
		"# HELP vigil_raft_state ",
		`vigil_raft_state{state="leader"} 1`,
		`vigil_raft_state{state="follower"} 0`,
		"# HELP vigil_raft_term Current Raft term seen by this director.",
		"vigil_raft_term 7",
		"vigil_raft_commit_index 1234",
		"vigil_raft_applied_index 1230",
		"# HELP vigil_link_up 1 when the heartbeat link to the peer is up, 0 when it is down.",
		`vigil_link_up{link="hb",peer="d2"} 0`,
		`vigil_link_up{link="lan",peer="d2"} 1`,
		"# HELP vigil_alerts_open Split-brain alerts currently open, by kind.",
		`vigil_alerts_open{kind="link_degraded"} 1`,
		`vigil_alerts_open{kind="rogue_advert"} 0`,
		`vigil_alerts_open{kind="config_stale"} 0`,
		"# TYPE vigil_alerts_total counter",
		`vigil_alerts_total{kind="rogue_advert"} 1`,
		`vigil_alerts_total{kind="fence_failed"} 0`,
		`vigil_realserver_up{realserver="10.0.1.1:80",service="tcp 10.0.0.100:80"} 1`,
		`vigil_realserver_up{realserver="10.0.1.2:80",service="tcp 10.0.0.100:80"} 0`,
		`vigil_realserver_weight{realserver="10.0.1.1:80",service="tcp 10.0.0.100:80"} 100`,
		"# HELP vigil_datapath_operations_total ",
		`vigil_datapath_operations_total{datapath="nftables",op="add_real",result="ok"} 3`,
		`vigil_datapath_operations_total{datapath="nftables",op="add_real",result="failed"} 1`,
		`vigil_fence_attempts_total{result="failed"} 1`,
		`vigil_fence_attempts_total{result="ok"} 1`,
		"# HELP vigil_self_fence_seconds Time from lease expiry to each self-fencing step: vip_released, adverts_stopped, notify_fault.",
		"# TYPE vigil_self_fence_seconds histogram",
		`vigil_self_fence_seconds_bucket{step="vip_released",le="0.0025"} 1`,
		`vigil_self_fence_seconds_bucket{step="adverts_stopped",le="0.0025"} 0`,
		`vigil_self_fence_seconds_sum{step="adverts_stopped"} 0.003`,
		`vigil_self_fence_seconds_count{step="vip_released"} 1`,
		"# HELP vigil_notify_dropped_total Notifications dropped because a sink's queue was full (a slow or absent sink), by sink.",
		`vigil_notify_sent_total{sink="smtp"} 5`,
		`vigil_notify_failed_total{sink="smtp"} 1`,
		`vigil_notify_dropped_total{sink="smtp"} 2`,
		"# HELP go_goroutines ",
	} {
		if !hasLine(out, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	for _, absent := range []string{`node="d2"`, `instance="VI_2",node`, `step="notify_fault"`} {
		if strings.Contains(out, absent) {
			t.Errorf("scrape has %q", absent)
		}
	}
	// Every vigil_ family has HELP text.
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "# TYPE vigil_") {
			name := strings.Fields(line)[2]
			if !strings.Contains(out, "# HELP "+name+" ") {
				t.Errorf("%s has no HELP", name)
			}
		}
	}

	m.DeleteInstance("VI_1")
	m.DeleteRealServer("tcp 10.0.0.100:80", "10.0.1.2:80")
	out = scrape(t, m)
	if strings.Contains(out, `instance="VI_1"`) || strings.Contains(out, `realserver="10.0.1.2:80"`) {
		t.Errorf("deleted series still exported")
	}
}

// Two Metrics do not share state: no global registry.
func TestOwnRegistry(t *testing.T) {
	a, b := New(), New()
	a.SetEpoch("VI_1", 1)
	if strings.Contains(scrape(t, b), "vigil_instance_epoch{") {
		t.Fatal("metrics leaked between registries")
	}
}

// hasLine reports whether out has the line want, or a line starting with
// want when want ends in a space (HELP text checked elsewhere).
func hasLine(out, want string) bool {
	for _, l := range strings.Split(out, "\n") {
		if l == want || strings.HasSuffix(want, " ") && strings.HasPrefix(l, want) {
			return true
		}
	}
	return false
}
