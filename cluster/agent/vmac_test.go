package agent

import (
	"strings"
	"testing"

	"vigil/config"
)

// TestFromConfigVMAC: use_vmac as keepalived reads it. The VMAC is named
// vrrp.VRID (vrrp6.VRID for an IPv6 instance whose VRID an IPv4 one has)
// unless named; the VIPs that name no other interface go on it; unicast
// peers force vmac_xmit_base; a five-octet MAC takes the VRID; two
// instances cannot share one.
func TestFromConfigVMAC(t *testing.T) {
	const head = `cluster {
    name t
    node d1 { address 10.0.0.1 }
    node d2 { address 10.0.0.2 }
    node d3 { address 10.0.0.3 }
}
`
	src := head + `vrrp_instance A {
    interface eth0
    virtual_router_id 51
    priority 100
    use_vmac
    virtual_ipaddress {
        10.0.0.200/24
        10.0.1.200/24 dev eth1
    }
}
vrrp_instance A6 {
    interface eth0
    virtual_router_id 51
    priority 100
    use_vmac 02:00:5e:00:07
    virtual_ipaddress {
        fd00::200/64
    }
}
vrrp_instance U {
    interface eth0
    virtual_router_id 52
    priority 100
    use_vmac vmacu
    unicast_peer {
        10.0.0.2
    }
    virtual_ipaddress {
        10.0.0.201/24 dev eth0
    }
}
`
	c, _, err := config.Parse("test.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s, err := FromConfig(c, "d1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, is := range s.Instances {
		v := is.VMAC
		line := is.Name + " " + v.Name + " " + v.Addr().String() + " parent " + v.Parent
		if v.XmitBase {
			line += " xmit_base"
		}
		for _, h := range is.Addrs {
			line += " " + h.Addr.String() + "@" + h.Iface
		}
		got = append(got, line)
	}
	want := []string{
		"A vrrp.51 00:00:5e:00:01:33 parent eth0 10.0.0.200/24@vrrp.51 10.0.1.200/24@eth1",
		"A6 vrrp6.51 02:00:5e:00:07:33 parent eth0 fd00::200/64@vrrp6.51",
		"U vmacu 00:00:5e:00:01:34 parent eth0 xmit_base 10.0.0.201/24@vmacu",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("VMACs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	clash := head + strings.ReplaceAll(strings.ReplaceAll(src[len(head):], "use_vmac vmacu", "use_vmac vrrp.51"), "use_vmac 02:00:5e:00:07", "use_vmac vrrp6.51")
	c, _, err = config.Parse("test.conf", []byte(clash))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FromConfig(c, "d1"); err == nil || !strings.Contains(err.Error(), "instances U and A both use_vmac vrrp.51") {
		t.Errorf("two instances on one VMAC: %v", err)
	}
}
