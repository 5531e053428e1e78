package agent

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"vigil/cluster"
	"vigil/config"
	"vigil/fencing/notify"
	"vigil/health"
	"vigil/lvs"
	"vigil/lvs/ipvs"
	"vigil/vrrp"
	"vigil/vrrp/vip"
)

// Setup is everything a director needs, derived from the configuration:
// the agent's Config (without its Executor) and what each instance puts on
// the wire. FromConfig builds it without touching the system; Start opens
// the sockets.
type Setup struct {
	// Config is the configuration the setup was derived from.
	Config    *config.Config
	Agent     Config
	Instances []InstanceSetup
	GARP      vip.Timing
	// VirtualServers are programmed on every director through Datapath
	// (auto, ipvs or nftables) with the cluster-wide hash Seed.
	Trackers       Trackers
	VirtualServers []lvs.VirtualServer
	Datapath       string
	Seed           uint32
	LVSTimeouts    ipvs.Timeouts // keepalived's lvs_timeouts (IPVS only)
	Fence          *FenceHook    // fence_peer; nil: none
}

// InstanceSetup is one VRRP instance as this node serves it.
type InstanceSetup struct {
	Name      string
	Interface string
	Addrs     []vip.Hold
	Advert    vrrp.Advert
	IPv6      bool
	Src       netip.Addr   // mcast_src_ip / unicast_src_ip; zero: the interface's
	Dsts      []netip.Addr // the VRRP group, or the unicast peers
	Options   vrrp.Options
	// AdvertSrc is each node's advert source address for this instance,
	// so the listener can tell the holder's adverts from a rogue's.
	AdvertSrc map[string]netip.Addr
	// VMAC is the instance's use_vmac interface; nil without use_vmac.
	VMAC *VMACSetup
}

// VMACSetup is an instance's use_vmac (keepalived's semantics): a macvlan
// with the virtual router MAC on the instance's interface, made at
// startup and removed at shutdown on every director. The VIPs that name
// no other interface (dev) go on it while the instance is held, and the
// gratuitous ARPs for them leave from it; so do the adverts, unless
// XmitBase.
type VMACSetup struct {
	vrrp.VMAC
	// XmitBase sends the adverts from the instance's interface instead
	// (vmac_xmit_base; keepalived forces it with unicast peers).
	XmitBase bool
}

// FromConfig derives node's setup from a validated configuration. The
// configuration must have a cluster block naming node.
func FromConfig(c *config.Config, node string) (*Setup, error) {
	if c.Cluster == nil {
		return nil, fmt.Errorf("agent: %w", config.ErrNoCluster)
	}
	cl := c.Cluster
	if cl.NodeByName(node) == nil {
		var names []string
		for _, n := range cl.Nodes {
			names = append(names, n.Name)
		}
		return nil, fmt.Errorf("agent: node %q is not in the cluster block (nodes: %v)", node, names)
	}
	peers := map[string][]string{}
	for _, n := range cl.Nodes {
		for _, a := range n.Addresses {
			peers[n.Name] = append(peers[n.Name], a.String())
		}
	}
	mine, err := c.ForNode(node)
	if err != nil {
		return nil, fmt.Errorf("agent: configuration of %s: %w", node, err)
	}
	t := cluster.DefaultTiming()
	t.Lease = time.Duration(cl.Lease)
	t.Renew = t.Lease / 3
	t.Drift = cl.ClockDrift
	// The kernel may keep a frozen holder's address this long after its
	// lease: the address lifetime's slack plus the kernel's expiry jitter.
	t.KernelSlack = vip.DefaultSlack + vip.KernelExpiryJitter
	hb := time.Duration(cl.Heartbeat)

	s := &Setup{
		Config: c,
		Agent: Config{
			Cluster:     cl.Name,
			Node:        node,
			Peers:       peers,
			RaftPort:    cl.RaftPort,
			MessagePort: cl.RaftPort, // UDP, beside Raft's TCP port
			GossipPort:  cl.GossipPort,
			GossipKey:   cl.GossipKey,
			TLS:         tlsFiles(cl.TLS),
			DataDir:     cl.DataDir,
			Timing:      t,
			Raft:        RaftTiming{Heartbeat: 2 * hb, Election: 2 * hb, LeaderLease: hb, Commit: hb / 10},
		},
	}
	if s.VirtualServers, err = VirtualServers(c); err != nil {
		return nil, err
	}
	s.Datapath, s.Seed = cl.Datapath, ClusterSeed(cl.Name)
	s.Fence = fenceHook(cl.FencePeer)
	lt := c.Global.LVSTimeouts
	s.LVSTimeouts = ipvs.Timeouts{TCP: time.Duration(lt.TCP), TCPFin: time.Duration(lt.TCPFin), UDP: time.Duration(lt.UDP)}
	if s.Agent.Health, err = HealthServers(c, s.VirtualServers); err != nil {
		return nil, err
	}
	if s.Agent.HealthQuorum, err = health.ParseQuorum(cl.HealthQuorum); err != nil {
		return nil, fmt.Errorf("agent: health_quorum: %w", err)
	}
	s.Agent.Report = reportConfig(c, mine)
	if s.Trackers, err = trackersFromConfig(c, mine); err != nil {
		return nil, err
	}
	s.Agent.Trackers = s.Trackers
	g := c.Global
	s.GARP = vip.Timing{
		Repeat:        g.VRRPGarpMasterRepeat,
		Delay:         time.Duration(g.VRRPGarpMasterDelay),
		Refresh:       time.Duration(g.VRRPGarpMasterRefresh),
		RefreshRepeat: max(g.VRRPGarpMasterRefreshRepeat, 1),
		Interval:      time.Duration(g.VRRPGarpInterval),
	}
	for idx, base := range c.Instances {
		inst := mine.Instances[idx]
		spec := cluster.InstanceSpec{
			Name:         base.Name,
			VRID:         uint8(base.VirtualRouterID),
			Priority:     map[string]int{},
			Nopreempt:    base.Nopreempt,
			PreemptDelay: time.Duration(base.PreemptDelay),
		}
		if spec.Def, err = instanceDef(base); err != nil {
			return nil, err
		}
		for _, n := range cl.Nodes {
			ni, err := base.ForNode(n.Name)
			if err != nil {
				return nil, fmt.Errorf("agent: instance %s on %s: %w", base.Name, n.Name, err)
			}
			spec.Priority[n.Name] = ni.Priority
		}
		s.Agent.Instances = append(s.Agent.Instances, spec)
		is, err := instanceSetup(inst)
		if err != nil {
			return nil, err
		}
		is.AdvertSrc = map[string]netip.Addr{}
		for _, n := range cl.Nodes {
			ni, _ := base.ForNode(n.Name)
			is.AdvertSrc[n.Name] = advertSrc(ni, n.Addresses)
		}
		s.Instances = append(s.Instances, is)
	}
	if err := nameVMACs(s.Instances); err != nil {
		return nil, err
	}
	s.Agent.Report.AdvertSrc = map[string]map[string]netip.Addr{}
	s.Agent.Report.VIPs = map[string][]netip.Addr{}
	for _, is := range s.Instances {
		s.Agent.Report.AdvertSrc[is.Name] = is.AdvertSrc
		s.Agent.Report.VIPs[is.Name] = is.Advert.Addrs
	}
	s.Agent.Report.MACs = virtualMACs(s.Instances)
	return s, nil
}

func instanceSetup(i *config.VRRPInstance) (InstanceSetup, error) {
	is := InstanceSetup{Name: i.Name, Interface: i.Interface}
	var addrs []netip.Addr
	for _, v := range i.VirtualIPAddresses {
		iface := i.Interface
		if v.Dev != "" {
			iface = v.Dev
		}
		h := vip.Hold{Addr: v.Prefix, Iface: iface, Label: v.Label}
		if v.Brd != "" && v.Brd != "+" && v.Brd != "-" {
			b, err := netip.ParseAddr(v.Brd)
			if err != nil {
				return is, fmt.Errorf("agent: instance %s: brd %q: %w", i.Name, v.Brd, err)
			}
			h.Broadcast = b
		}
		is.Addrs = append(is.Addrs, h)
		addrs = append(addrs, v.Prefix.Addr())
	}
	if len(addrs) > 0 && addrs[0].Is6() {
		is.IPv6 = true
	}
	is.Advert = vrrp.Advert{
		Version:  uint8(i.Version),
		VRID:     uint8(i.VirtualRouterID),
		Priority: uint8(min(max(i.Priority, 1), 254)),
		Interval: time.Duration(i.AdvertInt),
		Addrs:    addrs,
	}
	if is.IPv6 {
		is.Advert.Version = 3
	}
	if a := i.Authentication; a != nil && a.Type == "PASS" && is.Advert.Version == 2 {
		d, err := vrrp.PasswordAuthData(a.Pass)
		if err != nil {
			return is, fmt.Errorf("agent: instance %s: auth_pass: %w", i.Name, err)
		}
		is.Advert.AuthType, is.Advert.AuthData = vrrp.AuthPass, d
	}
	is.Src = i.McastSrcIP
	if len(i.UnicastPeers) > 0 {
		is.Src = i.UnicastSrcIP
		for _, p := range i.UnicastPeers {
			is.Dsts = append(is.Dsts, p.Addr)
		}
	} else if is.IPv6 {
		is.Dsts = []netip.Addr{vrrp.GroupV6}
	} else {
		is.Dsts = []netip.Addr{vrrp.GroupV4}
	}
	slices.SortFunc(is.Dsts, netip.Addr.Compare)
	if i.UseVMAC {
		v := &VMACSetup{
			VMAC:     vrrp.VMAC{Parent: i.Interface, Name: i.VMACName, VRID: is.Advert.VRID, IPv6: is.IPv6},
			XmitBase: i.VMACXmitBase || len(i.UnicastPeers) > 0,
		}
		if i.VMACAddr != "" {
			mac, err := vrrp.ParseVMACAddr(i.VMACAddr, v.VRID)
			if err != nil {
				return is, fmt.Errorf("agent: instance %s: %w", i.Name, err)
			}
			v.MAC = mac
		}
		is.VMAC = v
	}
	return is, nil
}

// nameVMACs gives every VMAC without a configured name keepalived's:
// vrrp.VRID, or for an IPv6 instance whose VRID an IPv4 one already uses,
// vrrp6.VRID; it then puts each instance's VIPs that name no other
// interface on its VMAC. Two instances may not share a VMAC.
func nameVMACs(instances []InstanceSetup) error {
	used := map[string]string{}
	for _, is := range instances {
		if is.VMAC != nil && is.VMAC.Name != "" {
			if other, ok := used[is.VMAC.Name]; ok {
				return fmt.Errorf("agent: instances %s and %s both use_vmac %s", other, is.Name, is.VMAC.Name)
			}
			used[is.VMAC.Name] = is.Name
		}
	}
	for idx := range instances {
		is := &instances[idx]
		v := is.VMAC
		if v == nil {
			continue
		}
		if v.Name == "" {
			v.Name = vrrp.DefaultVMACName(v.VRID)
			if _, taken := used[v.Name]; taken && v.IPv6 {
				v.Name = fmt.Sprintf("vrrp6.%d", v.VRID)
			}
			if other, taken := used[v.Name]; taken {
				return fmt.Errorf("agent: instances %s and %s both use_vmac %s: name one of them (use_vmac NAME)", other, is.Name, v.Name)
			}
			used[v.Name] = is.Name
		}
		for i, h := range is.Addrs {
			if h.Iface == is.Interface {
				is.Addrs[i].Iface = v.Name
			}
		}
	}
	return nil
}

// reportConfig takes keepalived's notify scripts (as node sees them), FIFO,
// e-mail and webhook settings.
func reportConfig(c, mine *config.Config) ReportConfig {
	g := c.Global
	rc := ReportConfig{Scripts: map[string]notify.Scripts{}, FIFO: g.VRRPNotifyFIFO}
	for _, w := range c.Cluster.Webhooks {
		rc.Webhooks = append(rc.Webhooks, WebhookSink{URL: w.URL, Timeout: time.Duration(w.Timeout), Attempts: w.Retry, Headers: w.Headers, RouterID: g.RouterID})
	}
	if rc.FIFO == "" {
		rc.FIFO = g.NotifyFIFO
	}
	script := func(s *config.Script) *notify.Script {
		if s == nil || s.Command == "" {
			return nil
		}
		return &notify.Script{Argv: strings.Fields(s.Command), User: s.User, Group: s.Group}
	}
	alert := g.SMTPAlert || g.SMTPAlertVRRP
	for _, i := range mine.Instances {
		rc.Scripts[i.Name] = notify.Scripts{
			Master: script(i.Master), Backup: script(i.Backup), Fault: script(i.Fault),
			Stop: script(i.Stop), Deleted: script(i.Deleted), Notify: script(i.Any),
		}
		alert = alert || i.SMTPAlert
	}
	if alert && g.SMTPServer != "" && len(g.NotificationEmail) > 0 {
		server := g.SMTPServer
		if g.SMTPPort != 0 {
			server = net.JoinHostPort(server, fmt.Sprint(g.SMTPPort))
		}
		rc.SMTP = &notify.SMTPConfig{
			Server: server, From: g.NotificationEmailFrom, To: g.NotificationEmail,
			HeloName: g.SMTPHeloName, ConnectTimeout: time.Duration(g.SMTPConnectTimeout), RouterID: g.RouterID,
		}
	}
	return rc
}

// advertSrc is where node's adverts for instance come from: its
// unicast_src_ip or mcast_src_ip, else its cluster address in the subnet
// of the instance's first VIP (the address the kernel would pick), else
// the zero Addr (unknown).
func advertSrc(i *config.VRRPInstance, addrs []netip.Addr) netip.Addr {
	if len(i.UnicastPeers) > 0 && i.UnicastSrcIP.IsValid() {
		return i.UnicastSrcIP
	}
	if i.McastSrcIP.IsValid() {
		return i.McastSrcIP
	}
	if len(i.VirtualIPAddresses) == 0 {
		return netip.Addr{}
	}
	p := i.VirtualIPAddresses[0].Prefix.Masked()
	for _, a := range addrs {
		if p.Contains(a) {
			return a
		}
	}
	return netip.Addr{}
}

func tlsFiles(t *config.TLSFiles) *TLSFiles {
	if t == nil {
		return nil
	}
	return &TLSFiles{CA: t.CA, Cert: t.Cert, Key: t.Key}
}
