//go:build linux

package notify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vigil/fencing"
	"vigil/test/netns"
)

// A self-fencing measured on a real kernel: at lease expiry the VIP is
// removed, adverts stopped, notify_fault run (through the Notifier, whose
// OnDone marks the step); the report has every step, in order.
func TestSelfFenceMeasured(t *testing.T) {
	checkNoLeaks(t)
	lab := netns.New(t)
	lan := lab.Bridge("lan")
	d1 := lab.Host("d1")
	d1.Link(lan, "eth0", "10.0.0.11/24")
	d1.MustRun("ip", "addr", "add", "10.0.0.100/24", "dev", "eth0")

	dir := t.TempDir()
	log := filepath.Join(dir, "fault.log")
	fault := writeScript(t, dir, "fault", "echo \"fault $*\" >> "+log+"\n")
	sf := fencing.NewSelfFence("VI_1", 42, time.Now())
	marked := make(chan struct{})
	n := NewNotifier(NotifierConfig{
		Instances: map[string]Scripts{"VI_1": {Fault: &Script{Argv: []string{fault}}}},
		OnDone: func(tr Transition, err error) {
			if tr.State == StateFault && err == nil {
				sf.Mark(fencing.StepNotifyFault, time.Now())
			}
			close(marked)
		},
	})
	defer n.Close(t.Context())

	// 1. VIP released.
	d1.MustRun("ip", "addr", "del", "10.0.0.100/24", "dev", "eth0")
	sf.Mark(fencing.StepVIPReleased, time.Now())
	// 2. Adverts stopped (the advert loop has returned).
	sf.Mark(fencing.StepAdvertsStopped, time.Now())
	// 3. notify_fault.
	n.Notify(Transition{Name: "VI_1", State: StateFault, Priority: 100, Epoch: 42})
	<-marked

	r := sf.Report()
	t.Log(r)
	if !r.Complete || !(r.VIPReleased <= r.AdvertsStopped && r.AdvertsStopped <= r.NotifyFault) || r.Total != r.NotifyFault || r.VIPReleased <= 0 {
		t.Fatalf("report %v", r)
	}
	if out := d1.MustRun("ip", "-4", "addr", "show", "dev", "eth0"); strings.Contains(out, "10.0.0.100") {
		t.Fatalf("VIP still configured:\n%s", out)
	}
	if b, _ := os.ReadFile(log); string(b) != "fault \n" {
		t.Fatalf("notify_fault log %q", b)
	}
}
