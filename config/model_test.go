package config

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, src string) (*Config, []Warning) {
	t.Helper()
	c, w, err := Parse("t.conf", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c, w
}

const minimalInstance = `vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        10.0.0.200/24
    }
}
`

func TestInstanceDefaults(t *testing.T) {
	c, w := mustParse(t, minimalInstance)
	if len(w) != 0 {
		t.Errorf("warnings: %v", w)
	}
	i := c.Instances[0]
	// keepalived.conf(5): priority 100, advert_int 1, version 2 (global
	// vrrp_version), state BACKUP, accept unless strict, garp 5/5.
	checks := []struct {
		name      string
		got, want any
	}{
		{"state", i.State, "BACKUP"},
		{"priority", i.Priority, 100},
		{"advert_int", i.AdvertInt.D(), time.Second},
		{"version", i.Version, 2},
		{"accept", i.Accept, true},
		{"nopreempt", i.Nopreempt, false},
		{"garp_master_delay", i.GarpMasterDelay.D(), 5 * time.Second},
		{"garp_master_repeat", i.GarpMasterRepeat, 5},
		{"garp_lower_prio_delay", i.GarpLowerPrioDelay.D(), 5 * time.Second},
		{"garp_master_refresh_repeat", i.GarpMasterRefreshRepeat, 1},
		{"down_timer_adverts", i.DownTimerAdverts, 3},
		{"vip", i.VirtualIPAddresses[0].Prefix, netip.MustParsePrefix("10.0.0.200/24")},
		{"mcast group", c.Global.VRRPMcastGroup4, netip.MustParseAddr("224.0.0.18")},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

func TestInstanceInheritsGlobal(t *testing.T) {
	c, _ := mustParse(t, minimalInstance+`
global_defs {
    vrrp_version 3
    vrrp_garp_master_delay 2
    vrrp_garp_master_repeat 3
    vrrp_strict
}
`)
	i := c.Instances[0]
	if i.Version != 3 || i.GarpMasterDelay.D() != 2*time.Second || i.GarpMasterRepeat != 3 {
		t.Errorf("global_defs after the instance not inherited: %+v", i)
	}
	// keepalived's strict-mode defaults: no accept, no advert to a lower
	// priority, no repeated lower-priority GARPs.
	if !i.StrictMode || i.Accept || !i.LowerPrioNoAdvert || i.GarpLowerPrioRepeat != 0 || i.GarpLowerPrioDelay != 0 {
		t.Errorf("vrrp_strict: strict=%v accept=%v lower_prio_no_advert=%v garp_lower_prio %d/%v, want true false true 0/0",
			i.StrictMode, i.Accept, i.LowerPrioNoAdvert, i.GarpLowerPrioRepeat, i.GarpLowerPrioDelay)
	}
}

func TestStatePriorityDefaults(t *testing.T) {
	// keepalived: an unset priority follows the state (MASTER: 255, the
	// address owner), an unset state follows the priority.
	for _, tt := range []struct {
		body     string
		state    string
		priority int
	}{
		{"", "BACKUP", 100},
		{"    state MASTER\n", "MASTER", 255},
		{"    state MASTER\n    priority 150\n", "MASTER", 150},
		{"    priority 255\n", "MASTER", 255},
		{"    state BACKUP\n    priority 255\n", "BACKUP", 255},
	} {
		c, _ := mustParse(t, inst(tt.body))
		if i := c.Instances[0]; i.State != tt.state || i.Priority != tt.priority {
			t.Errorf("%q: state %s priority %d, want %s %d", tt.body, i.State, i.Priority, tt.state, tt.priority)
		}
	}
}

func TestInstanceIPv6IsV3(t *testing.T) {
	c, _ := mustParse(t, `vrrp_instance V6 {
    interface eth0
    virtual_router_id 9
    advert_int 0.5
    virtual_ipaddress { fd00::1/64 }
}`)
	if c.Instances[0].Version != 3 {
		t.Errorf("IPv6 instance version %d, want 3", c.Instances[0].Version)
	}
}

func TestInstanceFields(t *testing.T) {
	c, _ := mustParse(t, `vrrp_script chk { script "/bin/check --fast" }
track_file tf { file /run/tf }
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 2
    nopreempt
    authentication {
        auth_type PASS
        auth_pass secret
    }
    unicast_src_ip 10.0.0.11
    unicast_peer {
        10.0.0.12
        10.0.0.13 min_ttl 1 max_ttl 5
    }
    track_interface {
        eth1
        eth2 weight -20
    }
    track_script {
        chk weight 10 reverse
    }
    track_file { tf }
    notify_master "/etc/ka/notify.sh master" root wheel
    notify /etc/ka/all.sh
    use_vmac vrrp51
    virtual_ipaddress {
        10.0.0.200/24 dev eth0 label eth0:1 scope global
        10.0.0.201 brd 10.0.0.255 no_track
    }
    virtual_ipaddress_excluded { fd00::200/64 }
    virtual_routes { 192.168.5.0/24 via 10.0.0.1 dev eth0 }
}`)
	i := c.Instances[0]
	if i.State != "BACKUP" || i.Priority != 150 || i.AdvertInt.D() != 2*time.Second || !i.Nopreempt || i.PreemptDelay != 0 {
		t.Errorf("scalars: %+v", i)
	}
	if i.Authentication == nil || *i.Authentication != (Auth{"PASS", "secret"}) {
		t.Errorf("auth %+v", i.Authentication)
	}
	if i.UnicastSrcIP != netip.MustParseAddr("10.0.0.11") || len(i.UnicastPeers) != 2 || i.UnicastPeers[1].MaxTTL != 5 {
		t.Errorf("unicast %v %+v", i.UnicastSrcIP, i.UnicastPeers)
	}
	if len(i.TrackInterfaces) != 2 || i.TrackInterfaces[1].Weight != -20 || !i.TrackInterfaces[1].WeightSet || i.TrackInterfaces[0].WeightSet {
		t.Errorf("track_interface %+v", i.TrackInterfaces)
	}
	if len(i.TrackScripts) != 1 || i.TrackScripts[0].Weight != 10 || !i.TrackScripts[0].Reverse {
		t.Errorf("track_script %+v", i.TrackScripts)
	}
	if i.Master == nil || *i.Master != (Script{"/etc/ka/notify.sh master", "root", "wheel"}) || i.Any.Command != "/etc/ka/all.sh" {
		t.Errorf("notify %+v %+v", i.Master, i.Any)
	}
	if !i.UseVMAC || i.VMACName != "vrrp51" {
		t.Errorf("vmac %v %q", i.UseVMAC, i.VMACName)
	}
	v := i.VirtualIPAddresses
	if len(v) != 2 || v[0].Dev != "eth0" || v[0].Label != "eth0:1" || v[0].Scope != "global" || v[1].Prefix.String() != "10.0.0.201/32" || !v[1].NoTrack || v[1].Brd != "10.0.0.255" {
		t.Errorf("vips %+v", v)
	}
	if len(i.VirtualIPExcluded) != 1 || i.VirtualRoutes[0].To != "192.168.5.0/24" {
		t.Errorf("excluded %+v routes %+v", i.VirtualIPExcluded, i.VirtualRoutes)
	}
	s := c.Script("chk")
	if s == nil || s.Script != "/bin/check --fast" || s.Interval.D() != time.Second || s.Rise != 1 || s.Fall != 1 || s.Timeout != s.Interval {
		t.Errorf("script defaults %+v", s)
	}
	if tf := c.TrackFile("tf"); tf == nil || tf.Weight != 1 {
		t.Errorf("track_file defaults %+v", tf)
	}
}

func TestVirtualServerDefaultsAndInheritance(t *testing.T) {
	c, w := mustParse(t, `virtual_server 192.168.1.10 80 {
    protocol TCP
    persistence_timeout
    delay_loop 10
    retry 4
    inhibit_on_failure
    real_server 10.0.0.1 8080 {
        weight 5
        delay_before_retry 7
        TCP_CHECK { connect_timeout 2 }
        HTTP_GET { url { path /health } }
        DNS_CHECK { }
        MISC_CHECK { misc_path "/bin/check x" }
    }
    real_server 10.0.0.2 {
        connect_timeout 9
        TCP_CHECK { }
    }
    real_server 10.0.0.3 80 {
        HTTP_GET {
            url { path / }
            retry 2
        }
        DNS_CHECK { }
        MISC_CHECK { misc_path /bin/true }
    }
}`)
	if len(w) != 0 {
		t.Errorf("warnings %v", w)
	}
	vs := c.VirtualServers[0]
	if vs.LVSSched != "wlc" || vs.LVSMethod != "NAT" || vs.Quorum != 1 {
		t.Errorf("vs defaults: sched %s method %s proto %s quorum %d", vs.LVSSched, vs.LVSMethod, vs.Protocol, vs.Quorum)
	}
	if vs.PersistenceTimeout.D() != 360*time.Second {
		t.Errorf("bare persistence_timeout = %v, want 360s", vs.PersistenceTimeout)
	}
	if vs.DelayLoop.D() != 10*time.Second || vs.ConnectTimeout.D() != 5*time.Second || vs.Warmup != vs.DelayLoop || vs.Retry != 4 || !vs.InhibitOnFailure {
		t.Errorf("vs timings %+v", vs)
	}
	r1, r2, r3 := vs.RealServers[0], vs.RealServers[1], vs.RealServers[2]
	if r1.Weight != 5 || r2.Weight != 1 || r2.Port != 80 || !r2.InhibitOnFailure {
		t.Errorf("rs defaults: r1 weight %d, r2 weight %d port %d inhibit %v", r1.Weight, r2.Weight, r2.Port, r2.InhibitOnFailure)
	}
	type want struct {
		typ        string
		ct, dl     time.Duration
		retry      int
		dbr        time.Duration
		connectIP  string
		connectPrt int
	}
	cases := []struct {
		c *Checker
		w want
	}{
		// Real server 1: retry 4 from the VS, delay_before_retry 7 from the RS.
		{r1.Checkers[0], want{"TCP_CHECK", 2 * time.Second, 10 * time.Second, 4, 7 * time.Second, "10.0.0.1", 8080}},
		{r1.Checkers[1], want{"HTTP_GET", 5 * time.Second, 10 * time.Second, 4, 7 * time.Second, "10.0.0.1", 8080}},
		{r1.Checkers[2], want{"DNS_CHECK", 5 * time.Second, 10 * time.Second, 4, 7 * time.Second, "10.0.0.1", 8080}},
		// Real server 2: connect_timeout 9 from the RS, port from the VS.
		{r2.Checkers[0], want{"TCP_CHECK", 9 * time.Second, 10 * time.Second, 4, 1 * time.Second, "10.0.0.2", 80}},
		// Real server 3: type defaults for delay_before_retry (HTTP 3 s,
		// DNS delay_loop), retry from the VS unless the checker sets it.
		{r3.Checkers[0], want{"HTTP_GET", 5 * time.Second, 10 * time.Second, 2, 3 * time.Second, "10.0.0.3", 80}},
		{r3.Checkers[1], want{"DNS_CHECK", 5 * time.Second, 10 * time.Second, 4, 10 * time.Second, "10.0.0.3", 80}},
	}
	for k, cs := range cases {
		g := want{cs.c.Type, cs.c.ConnectTimeout.D(), cs.c.DelayLoop.D(), cs.c.Retry, cs.c.DelayBeforeRetry.D(), cs.c.ConnectIP.String(), cs.c.ConnectPort}
		if g != cs.w {
			t.Errorf("checker %d:\n got %+v\nwant %+v", k, g, cs.w)
		}
	}
	if m := r3.Checkers[2]; m.Misc.Path != "/bin/true" || m.Retry != 4 || m.ConnectTimeout != 0 {
		t.Errorf("MISC_CHECK %+v %+v", m, m.Misc)
	}
	if d := r1.Checkers[2].DNS; d.Type != "SOA" || d.Name != "." {
		t.Errorf("DNS defaults %+v", d)
	}
	if h := r1.Checkers[1].HTTP; h.HTTPProtocol != "1.0" || len(h.URLs) != 1 || h.URLs[0].StatusCodes[0] != (CodeRange{200, 299}) {
		t.Errorf("HTTP defaults %+v", h)
	}
}

func TestCheckerTypeDefaultsWithoutOverrides(t *testing.T) {
	c, _ := mustParse(t, `virtual_server 10.1.1.1 53 {
    protocol UDP
    real_server 10.0.0.1 53 {
        DNS_CHECK { type a
            name example.org }
        MISC_CHECK { misc_path /bin/x }
        UDP_CHECK { payload 01 02 }
        SSL_GET {
            url {
                path /
                status_code 200 301-302
            }
            enable_sni
        }
    }
}`)
	ck := c.VirtualServers[0].RealServers[0].Checkers
	if ck[0].Retry != 3 || ck[0].DelayBeforeRetry != ck[0].DelayLoop || ck[0].DNS.Type != "A" {
		t.Errorf("DNS_CHECK retry %d dbr %v type %s, want 3, delay_loop, A", ck[0].Retry, ck[0].DelayBeforeRetry, ck[0].DNS.Type)
	}
	if ck[1].Retry != 0 || ck[1].DelayBeforeRetry.D() != time.Second {
		t.Errorf("MISC_CHECK retry %d dbr %v, want 0, 1s", ck[1].Retry, ck[1].DelayBeforeRetry)
	}
	if ck[2].Retry != 1 || ck[2].UDP.Payload != "01 02" || ck[2].UDP.MaxReplyLength != 255 {
		t.Errorf("UDP_CHECK %+v %+v", ck[2], ck[2].UDP)
	}
	h := ck[3].HTTP
	if !h.TLS || !h.EnableSNI || ck[3].DelayBeforeRetry.D() != 3*time.Second || len(h.URLs[0].StatusCodes) != 2 || h.URLs[0].StatusCodes[1] != (CodeRange{301, 302}) {
		t.Errorf("SSL_GET %+v %+v", ck[3], h)
	}
}

func TestVirtualServerKinds(t *testing.T) {
	c, _ := mustParse(t, `virtual_server_group web {
    10.0.0.1-10 80
    192.168.0.0/30 443
    fwmark 7
}
virtual_server group web {
    protocol TCP
    real_server 10.1.0.1 80 { }
}
virtual_server fwmark 5 { real_server 10.1.0.2 { } }
virtual_server 10.0.0.100 {
    protocol TCP
    persistence_timeout 600
    real_server 10.1.0.3 { }
}`)
	g := c.VirtualServerGroup("web")
	if g == nil || len(g.Entries) != 3 {
		t.Fatalf("group %+v", g)
	}
	if e := g.Entries[0]; e.First.String() != "10.0.0.1" || e.Last.String() != "10.0.0.10" || e.Port != 80 {
		t.Errorf("range %+v", e)
	}
	if e := g.Entries[1]; e.First.String() != "192.168.0.0" || e.Last.String() != "192.168.0.3" {
		t.Errorf("prefix %+v", e)
	}
	if g.Entries[2].Fwmark != 7 {
		t.Errorf("fwmark %+v", g.Entries[2])
	}
	vs := c.VirtualServers
	if vs[0].Group != "web" || vs[1].Fwmark != 5 || vs[1].RealServers[0].Port != 0 || vs[2].Port != 0 || vs[2].PersistenceTimeout.D() != 600*time.Second {
		t.Errorf("kinds: %+v %+v %+v", vs[0], vs[1], vs[2])
	}
}

func TestDeprecatedAliases(t *testing.T) {
	c, w := mustParse(t, `virtual_server 10.0.0.1 80 {
    lb_algo wrr
    lb_kind DR
    real_server 10.0.0.2 80 {
        HTTP_GET {
            url { path / }
            nb_get_retry 5
        }
    }
    protocol TCP
}
vrrp_track_file f { file /x }`)
	vs := c.VirtualServers[0]
	if vs.LVSSched != "wrr" || vs.LVSMethod != "DR" || vs.RealServers[0].Checkers[0].Retry != 5 {
		t.Errorf("aliases not applied: %s %s %d", vs.LVSSched, vs.LVSMethod, vs.RealServers[0].Checkers[0].Retry)
	}
	want := []string{
		"t.conf:2:5: lb_algo: warning: deprecated keyword; use lvs_sched",
		"t.conf:3:5: lb_kind: warning: deprecated keyword; use lvs_method",
		"t.conf:7:13: nb_get_retry: warning: deprecated keyword; use retry",
		"t.conf:12:1: vrrp_track_file: warning: deprecated keyword; use track_file",
	}
	var got []string
	for _, x := range w {
		got = append(got, x.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

const clusterConf = `cluster {
    name edge-lb
    data_dir /var/lib/vigil
    node d1 { address 10.0.0.11 192.168.100.11 }   # one address per heartbeat link
    node d2 { address 10.0.0.12 192.168.100.12 }
    node d3 { address 10.0.0.13 192.168.100.13 }
    api_listen 127.0.0.1:7070
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    node d2 { priority 99 }        # any instance keyword, for that node only
    node d3 {
        priority 98
        virtual_ipaddress { 10.0.0.201/24 }
    }
    virtual_ipaddress { 10.0.0.200/24 }
}
`

func TestClusterDefaults(t *testing.T) {
	c, _ := mustParse(t, clusterConf)
	cl := c.Cluster
	if cl == nil || cl.Name != "edge-lb" || cl.DataDir != "/var/lib/vigil" || cl.APIListen != "127.0.0.1:7070" || cl.Links() != 2 {
		t.Fatalf("cluster %+v", cl)
	}
	if cl.RaftPort != 7000 || cl.GossipPort != 7001 || cl.Lease.D() != 800*time.Millisecond || cl.Heartbeat.D() != 200*time.Millisecond ||
		cl.ClockDrift != 0.01 || cl.Datapath != "auto" || cl.HealthQuorum != "majority" || cl.SnapshotRetain != 2 {
		t.Errorf("defaults %+v", cl)
	}
	if got := cl.NodeByName("d2").Addresses[1]; got != netip.MustParseAddr("192.168.100.12") {
		t.Errorf("d2 link 1 = %v", got)
	}
}

func TestClusterKeywords(t *testing.T) {
	c, _ := mustParse(t, `cluster {
    name x
    node a { address 10.0.0.1 }
    node b { address 10.0.0.2 }
    node c { address 10.0.0.3 }
    raft_port 8300
    gossip_port 8301
    lease 3s
    heartbeat 0.25
    clock_drift 2%
    tls { ca /etc/vigil/ca.pem
          cert /etc/vigil/node.pem
          key /etc/vigil/node.key }
    gossip_key MDEyMzQ1Njc4OWFiY2RlZg==
    api_token "t0k3n"
    fence_peer {
        script "/usr/local/bin/fence --peer"
        timeout 5
        required off
    }
    webhook {
        url https://alerts.example.com/vigil
        timeout 2s
        retry 3
        header Authorization "Bearer t0k3n"
    }
    webhook {
        url http://10.0.0.9:9000/
    }
    datapath nftables
    health_quorum leader
    snapshot_interval 60
    snapshot_threshold 100
    snapshot_retain 5
}`)
	cl := c.Cluster
	if cl.RaftPort != 8300 || cl.GossipPort != 8301 || cl.Lease.D() != 3*time.Second || cl.Heartbeat.D() != 250*time.Millisecond || cl.ClockDrift != 0.02 {
		t.Errorf("%+v", cl)
	}
	if cl.TLS == nil || cl.TLS.Key != "/etc/vigil/node.key" || string(cl.GossipKey) != "0123456789abcdef" || cl.APIToken != "t0k3n" {
		t.Errorf("tls %+v key %q token %q", cl.TLS, cl.GossipKey, cl.APIToken)
	}
	if f := cl.FencePeer; f == nil || f.Script != "/usr/local/bin/fence --peer" || f.Timeout.D() != 5*time.Second || f.Required {
		t.Errorf("fence %+v", f)
	}
	if len(cl.Webhooks) != 2 {
		t.Fatalf("webhooks %+v", cl.Webhooks)
	}
	if w := cl.Webhooks[0]; w.URL != "https://alerts.example.com/vigil" || w.Timeout.D() != 2*time.Second || w.Retry != 3 || w.Headers["Authorization"] != "Bearer t0k3n" {
		t.Errorf("webhook %+v", w)
	}
	if w := cl.Webhooks[1]; w.URL != "http://10.0.0.9:9000/" || w.Timeout.D() != DefaultWebhookTimeout || w.Retry != DefaultWebhookRetry || w.Headers != nil {
		t.Errorf("webhook defaults %+v", w)
	}
	if cl.Datapath != "nftables" || cl.HealthQuorum != "leader" || cl.SnapshotInterval.D() != time.Minute || cl.SnapshotThreshold != 100 || cl.SnapshotRetain != 5 {
		t.Errorf("%+v", cl)
	}
}

func TestForNode(t *testing.T) {
	c, _ := mustParse(t, clusterConf)
	base := c.Instances[0]
	if base.Priority != 100 || len(base.NodeOverrides) != 2 || base.NodeOverrides["d2"][0] != "priority 99" {
		t.Fatalf("base %d %v", base.Priority, base.NodeOverrides)
	}
	for node, want := range map[string]struct {
		prio int
		vip  string
	}{"d1": {100, "10.0.0.200/24"}, "d2": {99, "10.0.0.200/24"}, "d3": {98, "10.0.0.201/24"}} {
		v, err := c.ForNode(node)
		if err != nil {
			t.Fatal(err)
		}
		i := v.Instance("VI_1")
		if i.Priority != want.prio || len(i.VirtualIPAddresses) != 1 || i.VirtualIPAddresses[0].Prefix.String() != want.vip {
			t.Errorf("%s: priority %d vips %v, want %d %s", node, i.Priority, i.VirtualIPAddresses, want.prio, want.vip)
		}
		if i.VirtualRouterID != 51 || i.Interface != "eth0" {
			t.Errorf("%s: lost base keywords: %+v", node, i)
		}
	}
	if base.Priority != 100 {
		t.Errorf("ForNode changed the base instance")
	}
	if _, err := c.ForNode("d9"); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("ForNode(d9) = %v, want ErrUnknownNode", err)
	}
	plain, _ := mustParse(t, minimalInstance)
	if _, err := plain.ForNode("d1"); !errors.Is(err, ErrNoCluster) {
		t.Errorf("ForNode without cluster = %v, want ErrNoCluster", err)
	}
}

func TestLocalNode(t *testing.T) {
	c, _ := mustParse(t, clusterConf)
	ip := func(s ...string) []net.IP {
		var out []net.IP
		for _, x := range s {
			out = append(out, net.ParseIP(x))
		}
		return out
	}
	if n, err := c.LocalNode(ip("127.0.0.1", "192.168.100.12")); err != nil || n != "d2" {
		t.Errorf("LocalNode = %q, %v; want d2", n, err)
	}
	if n, err := c.LocalNode(nil); err == nil {
		t.Errorf("LocalNode(nil) = %q, want an error", n)
	}
	if _, err := c.LocalNode(ip("10.0.0.99")); !errors.Is(err, ErrNoLocalNode) {
		t.Errorf("no match: %v, want ErrNoLocalNode", err)
	}
	if _, err := c.LocalNode(ip("10.0.0.11", "10.0.0.12")); !errors.Is(err, ErrNoLocalNode) || !strings.Contains(err.Error(), "d1, d2") {
		t.Errorf("two matches: %v", err)
	}
}

func TestVirtualServerString(t *testing.T) {
	c, _ := mustParse(t, `virtual_server_group g {
    10.0.0.5 80
}
virtual_server 10.0.0.1 80 {
    protocol TCP
    real_server 10.0.1.1 8080 { }
}
virtual_server fd00::1 53 {
    protocol UDP
    real_server fd00::2 53 { }
}
virtual_server fwmark 5 {
    real_server 10.0.1.1 { }
}
virtual_server group g {
    protocol TCP
    real_server 10.0.1.1 80 { }
}`)
	var got []string
	for _, vs := range c.VirtualServers {
		got = append(got, vs.String())
	}
	if want := "TCP 10.0.0.1:80|UDP [fd00::1]:53|fwmark 5|group g"; strings.Join(got, "|") != want {
		t.Errorf("got %s, want %s", strings.Join(got, "|"), want)
	}
	if ap := c.VirtualServers[0].RealServers[0].AddrPort().String(); ap != "10.0.1.1:8080" {
		t.Errorf("AddrPort %s", ap)
	}
}
