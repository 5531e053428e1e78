package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
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
//
// A live configuration change replaces the instances (SetInstances): a
// held instance keeps the definition it was taken with until it is
// released (the cluster core releases it at once when its definition
// changed), and only then is the old definition retired.
type Wire struct {
	mgr    *vip.Manager
	ann    *vip.Announcer
	fence  Fence
	log    *slog.Logger
	retire func(*WireInstance) // called with a superseded definition once nothing holds it

	mu      sync.Mutex
	inst    map[string]*WireInstance // the running configuration's, taken at the next take
	held    map[string]heldInstance  // held instances
	refused map[string]string        // instances whose take Vet refuses → why, as last said
}

// heldInstance is an instance held under the definition it was taken with,
// until its lease end.
type heldInstance struct {
	*WireInstance
	until time.Time
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
// instances. retire (nil: nothing to do) is called, from Release or
// SetInstances, with each definition a configuration change superseded,
// once nothing holds it: its sockets can be closed, its addresses dropped
// from the VIP manager's and the fence's.
func NewWire(mgr *vip.Manager, ann *vip.Announcer, fence Fence, instances []*WireInstance, retire func(*WireInstance), log *slog.Logger) *Wire {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if retire == nil {
		retire = func(*WireInstance) {}
	}
	w := &Wire{mgr: mgr, ann: ann, fence: fence, inst: map[string]*WireInstance{}, held: map[string]heldInstance{}, refused: map[string]string{}, retire: retire, log: log}
	for _, i := range instances {
		w.inst[i.Name] = i
	}
	return w
}

// SetInstances replaces the instances (a live configuration change). An
// instance whose definition is a new one is taken under it from its next
// take; a superseded definition nothing holds is retired at once, a held
// one when it is released. Call it from the agent's loop.
func (w *Wire) SetInstances(instances []*WireInstance) {
	next := map[string]*WireInstance{}
	for _, i := range instances {
		next[i.Name] = i
	}
	w.mu.Lock()
	var retired []*WireInstance
	for name, old := range w.inst {
		if next[name] == old {
			continue
		}
		if h, ok := w.held[name]; !ok || h.WireInstance != old {
			retired = append(retired, old)
		}
	}
	w.inst = next
	w.mu.Unlock()
	for _, old := range retired {
		w.retire(old)
	}
}

// Definitions are every definition in use: the running configuration's
// and the superseded ones still held. Their addresses are what the VIP
// manager and the fence must know.
func (w *Wire) Definitions() []*WireInstance {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*WireInstance
	for _, i := range w.inst {
		out = append(out, i)
	}
	for name, h := range w.held {
		if w.inst[name] != h.WireInstance {
			out = append(out, h.WireInstance)
		}
	}
	slices.SortFunc(out, func(a, b *WireInstance) int { return strings.Compare(a.Name, b.Name) })
	return out
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
	w.mu.Lock()
	h, was := w.held[instance]
	i := h.WireInstance
	if !was {
		i = w.inst[instance]
	}
	w.mu.Unlock()
	if i == nil {
		return fmt.Errorf("agent: hold %s: no such instance", instance)
	}
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
	w.held[instance] = heldInstance{i, until}
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
				delete(w.held, instance)
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
	// No gratuitous ARP or advert after the lease end, even from a process
	// that was frozen and runs again before its loop releases.
	for _, h := range i.Addrs {
		w.ann.Lease(h.Iface, h.Addr.Addr(), until)
	}
	if i.Sender != nil {
		i.Sender.Lease(until)
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

// Release implements Executor. A superseded definition is retired once
// released.
func (w *Wire) Release(instance string, epoch uint64, reason string) error {
	w.mu.Lock()
	h, was := w.held[instance]
	i := h.WireInstance
	if !was {
		i = w.inst[instance]
	}
	delete(w.held, instance)
	holds := w.holdsLocked()
	superseded := was && w.inst[instance] != i
	w.mu.Unlock()
	if i == nil {
		return fmt.Errorf("agent: release %s: no such instance", instance)
	}
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
	if superseded {
		w.retire(i)
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
	for _, hi := range w.held {
		for _, h := range hi.Addrs {
			h.Until = hi.until
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
	w.mu.Lock()
	i, ok := w.inst[instance]
	h, held := w.held[instance]
	w.mu.Unlock()
	if !ok {
		return fmt.Errorf("agent: set priority of %s: no such instance", instance)
	}
	i.Advert.Priority = priority
	if held && h.WireInstance == i && i.Sender != nil {
		if err := i.Sender.Hold(i.Advert); err != nil {
			return fmt.Errorf("agent: set priority of %s: %w", instance, err)
		}
	}
	return nil
}
