package agent

import (
	"context"
	"fmt"
	"time"

	"vigil/cluster"
	"vigil/config"
	"vigil/health"
)

// Trackers are this node's keepalived trackers (vrrp_script + track_script,
// track_file, track_interface), as the node's view of its instances names
// them. Their combined effect is the node's report in the log: a weight
// added to its configured priority, and a fault (not eligible) while a
// weight-0 tracker fails.
//
// keepalived applies trackers per instance; the replicated NodeReport is
// per node, so every tracker of every instance counts once for the node
// (the first instance naming a tracker sets its weight). With one VIP
// group per cluster, the common case, that is keepalived's behaviour.
type Trackers struct {
	Scripts []health.ScriptTrackerSpec
	Files   []health.FileTrackerSpec
	Links   []health.LinkTrack
}

// Empty reports whether there is nothing to track.
func (t Trackers) Empty() bool { return len(t.Scripts)+len(t.Files)+len(t.Links) == 0 }

// trackersFromConfig gathers the trackers of node's view of the instances.
func trackersFromConfig(c, mine *config.Config) (Trackers, error) {
	var t Trackers
	seen := map[string]bool{}
	for _, i := range mine.Instances {
		for _, tr := range i.TrackScripts {
			if seen["script "+tr.Name] {
				continue
			}
			seen["script "+tr.Name] = true
			s := c.Script(tr.Name)
			if s == nil {
				return t, fmt.Errorf("agent: instance %s: track_script %s: no such vrrp_script", i.Name, tr.Name)
			}
			w := s.Weight
			if tr.WeightSet {
				w = tr.Weight
			}
			user := s.User
			if user == "" {
				user = c.Global.ScriptUser
			}
			t.Scripts = append(t.Scripts, health.ScriptTrackerSpec{
				Name:     s.Name,
				Script:   health.ScriptSpec{Command: s.Script, User: user, Group: s.Group, Security: c.Global.EnableScriptSecurity},
				Interval: time.Duration(s.Interval), Timeout: time.Duration(s.Timeout),
				Weight: w, Reverse: s.Reverse != tr.Reverse, Rise: s.Rise, Fall: s.Fall, InitFail: s.InitFail,
			})
		}
		for _, tr := range i.TrackFiles {
			if seen["file "+tr.Name] {
				continue
			}
			seen["file "+tr.Name] = true
			f := c.TrackFile(tr.Name)
			if f == nil {
				return t, fmt.Errorf("agent: instance %s: track_file %s: no such track_file", i.Name, tr.Name)
			}
			w := f.Weight
			if tr.WeightSet {
				w = tr.Weight
			}
			t.Files = append(t.Files, health.FileTrackerSpec{Name: f.Name, Path: f.File, Weight: &w, Reverse: f.Reverse != tr.Reverse})
		}
		for _, tr := range i.TrackInterfaces {
			if seen["link "+tr.Name] {
				continue
			}
			seen["link "+tr.Name] = true
			t.Links = append(t.Links, health.LinkTrack{Name: tr.Name, Weight: tr.Weight, Reverse: tr.Reverse})
		}
	}
	return t, nil
}

type trackReport struct{ st health.TrackStatus }

// ReportTrack hands a tracker's new status to the loop. Safe from any
// goroutine; a full queue drops it (the tracker reports again on change).
func (a *Agent) ReportTrack(st health.TrackStatus) {
	select {
	case a.trackIn <- trackReport{st}:
	default:
		a.log.Warn("tracker queue full", "tracker", st.Name)
	}
}

// myReport is this node's weight and fault from its trackers now: the sum
// of their deltas (the core adds it to each configured priority and keeps
// the result within 1..254, as keepalived does) and whether any faults.
func (a *Agent) myReport() (weight int, fault bool) {
	for _, s := range a.tracks {
		weight += s.Delta
		fault = fault || s.Fault
	}
	return weight, fault
}

// proposeReport writes this node's tracker report when the committed one
// differs, at most once per Retry.
func (a *Agent) proposeReport(ctx context.Context, now time.Time, st *cluster.State) {
	if len(a.tracks) == 0 {
		return
	}
	w, f := a.myReport()
	if r := st.Nodes[a.cfg.Node]; r.Weight == w && r.Fault == f {
		return
	}
	if now.Sub(a.proposedR) < a.cfg.Timing.Retry {
		return
	}
	a.proposedR = now
	a.log.Info("tracker report", "weight", w, "fault", f)
	a.propose(ctx, cluster.Command{Op: cluster.OpReport, Node: a.cfg.Node, Weight: w, Fault: f})
}
