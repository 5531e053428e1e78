package agent

import (
	"context"
	"fmt"
	"time"

	"vigil/cluster"
	"vigil/config"
	"vigil/health"
)

// Trackers are this node's keepalived trackers (vrrp_script, track_file,
// track_interface) and what each instance makes of them. As in keepalived,
// each tracked object runs once whatever references it, and each
// reference (track_script { NAME weight W } in a vrrp_instance or in the
// vrrp_sync_group it belongs to) applies its own weight and reverse to the
// object's state, for that instance only. The result is the node's report
// in the log per instance: a weight added to its configured priority for
// the instance, and a fault (not eligible for it) while a weight-0
// reference fails.
type Trackers struct {
	// Scripts, Files and Links are the tracked objects, each once. Their
	// trackers report the raw state (a script passes, a file's number, an
	// interface is up): the weights are the references'.
	Scripts []health.ScriptTrackerSpec
	Files   []health.FileTrackerSpec
	Links   []health.LinkTrack
	// Refs are each instance's references: its own, then its sync group's.
	Refs map[string][]TrackRef
	// Groups are the sync groups (of more than one instance): as in
	// keepalived, a fault of one member is a fault of every member.
	Groups [][]string
}

// TrackKind tells the kinds of tracked object apart (their names may
// coincide).
type TrackKind uint8

// The kinds of tracked object.
const (
	TrackScript TrackKind = iota + 1 // vrrp_script
	TrackFile                        // track_file
	TrackLink                        // track_interface
)

// TrackRef is one reference to a tracked object, with its weight (the
// reference's own, or the object's default) and reverse.
type TrackRef struct {
	Kind    TrackKind
	Name    string
	Weight  int
	Reverse bool
}

type trackKey struct {
	kind TrackKind
	name string
}

func (t Trackers) count() int { return len(t.Scripts) + len(t.Files) + len(t.Links) }

// reports computes each instance's report from the latest status of each
// tracked object (an object not yet reported counts for nothing). Only
// instances with something to report have an entry. It is a pure
// function.
func (t Trackers) reports(st map[trackKey]health.TrackStatus) map[string]cluster.InstanceReport {
	out := map[string]cluster.InstanceReport{}
	for inst, refs := range t.Refs {
		var r cluster.InstanceReport
		for _, ref := range refs {
			s, ok := st[trackKey{ref.Kind, ref.Name}]
			if !ok {
				continue
			}
			var d health.TrackStatus
			if ref.Kind == TrackFile {
				d = health.FileDelta(s.Value, ref.Weight, ref.Reverse)
			} else {
				d.Delta, d.Fault = health.TrackDelta(s.OK, ref.Weight, ref.Reverse)
			}
			r.Weight += d.Delta
			r.Fault = r.Fault || d.Fault
		}
		if r != (cluster.InstanceReport{}) {
			out[inst] = r
		}
	}
	for _, g := range t.Groups {
		fault := false
		for _, m := range g {
			fault = fault || out[m].Fault
		}
		for _, m := range g {
			if r := out[m]; fault && !r.Fault {
				r.Fault = true
				out[m] = r
			}
		}
	}
	return out
}

// trackersFromConfig gathers the trackers of node's view of the instances
// (mine) and of the sync groups they belong to, defined in c.
func trackersFromConfig(c, mine *config.Config) (Trackers, error) {
	t := Trackers{Refs: map[string][]TrackRef{}}
	seen := map[trackKey]bool{}
	refs := func(owner string, scripts, files, links []config.Track) ([]TrackRef, error) {
		var out []TrackRef
		for _, tr := range scripts {
			s := c.Script(tr.Name)
			if s == nil {
				return nil, fmt.Errorf("agent: %s: track_script %s: no such vrrp_script", owner, tr.Name)
			}
			ref := TrackRef{Kind: TrackScript, Name: s.Name, Weight: s.Weight, Reverse: s.Reverse != tr.Reverse}
			if tr.WeightSet {
				ref.Weight = tr.Weight
			}
			out = append(out, ref)
			if k := (trackKey{TrackScript, s.Name}); !seen[k] {
				seen[k] = true
				user := s.User
				if user == "" {
					user = c.Global.ScriptUser
				}
				t.Scripts = append(t.Scripts, health.ScriptTrackerSpec{
					Name:     s.Name,
					Script:   health.ScriptSpec{Command: s.Script, User: user, Group: s.Group, Security: c.Global.EnableScriptSecurity},
					Interval: time.Duration(s.Interval), Timeout: time.Duration(s.Timeout),
					Rise: s.Rise, Fall: s.Fall, InitFail: s.InitFail,
				})
			}
		}
		for _, tr := range files {
			f := c.TrackFile(tr.Name)
			if f == nil {
				return nil, fmt.Errorf("agent: %s: track_file %s: no such track_file", owner, tr.Name)
			}
			ref := TrackRef{Kind: TrackFile, Name: f.Name, Weight: f.Weight, Reverse: f.Reverse != tr.Reverse}
			if tr.WeightSet {
				ref.Weight = tr.Weight
			}
			out = append(out, ref)
			if k := (trackKey{TrackFile, f.Name}); !seen[k] {
				seen[k] = true
				t.Files = append(t.Files, health.FileTrackerSpec{Name: f.Name, Path: f.File})
			}
		}
		for _, tr := range links {
			out = append(out, TrackRef{Kind: TrackLink, Name: tr.Name, Weight: tr.Weight, Reverse: tr.Reverse})
			if k := (trackKey{TrackLink, tr.Name}); !seen[k] {
				seen[k] = true
				t.Links = append(t.Links, health.LinkTrack{Name: tr.Name})
			}
		}
		return out, nil
	}
	for _, i := range mine.Instances {
		r, err := refs("instance "+i.Name, i.TrackScripts, i.TrackFiles, i.TrackInterfaces)
		if err != nil {
			return t, err
		}
		if len(r) > 0 {
			t.Refs[i.Name] = r
		}
	}
	for _, g := range c.SyncGroups {
		r, err := refs("vrrp_sync_group "+g.Name, g.TrackScripts, g.TrackFiles, g.TrackInterfaces)
		if err != nil {
			return t, err
		}
		for _, m := range g.Group {
			if len(r) > 0 {
				t.Refs[m] = append(t.Refs[m], r...)
			}
		}
		if len(g.Group) > 1 {
			t.Groups = append(t.Groups, g.Group)
		}
	}
	return t, nil
}

type trackReport struct {
	gen uint64
	key trackKey
	st  health.TrackStatus
}

// reportTrack hands a tracked object's new status, from a tracker of
// generation gen, to the loop. Safe from any goroutine; a full queue drops
// it (the tracker reports again on change).
func (a *Agent) reportTrack(gen uint64, kind TrackKind, st health.TrackStatus) {
	select {
	case a.trackIn <- trackReport{gen, trackKey{kind, st.Name}, st}:
	default:
		a.log.Warn("tracker queue full", "tracker", st.Name)
	}
}

// setTrackers replaces the trackers (a live configuration change) and
// returns the new trackers' generation: reports from older ones are
// dropped. Until every new tracker has reported once, the committed
// reports stand, as at start. Call it from the loop.
func (a *Agent) setTrackers(t Trackers) uint64 {
	a.mu.Lock()
	a.cfg.Trackers = t
	a.mu.Unlock()
	a.trackGen++
	a.tracks = map[trackKey]health.TrackStatus{}
	a.reportSettled = false
	return a.trackGen
}

// proposeReport writes this node's tracker report for every instance
// whose committed one differs, at most once per Retry per instance. Until
// every tracked object has reported once the committed reports stand
// (keepalived keeps an instance waiting for its scripts' first results);
// with no trackers at all the reports are the zero ones, which clears what
// an earlier run of this node left in the log.
func (a *Agent) proposeReport(ctx context.Context, now time.Time, st *cluster.State) {
	t := a.cfg.Trackers
	if len(a.tracks) < t.count() {
		return
	}
	want := t.reports(a.tracks)
	settled := true
	for _, spec := range a.instances() {
		w := want[spec.Name]
		if st.Nodes[a.cfg.Node].Instances[spec.Name] == w {
			continue
		}
		settled = false
		if now.Sub(a.proposedR[spec.Name]) < a.cfg.Timing.Retry {
			continue
		}
		a.proposedR[spec.Name] = now
		a.log.Info("tracker report", "instance", spec.Name, "weight", w.Weight, "fault", w.Fault)
		a.propose(ctx, cluster.Command{Op: cluster.OpReport, Node: a.cfg.Node, Instance: spec.Name, Weight: w.Weight, Fault: w.Fault})
	}
	a.reportSettled = settled
}
