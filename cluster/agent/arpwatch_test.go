package agent

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"vigil/config"
	"vigil/vrrp"
	"vigil/vrrp/vip"
)

func TestIdentitiesFromAdvertSources(t *testing.T) {
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	ids := identities(map[string]map[string]netip.Addr{
		"VI_2": {"d1": a("10.1.0.11"), "d2": a("10.1.0.12"), "d3": {}},
		"VI_1": {"d1": a("10.0.0.11"), "d2": a("10.0.0.12"), "d3": a("10.0.0.13")},
		"VI_3": {"d1": a("10.0.0.11")},
	})
	if got := fmt.Sprint(ids); got != "[{d1 [10.0.0.11 10.1.0.11] []} {d2 [10.0.0.12 10.1.0.12] []} {d3 [10.0.0.13] []}]" {
		t.Fatalf("identities %s", got)
	}
}

func TestVirtualMACs(t *testing.T) {
	c, _, err := config.Parse("t.conf", []byte(`
vrrp_instance A {
    interface eth0
    virtual_router_id 51
    use_vmac
    virtual_ipaddress { 10.0.0.1/24 }
}
vrrp_instance B {
    interface eth0
    virtual_router_id 52
    use_vmac vrrp.52 02:11:22:33:44:55
    virtual_ipaddress { 10.0.0.2/24 }
}
vrrp_instance C {
    interface eth0
    virtual_router_id 53
    virtual_ipaddress { 10.0.0.3/24 }
}
vrrp_instance D {
    interface eth0
    virtual_router_id 54
    use_vmac
    virtual_ipaddress { fd00::4/64 }
}
`))
	if err != nil {
		t.Fatal(err)
	}
	var setups []InstanceSetup
	for _, i := range c.Instances {
		is, err := instanceSetup(i)
		if err != nil {
			t.Fatal(err)
		}
		setups = append(setups, is)
	}
	macs := virtualMACs(setups)
	if got := fmt.Sprint(macs); got != "[00:00:5e:00:01:33 02:11:22:33:44:55 00:00:5e:00:02:36]" {
		t.Fatalf("virtual MACs %s", got)
	}
}

// The bound on one notification lets a webhook run all its attempts:
// 3 attempts of 2s and the backoffs between them (0.5s, 1s), and never
// less than the dispatcher's minute.
func TestWebhookBound(t *testing.T) {
	_, bound, err := webhooks([]WebhookSink{{URL: "http://h/", Timeout: 30 * time.Second, Attempts: 3}}, slog.New(slog.DiscardHandler))
	if err != nil || bound != 90*time.Second+1500*time.Millisecond+time.Second {
		t.Fatalf("bound %v, %v", bound, err)
	}
	sinks, bound, err := webhooks([]WebhookSink{{URL: "http://h/", Timeout: 2 * time.Second, Attempts: 3}}, slog.New(slog.DiscardHandler))
	if err != nil || bound != time.Minute || len(sinks) != 1 || sinks[0].Name() != "webhook" {
		t.Fatalf("bound %v, sinks %v, %v", bound, sinks, err)
	}
	if _, _, err := webhooks([]WebhookSink{{URL: "ftp://h/"}}, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("an ftp URL was accepted")
	}
}

// Two directors' gossip pools carry each one's MACs to the other.
func TestGossipCarriesMACs(t *testing.T) {
	peers := map[string][]string{"d1": {"127.0.3.1"}, "d2": {"127.0.3.2"}}
	port := 41000 + int(time.Now().UnixNano()%5000)
	macs := map[string]net.HardwareAddr{"d1": {2, 0, 0, 0, 0, 1}, "d2": {2, 0, 0, 0, 0, 2}}
	gs := map[string]*gossip{}
	for _, n := range []string{"d1", "d2"} {
		meta, err := encodeMeta([]net.HardwareAddr{macs[n]})
		if err != nil {
			t.Fatal(err)
		}
		g, err := startGossip(n, newPeerTable(peers), port, nil, meta, GossipTiming{}.orDefault(100*time.Millisecond), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer g.close()
		gs[n] = g
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		p1, p2 := gs["d1"].peers([]string{"d1", "d2"}), gs["d2"].peers([]string{"d1", "d2"})
		if len(p1) == 1 && len(p2) == 1 && fmt.Sprint(p1[0].MACs) == "[02:00:00:00:00:02]" && fmt.Sprint(p2[0].MACs) == "[02:00:00:00:00:01]" {
			return
		}
	}
	t.Fatalf("peers' MACs not learned: d1 sees %+v, d2 sees %+v", gs["d1"].peers([]string{"d2"}), gs["d2"].peers([]string{"d1"}))
}

func TestARPInterfaces(t *testing.T) {
	hold := func(iface, addr string) vip.Hold {
		return vip.Hold{Iface: iface, Addr: netip.MustParsePrefix(addr)}
	}
	got := arpInterfaces([]InstanceSetup{
		{Interface: "eth0", Addrs: []vip.Hold{hold("eth0", "10.0.0.1/24"), hold("eth1", "10.1.0.1/24")}},
		{Interface: "eth0", Addrs: []vip.Hold{hold("vrrp.52", "10.0.0.2/24")}, VMAC: &VMACSetup{VMAC: vrrp.VMAC{Name: "vrrp.52"}}},
		{Interface: "eth0", Addrs: []vip.Hold{hold("mv0", "10.0.0.3/24")}},
	})
	if s := fmt.Sprint(got); s != "map[eth0:[10.0.0.1 10.1.0.1 10.0.0.2 10.0.0.3] eth1:[10.1.0.1] mv0:[10.0.0.3]]" {
		t.Fatalf("interfaces %s", s)
	}
}
