package e2e

import (
	"bytes"
	"testing"
	"time"

	"vigil/fencing/notify"
	"vigil/test/sinktest"
)

// TestSinkDownNeverDelaysFailover: the webhook receiver is down in the
// worst way (it holds every request unanswered until the client's timeout)
// from the start. The holder is killed; the VIP moves, and the new
// holder's notify script runs, while the new holder's webhook is still
// retrying its very first notification: the failover never waited for the
// sink. When the receiver comes back, the new holder's MASTER transition
// arrives.
func TestSinkDownNeverDelaysFailover(t *testing.T) {
	const attempts = 5
	s := newSinks(t)
	c := newCluster3Opts(t, s.clusterConf(3*time.Second, attempts), "")
	s.attach(c, false)
	for _, n := range names3 {
		c.start(n)
	}
	c.waitAnswer(20*time.Second, func(n string) bool { return n == "d1" })

	c.kill("d1")
	holder, took := c.waitAnswer(takeover, func(n string) bool { return n != "d1" })
	moved := time.Now()
	ip := c.d[holder].lanIP
	t.Logf("%s answers on the VIP %v after d1 was killed", holder, took.Round(time.Millisecond))

	// The new holder's first notification: all its attempts, held by the
	// receiver until the client gave up.
	var first []sinktest.HookRequest
	for deadline := time.Now().Add(2 * time.Minute); len(first) < attempts || first[attempts-1].End.IsZero(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s's webhook did not make %d attempts at its first notification: %+v", holder, attempts, first)
		}
		first = first[:0]
		for _, r := range s.hook.Requests() {
			if r.From == ip && (len(first) == 0 || bytes.Equal(r.Body, first[0].Body)) {
				first = append(first, r)
			}
		}
	}
	gaveUp := first[attempts-1].End
	for i, r := range first[:attempts] {
		if r.Answered {
			t.Errorf("attempt %d of %s's first notification was answered by a receiver that is down", i+1, holder)
		}
	}
	if !moved.Before(gaveUp) {
		t.Errorf("the VIP moved at %s, after %s's webhook gave up on its first notification at %s: the failover may have waited for the sink",
			moved.Format("15:04:05.000"), holder, gaveUp.Format("15:04:05.000"))
	}
	if !first[0].Start.Before(moved) {
		t.Errorf("%s's first webhook attempt started at %s, not before the failover at %s: the sink was not down during it",
			holder, first[0].Start.Format("15:04:05.000"), moved.Format("15:04:05.000"))
	}
	master := "INSTANCE VI_1 MASTER " + map[string]string{"d2": "99", "d3": "98"}[holder]
	if !c.notifiedHas(holder, master) {
		t.Errorf("%s had not run notify %q when its webhook gave up on its first notification: %q", holder, master, c.notified(holder))
	}
	t.Logf("VIP moved %.1fs before %s's webhook gave up its first notification (%d attempts)", gaveUp.Sub(moved).Seconds(), holder, attempts)

	// The receiver comes back: the MASTER transition, queued behind, arrives.
	s.hook.Up()
	p := s.waitHook(t, ip, 90*time.Second, func(p notify.Payload) bool {
		return p.Transition != nil && p.Transition.State == notify.StateMaster
	})
	if p.Type != "transition" || p.Transition.Name != "VI_1" || p.Transition.Epoch == 0 {
		t.Errorf("%s's MASTER transition payload: %+v %+v", holder, p, p.Transition)
	}
}
