package e2e

import (
	"time"

	"vigil/test/topo"
)

// watchARP starts the observer of issue 3 on the client (topo.Observer):
// it asks who has the VIP every 50 ms, and two directors answering one
// request fails the test. It stops at the test's cleanup.
func (c *cluster3) watchARP() *topo.Observer {
	o, err := topo.Observe(c.th, 50*time.Millisecond, func(at time.Time, who []string) {
		c.t.Errorf("split brain at %s: %v answer ARP for %s", at.Format("15:04:05.000"), who, vip)
	})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(o.Close)
	return o
}
