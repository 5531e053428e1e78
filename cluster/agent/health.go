package agent

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"time"

	"vigil/cluster"
	"vigil/config"
	"vigil/health"
	"vigil/lvs"
)

// HealthServer is one real server that every director checks. Its
// verdict is agreed through the log: each director reports its own
// transitions, and the committed state follows health_quorum.
type HealthServer struct {
	Real   lvs.RealID
	Spec   health.ServerSpec
	Checks []health.CheckSpec
	Alpha  bool
}

// ID is the server's key in the replicated state and the health driver.
func (h HealthServer) ID() string { return RealKey(h.Real) }

// RealKey renders a RealID as the replicated state's key: "VS/ADDR:PORT".
func RealKey(r lvs.RealID) string { return r.VS + "/" + r.Real.String() }

// HealthServers derives the checked real servers from the virtual servers:
// every real server with at least one checker (one without is always up,
// as in keepalived).
func HealthServers(c *config.Config, vss []lvs.VirtualServer) ([]HealthServer, error) {
	var out []HealthServer
	for i, v := range c.VirtualServers {
		vs := vss[i]
		for _, r := range v.RealServers {
			if len(r.Checkers) == 0 {
				continue
			}
			port := uint16(r.Port)
			if port == 0 {
				port = vs.Port
			}
			hs := HealthServer{Real: lvs.RealID{VS: vs.Name, Real: netip.AddrPortFrom(r.Address, port)}, Alpha: v.Alpha || r.Alpha}
			hs.Spec = health.ServerSpec{ID: health.ServerID(hs.ID()), Weight: r.Weight, InhibitOnFailure: r.InhibitOnFailure, Omega: v.Omega}
			if r.NotifyUp != nil {
				hs.Spec.NotifyUp = r.NotifyUp.Command
			}
			if r.NotifyDown != nil {
				hs.Spec.NotifyDown = r.NotifyDown.Command
			}
			for _, ch := range r.Checkers {
				cs, err := checkSpec(c, ch, netip.AddrPortFrom(r.Address, port))
				if err != nil {
					return nil, fmt.Errorf("agent: virtual_server %s real_server %s: %w", vs.Name, hs.Real.Real, err)
				}
				hs.Checks = append(hs.Checks, cs)
			}
			out = append(out, hs)
		}
	}
	return out, nil
}

func checkSpec(c *config.Config, ch *config.Checker, target netip.AddrPort) (health.CheckSpec, error) {
	kind, err := health.ParseKind(ch.Type)
	if err != nil {
		return health.CheckSpec{}, err
	}
	retry, warmup := ch.Retry, time.Duration(ch.Warmup)
	cs := health.CheckSpec{
		Kind: kind, Target: target,
		ConnectIP: ch.ConnectIP, ConnectPort: uint16(ch.ConnectPort),
		BindTo: ch.BindTo, BindPort: uint16(ch.BindPort), FWMark: ch.Fwmark,
		ConnectTimeout:   time.Duration(ch.ConnectTimeout),
		Retry:            &retry,
		DelayBeforeRetry: time.Duration(ch.DelayBeforeRetry),
		DelayLoop:        time.Duration(ch.DelayLoop),
		Warmup:           &warmup,
		Alpha:            ch.Alpha,
		ScriptSecurity:   c.Global.EnableScriptSecurity,
	}
	if h := ch.HTTP; h != nil {
		cs.HTTPProtocol, cs.VirtualHost, cs.EnableSNI = h.HTTPProtocol, h.Virtualhost, h.EnableSNI
		for _, u := range h.URLs {
			us := health.URLSpec{Path: u.Path, Digest: u.Digest, Regex: u.Regex, RegexNoMatch: u.RegexNoMatch, VirtualHost: u.Virtualhost}
			for _, r := range u.StatusCodes {
				us.StatusCodes = append(us.StatusCodes, health.CodeSpan{Lo: r.From, Hi: r.To})
			}
			cs.URLs = append(cs.URLs, us)
		}
		if ssl := c.SSL; ssl != nil && h.TLS {
			cs.CAFile, cs.CertFile, cs.KeyFile = ssl.CA, ssl.Certificate, ssl.Key
		}
	}
	if s := ch.SMTP; s != nil {
		cs.HeloName = s.HeloName
	}
	if d := ch.DNS; d != nil {
		cs.DNSType, cs.DNSName = d.Type, d.Name
	}
	if m := ch.Misc; m != nil {
		cs.MiscPath, cs.MiscTimeout, cs.MiscDynamic, cs.User, cs.Group = m.Path, time.Duration(m.Timeout), m.Dynamic, m.User, m.Group
	}
	if u := ch.UDP; u != nil {
		cs.RequireReply, cs.ReplyPattern = u.RequireReply, u.ReplyData
		cs.MinReplyLen, cs.MaxReplyLen = u.MinReplyLength, u.MaxReplyLength
		if u.Payload != "" {
			if cs.UDPPayload, err = health.ParseHex(u.Payload); err != nil {
				return cs, fmt.Errorf("UDP_CHECK payload: %w", err)
			}
		}
	}
	return cs, nil
}

// Verdicts folds the replicated reports into the load balancer's health
// under quorum q: every director computes the same from the same state.
// Every configured node counts as live (a dead director's last report
// stands until it reports again), so majority means a majority of the
// cluster. prev is the previous result (a server the rule cannot decide
// keeps it); servers never reported keep their initial state.
func Verdicts(q health.Quorum, st *cluster.State, servers []HealthServer, nodes []string, leader string, prev map[string]bool) map[string]bool {
	out := make(map[string]bool, len(servers))
	for _, s := range servers {
		id := s.ID()
		cur, ok := prev[id]
		if !ok {
			cur = !s.Alpha
		}
		out[id] = health.Verdict(q, cur, st.Health[id], nodes, leader)
	}
	return out
}

// Weights folds the replicated reports into each checked server's agreed
// weight under quorum q (health.AgreedWeight): a director whose last
// report has the server up gives its misc_dynamic weight, or the
// configured one. Like Verdicts, every director computes the same from the
// same state; prev is the previous result (a server the rule cannot
// decide keeps it), the configured weight before any.
func Weights(q health.Quorum, st *cluster.State, servers []HealthServer, nodes []string, leader string, prev map[string]int) map[string]int {
	out := make(map[string]int, len(servers))
	for _, s := range servers {
		id := s.ID()
		cur, ok := prev[id]
		if !ok {
			cur = s.Spec.Weight
		}
		ws := map[string]int{}
		for n, up := range st.Health[id] {
			if !up {
				continue
			}
			w, dyn := st.Weights[id][n]
			if !dyn {
				w = s.Spec.Weight
			}
			ws[n] = w
		}
		out[id] = health.AgreedWeight(q, cur, ws, nodes, leader)
	}
	return out
}

// lvsHealth is the load balancer's view of the agreed verdicts and
// weights (a weight only where it differs from the configured one).
func lvsHealth(servers []HealthServer, up map[string]bool, weight map[string]int) lvs.Health {
	h := lvs.Health{Up: map[lvs.RealID]bool{}, Weight: map[lvs.RealID]int{}}
	for _, s := range servers {
		h.Up[s.Real] = up[s.ID()]
		if w, ok := weight[s.ID()]; ok && w != s.Spec.Weight {
			h.Weight[s.Real] = w
		}
	}
	return h
}

// healthReport is a transition of this node's checkers for one server:
// up, and the weight they give it (the configured one, or a misc_dynamic
// script's; meaningful while up).
type healthReport struct {
	server string
	up     bool
	weight int
}

// ReportHealth hands this node's checker transition for a real server to
// the loop, which writes it to the log (and again until committed). Safe
// from any goroutine.
func (a *Agent) ReportHealth(server string, up bool, weight int) {
	select {
	case a.healthIn <- healthReport{server, up, weight}:
	default:
		a.log.Warn("health report queue full; the next transition or sweep resends", "server", server)
	}
}

// healthCommand is the log entry of this node's report r on server id: a
// weight other than the configured one goes with it as misc_dynamic's.
func (a *Agent) healthCommand(id string, r healthReport) cluster.Command {
	c := cluster.Command{Op: cluster.OpHealth, Node: a.cfg.Node, Server: id, Up: r.up}
	if w, ok := a.cfgWeight[id]; ok && r.up && r.weight != w {
		c.Dynamic, c.Weight = true, r.weight
	}
	return c
}

// proposeHealth writes every report of this node that the committed state
// lacks, at most once per Retry per server.
func (a *Agent) proposeHealth(ctx context.Context, now time.Time, st *cluster.State) {
	for id, r := range a.myHealth {
		c := a.healthCommand(id, r)
		w, dyn := st.Weights[id][a.cfg.Node]
		if up, ok := st.Health[id][a.cfg.Node]; ok && up == c.Up && dyn == c.Dynamic && w == c.Weight {
			continue
		}
		if now.Sub(a.proposedH[id]) < a.cfg.Timing.Retry {
			continue
		}
		a.proposedH[id] = now
		a.propose(ctx, c)
	}
}

// committedHealth recomputes the agreed verdicts and weights from a
// committed state, hands a change to OnVerdicts, and resends reports not
// yet committed.
func (a *Agent) committedHealth(ctx context.Context, now time.Time, st *cluster.State) {
	servers := a.healthServers()
	if len(servers) == 0 && len(a.verdicts) == 0 {
		return
	}
	nodes := a.peers.names()
	v := Verdicts(a.cfg.HealthQuorum, st, servers, nodes, a.leader(), a.verdicts)
	w := Weights(a.cfg.HealthQuorum, st, servers, nodes, a.leader(), a.weights)
	if !maps.Equal(v, a.verdicts) || !maps.Equal(w, a.weights) {
		for id, up := range v {
			if prev, ok := a.verdicts[id]; !ok || prev != up {
				a.log.Info("real server verdict", "server", id, "up", up)
			}
			if prev, ok := a.weights[id]; ok && prev != w[id] {
				a.log.Info("real server weight", "server", id, "weight", w[id])
			}
		}
		a.mu.Lock()
		a.verdicts = v
		a.mu.Unlock()
		a.weights = w
		if a.cfg.OnVerdicts != nil {
			a.cfg.OnVerdicts(lvsHealth(servers, v, w))
		}
	}
	a.proposeHealth(ctx, now, st)
}

// Verdicts returns the agreed verdicts (server key → up). Safe from any
// goroutine.
func (a *Agent) Verdicts() map[string]bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.verdicts)
}

// healthServers returns the checked real servers now. Safe from any
// goroutine.
func (a *Agent) healthServers() []HealthServer {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.health
}

// SetHealthServers replaces the checked real servers (a new configuration)
// and recomputes the verdicts at the next commit. Reports of servers no
// longer configured are dropped from this node's own.
func (a *Agent) SetHealthServers(servers []HealthServer) {
	a.mu.Lock()
	a.health = servers
	a.mu.Unlock()
	a.cfgWeight = configuredWeights(servers)
	for id := range a.myHealth {
		if _, ok := a.cfgWeight[id]; !ok {
			delete(a.myHealth, id)
		}
	}
}

// configuredWeights maps each checked server to its configured weight.
func configuredWeights(servers []HealthServer) map[string]int {
	m := make(map[string]int, len(servers))
	for _, s := range servers {
		m[s.ID()] = s.Spec.Weight
	}
	return m
}
