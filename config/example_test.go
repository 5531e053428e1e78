package config_test

import (
	"fmt"
	"net"

	"vigil/config"
)

func ExampleParse() {
	src := []byte(`
cluster {
    name edge-lb
    node d1 { address 10.0.0.11 }
    node d2 { address 10.0.0.12 }
    node d3 { address 10.0.0.13 }
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    node d2 { priority 99 }
    virtual_ipaddress { 10.0.0.200/24 }
}
virtual_server 10.0.0.200 80 {
    lb_algo wrr
    protocol TCP
    persistence_timeout
    real_server 10.0.1.1 80 {
        TCP_CHECK { }
    }
}
`)
	c, warnings, err := config.Parse("vigil.conf", src)
	if err != nil {
		fmt.Println(err) // every error, one per line, file:line:col: keyword: message
		return
	}
	for _, w := range warnings {
		fmt.Println(w)
	}
	me, _ := c.LocalNode([]net.IP{net.ParseIP("10.0.0.12")})
	view, _ := c.ForNode(me)
	vs := view.VirtualServers[0]
	fmt.Println(me, view.Instance("VI_1").Priority, vs.LVSSched, vs.PersistenceTimeout.D(), vs.RealServers[0].Checkers[0].ConnectTimeout.D())
	// Output:
	// vigil.conf:15:5: lb_algo: warning: deprecated keyword; use lvs_sched
	// d2 99 wrr 6m0s 5s
}
