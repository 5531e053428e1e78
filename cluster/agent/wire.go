package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"vigil/fencing/nftfence"
	"vigil/vrrp"
	"vigil/vrrp/vip"
)

// WireInstance is what holding one instance puts on the wire.
type WireInstance struct {
	Name string
	// Addrs are the instance's VIPs (Until is filled in at each Hold).
	Addrs []vip.Hold
	// Advert is what the instance advertises while held; Sender sends it.
	// A nil Sender sends no adverts (an instance on an interface without
	// VRRP peers, or a test).
	Advert vrrp.Advert
	Sender *vrrp.Sender
	// Vet, when set, is asked before the instance is taken (not on
	// renewals): an error refuses the take, and Hold returns it. It runs
	// on the agent's loop and may block for a probe's duration.
	Vet func() error
	// Base is the instance's interface when its VIPs are on a VMAC: a VIP
	// found there (left by a run without use_vmac) is removed too.
	Base string
}

// Wire is the Executor of a real director: addresses through the VIP
// manager (with lease-bound kernel lifetimes), gratuitous ARP / unsolicited
// NA through the announcer, VRRP adverts through each instance's sender.
//
// Ordering (vrrp/vip's contract): taking an instance configures the
// addresses first and announces them after; releasing stops the
// announcements first, then removes the addresses, then sends the
// priority-0 advert, so no packet ever claims an address that is gone.
type Wire struct {
	mgr   *vip.Manager
	ann   *vip.Announcer
	fence Fence
	inst  map[string]*WireInstance
	log   *slog.Logger

	mu      sync.Mutex
	until   map[string]time.Time // held instances → lease end
	refused map[string]string    // instances whose take Vet refuses → why, as last said
}

// errStillRefused marks a refusal said before in the same words: the
// agent logs it quietly (a refused instance is retried on every renewal).
var errStillRefused = errors.New("still refused")

// Fence is the kernel-level self-fence (fencing/nftfence): the node
// answers for a VIP only while it is in the fence's held set, each until
// its lease end, whether or not the process still runs.
type Fence interface {
	Set(now time.Time, held []nftfence.Held) error
}

// NewWire returns a Wire over the manager, announcer and fence (nil: no
// fence; the address lifetime alone then bounds a frozen holder) for
// instances.
func NewWire(mgr *vip.Manager, ann *vip.Announcer, fence Fence, instances []*WireInstance, log *slog.Logger) *Wire {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Wire{mgr: mgr, ann: ann, fence: fence, inst: map[string]*WireInstance{}, until: map[string]time.Time{}, refused: map[string]string{}, log: log}
	for _, i := range instances {
		w.inst[i.Name] = i
	}
	return w
}

// Owned lists every address of the instances: the VIP manager removes
// any of them this node does not hold.
func Owned(instances []*WireInstance) []vip.Owned {
	var out []vip.Owned
	for _, i := range instances {
		for _, h := range i.Addrs {
			out = append(out, vip.Owned{Iface: h.Iface, Addr: h.Addr.Addr()})
			if i.Base != "" && h.Iface != i.Base {
				out = append(out, vip.Owned{Iface: i.Base, Addr: h.Addr.Addr()})
			}
		}
	}
	return out
}

// Hold implements Executor.
func (w *Wire) Hold(instance string, epoch uint64, until time.Time) error {
	i, ok := w.inst[instance]
	if !ok {
		return fmt.Errorf("agent: hold %s: no such instance", instance)
	}
	w.mu.Lock()
	_, was := w.until[instance]
	w.mu.Unlock()
	if !was && i.Vet != nil {
		if err := i.Vet(); err != nil {
			w.mu.Lock()
			again := w.refused[instance] == err.Error()
			w.refused[instance] = err.Error()
			w.mu.Unlock()
			err = fmt.Errorf("agent: hold %s epoch %d: not taken: %w", instance, epoch, err)
			if again {
				err = fmt.Errorf("%w: %w", errStillRefused, err)
			}
			return err
		}
	}
	w.mu.Lock()
	delete(w.refused, instance)
	w.until[instance] = until
	holds := w.holdsLocked()
	w.mu.Unlock()
	// Open the fence before the address appears: the lease bounds both.
	if err := w.setFence(holds); err != nil {
		return fmt.Errorf("agent: hold %s epoch %d: %w", instance, epoch, err)
	}
	if err := w.mgr.Set(holds); err != nil {
		// Errors are per address: the others are applied. Report, and
		// announce only if this instance's own addresses failed nothing.
		// A renewal fails only for a malformed hold: a kernel error there
		// (an interface gone for a moment) is retried by every pass.
		failed := err
		if was {
			failed = nil
		}
		if !w.instanceOK(i, failed) {
			if !was {
				// A take that failed is not held: take back whatever of
				// it went on, so the next Hold starts afresh (burst,
				// adverts) and the instance is all or nothing.
				w.mu.Lock()
				delete(w.until, instance)
				holds = w.holdsLocked()
				w.mu.Unlock()
				if rerr := errors.Join(w.mgr.Set(holds), w.setFence(holds)); rerr != nil {
					w.log.Warn("taking back a failed take", "instance", instance, "err", rerr)
				}
			}
			return fmt.Errorf("agent: hold %s epoch %d: %w", instance, epoch, err)
		}
		w.log.Warn("some addresses failed", "err", err)
	}
	if was {
		return nil
	}
	for _, h := range i.Addrs {
		w.ann.Announce(h.Iface, h.Addr.Addr())
	}
	if i.Sender != nil {
		if err := i.Sender.Hold(i.Advert); err != nil {
			w.log.Warn("first advert failed", "instance", instance, "err", err)
		}
	}
	return nil
}

// Release implements Executor.
func (w *Wire) Release(instance string, epoch uint64, reason string) error {
	i, ok := w.inst[instance]
	if !ok {
		return fmt.Errorf("agent: release %s: no such instance", instance)
	}
	w.mu.Lock()
	_, was := w.until[instance]
	delete(w.until, instance)
	holds := w.holdsLocked()
	w.mu.Unlock()
	if was {
		for _, h := range i.Addrs {
			w.ann.Stop(h.Iface, h.Addr.Addr())
		}
	}
	// Close the fence first: from here on nothing answers for the VIP,
	// even while the address is being removed.
	err := errors.Join(w.setFence(holds), w.mgr.Set(holds))
	if i.Sender != nil {
		err = errors.Join(err, i.Sender.Release())
	}
	if err != nil {
		return fmt.Errorf("agent: release %s epoch %d (%s): %w", instance, epoch, reason, err)
	}
	return nil
}

func (w *Wire) setFence(holds []vip.Hold) error {
	if w.fence == nil {
		return nil
	}
	held := make([]nftfence.Held, 0, len(holds))
	for _, h := range holds {
		held = append(held, nftfence.Held{Addr: h.Addr.Addr(), Until: h.Until})
	}
	return w.fence.Set(time.Now(), held)
}

// holdsLocked is every address held now, with its lease end.
func (w *Wire) holdsLocked() []vip.Hold {
	var out []vip.Hold
	for name, until := range w.until {
		for _, h := range w.inst[name].Addrs {
			h.Until = until
			out = append(out, h)
		}
	}
	return out
}

// instanceOK reports whether every address of i is held after the pass
// whose error is err: none was refused as a hold, none failed in the
// kernel (a missing interface, say).
func (w *Wire) instanceOK(i *WireInstance, err error) bool {
	held := map[netip.Addr]bool{}
	for _, h := range w.mgr.Held() {
		held[h.Addr.Addr()] = true
	}
	failed := failedAddrs(err)
	for _, h := range i.Addrs {
		if !held[h.Addr.Addr()] || failed[h.Addr.Addr()] {
			return false
		}
	}
	return true
}

// failedAddrs collects the addresses of the vip.OpErrors joined in err.
func failedAddrs(err error) map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	var walk func(error)
	walk = func(err error) {
		if oe, ok := err.(*vip.OpError); ok && oe.Addr.IsValid() {
			out[oe.Addr.Addr()] = true
		}
		switch e := err.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			if x := e.Unwrap(); x != nil {
				walk(x)
			}
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// SetPriority changes the priority instance advertises (a live
// configuration change): a held instance's adverts carry it at once. Call
// it from the agent's loop, as Hold and Release are.
func (w *Wire) SetPriority(instance string, priority uint8) error {
	i, ok := w.inst[instance]
	if !ok {
		return fmt.Errorf("agent: set priority of %s: no such instance", instance)
	}
	i.Advert.Priority = priority
	w.mu.Lock()
	_, held := w.until[instance]
	w.mu.Unlock()
	if held && i.Sender != nil {
		if err := i.Sender.Hold(i.Advert); err != nil {
			return fmt.Errorf("agent: set priority of %s: %w", instance, err)
		}
	}
	return nil
}
