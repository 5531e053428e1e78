package agent

import (
	"fmt"
	"net/netip"
	"reflect"
	"time"

	"vigil/cluster"
	"vigil/config"
	"vigil/health"
)

// validateConfig checks a configuration before it is written to the log:
// it parses, passes Check, keeps this cluster's identity, and differs from
// the running one only in what applies live.
func (d *Director) validateConfig(text string) error {
	c, _, err := config.Parse("posted configuration", []byte(text))
	if err != nil {
		return err
	}
	if errs := Check(c); len(errs) > 0 {
		return config.ErrorList(errs)
	}
	d.mu.Lock()
	cur := d.setup
	d.mu.Unlock()
	if diff := IdentityDiff(cur.Config, c); diff != "" {
		return fmt.Errorf("%w: the posted one has %s", ErrIdentity, diff)
	}
	next, err := FromConfig(c, cur.Agent.Node)
	if err != nil {
		return err
	}
	if err := d.Agent.leavingVoters(next.Agent.Peers); err != nil {
		return err
	}
	return liveChange(cur, next)
}

// applyConfig applies a committed cluster configuration to this running
// director: the load-balancer services and the checked real servers
// change live (only what differs is touched); a different cluster block
// is refused with ErrIdentity; a changed vrrp_instance or tracker, which
// the ownership core cannot take live yet, with ErrNotLive.
func (d *Director) applyConfig(text string) error {
	c, _, err := config.Parse("cluster configuration", []byte(text))
	if err != nil {
		return fmt.Errorf("the cluster's configuration does not parse here: %w", err)
	}
	d.mu.Lock()
	cur := d.setup
	d.mu.Unlock()
	if diff := IdentityDiff(cur.Config, c); diff != "" {
		return fmt.Errorf("%w: the cluster's has %s", ErrIdentity, diff)
	}
	next, err := FromConfig(c, cur.Agent.Node)
	if err != nil {
		return err
	}
	if err := liveChange(cur, next); err != nil {
		return err
	}
	d.Agent.setPeers(next.Agent.Peers, next.Agent.Report.AdvertSrc)
	if err := d.applyInstances(cur, next); err != nil {
		return err
	}
	if d.lb != nil {
		d.lb.SetVirtualServers(next.VirtualServers)
	}
	if d.hd != nil || len(next.Agent.Health) > 0 {
		if err := d.reconcileHealth(cur.Agent.Health, next.Agent.Health); err != nil {
			return err
		}
		d.Agent.SetHealthServers(next.Agent.Health)
	}
	d.mu.Lock()
	d.setup = next
	d.mu.Unlock()
	return nil
}

// liveChange refuses what a running director cannot change yet.
func liveChange(cur, next *Setup) error {
	if err := vmacChange(cur, next); err != nil {
		return err
	}
	switch {
	case (cur.VirtualServers == nil) != (next.VirtualServers == nil) || cur.Datapath != next.Datapath:
		return fmt.Errorf("adding the first or removing the last virtual_server, or changing the datapath, %w yet: restart the directors one by one", ErrNotLive)
	case !sameClusterTiming(cur.Agent, next.Agent) || !reflect.DeepEqual(cur.Fence, next.Fence):
		return fmt.Errorf("lease, heartbeat, clock_drift, port, TLS, gossip_key and fence_peer changes %w yet: restart the directors one by one", ErrNotLive)
	case !reflect.DeepEqual(cur.GARP, next.GARP) || !sameReport(cur.Agent.Report, next.Agent.Report):
		return fmt.Errorf("gratuitous ARP timing, notify_fifo, SMTP and webhook changes %w yet: restart the directors one by one", ErrNotLive)
	}
	return nil
}

// sameReport compares the notification settings read only at start,
// leaving out what follows the instances and the cluster block's nodes,
// which change live: the notify scripts, advert sources, VIPs and MACs.
func sameReport(a, b ReportConfig) bool {
	a.Scripts, a.AdvertSrc, a.VIPs, a.MACs = nil, nil, nil, nil
	b.Scripts, b.AdvertSrc, b.VIPs, b.MACs = nil, nil, nil, nil
	return reflect.DeepEqual(a, b)
}

// sameClusterTiming compares what the agent takes from the cluster block
// only at start: timing, ports, TLS, the gossip key.
func sameClusterTiming(a, b Config) bool {
	return a.Timing == b.Timing && a.Raft == b.Raft && a.RaftPort == b.RaftPort && a.MessagePort == b.MessagePort &&
		a.GossipPort == b.GossipPort && string(a.GossipKey) == string(b.GossipKey) && reflect.DeepEqual(a.TLS, b.TLS) &&
		a.Gossip == b.Gossip
}

// vmacChange refuses a use_vmac interface that would change under the
// same name (another parent or MAC): the old one may be in use until its
// instance is released, so both cannot exist at once.
func vmacChange(cur, next *Setup) error {
	had := map[string]VMACSetup{}
	for _, is := range cur.Instances {
		if is.VMAC != nil {
			had[is.VMAC.Name] = *is.VMAC
		}
	}
	for _, is := range next.Instances {
		if is.VMAC == nil {
			continue
		}
		if o, ok := had[is.VMAC.Name]; ok && (o.Parent != is.VMAC.Parent || o.Addr().String() != is.VMAC.Addr().String() || o.IPv6 != is.VMAC.IPv6) {
			return fmt.Errorf("instance %s: use_vmac %s would change from %s on %s to %s on %s while in use, which %w; give it another name (vmac_name) or restart the directors one by one",
				is.Name, is.VMAC.Name, o.Addr(), o.Parent, is.VMAC.Addr(), is.VMAC.Parent, ErrNotLive)
		}
	}
	return nil
}

// reconcileHealth stops checking servers that are gone or changed and
// starts checking new or changed ones; unchanged servers keep their state.
func (d *Director) reconcileHealth(cur, next []HealthServer) error {
	if d.hd == nil {
		// The first checked real servers: the health driver starts now.
		hd, err := d.startHealth(next)
		if err != nil {
			return err
		}
		d.hd, d.hdRun = hd, d.start("health", hd.Run)
		return nil
	}
	old := map[string]HealthServer{}
	for _, s := range cur {
		old[s.ID()] = s
	}
	keep := map[string]bool{}
	for _, s := range next {
		if o, ok := old[s.ID()]; ok && reflect.DeepEqual(o, s) {
			keep[s.ID()] = true
		}
	}
	for id := range old {
		if !keep[id] {
			d.hd.Remove(health.ServerID(id))
		}
	}
	for _, s := range next {
		if keep[s.ID()] {
			continue
		}
		spec, checkers, err := health.NewServer(s.Spec, s.Checks)
		if err != nil {
			return fmt.Errorf("agent: real server %s: %w", s.ID(), err)
		}
		if err := d.hd.Add(spec, checkers); err != nil {
			return fmt.Errorf("agent: real server %s: %w", s.ID(), err)
		}
	}
	return nil
}

// instances returns the instances' current ownership parameters (they
// change with a live configuration change).
func (a *Agent) instances() []cluster.InstanceSpec {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg.Instances
}

// setInstances applies a live change of the instances' priorities,
// nopreempt and preempt_delay. It runs on the loop (from OnConfig), where
// the core lives.
func (a *Agent) setInstances(specs []cluster.InstanceSpec) error {
	if err := a.core.SetInstances(time.Now(), specs); err != nil {
		return err
	}
	a.mu.Lock()
	a.cfg.Instances = specs
	a.mu.Unlock()
	return nil
}

// advertSrc is node's advert source address for instance under the
// running configuration (nodes join the cluster block live).
func (d *Director) advertSrc(instance, node string) netip.Addr {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, is := range d.setup.Instances {
		if is.Name == instance {
			return is.AdvertSrc[node]
		}
	}
	return netip.Addr{}
}
