package cluster

import (
	"fmt"
	"time"
)

// RequestID names one lease request. Incarnation is chosen at random when
// the process starts, so a grant addressed to a previous incarnation is
// never mistaken for an answer to this one.
type RequestID struct {
	Incarnation uint64
	Seq         uint64
}

func (id RequestID) String() string { return fmt.Sprintf("%x.%d", id.Incarnation, id.Seq) }

// Event is an input to Core.Step. The concrete types are listed below.
type Event interface{ isEvent() }

// Committed carries the committed replicated state after the driver's FSM
// applied one or more entries (or restored a snapshot). The core keeps the
// pointer: the driver must hand over a copy it will not modify (Clone).
type Committed struct{ State *State }

// Leadership reports this node's Raft leadership as a level: feed it on
// every change of leader flag or term.
type Leadership struct {
	Leader bool
	Term   uint64
}

// LeaderReady reports that the leader of Term has applied every entry that
// was in its log when it was elected (hashicorp/raft: Barrier returned).
// Until then the leader grants nothing and moves nothing.
type LeaderReady struct{ Term uint64 }

// Verified answers VerifyLeader: OK when a quorum round that started after
// the action was emitted confirmed the leadership of that term.
type Verified struct {
	Round uint64
	OK    bool
}

// Reachable reports whether the leader hears from Node (Raft heartbeat
// failures/resumes; a gossip change is a hint to recheck, not a verdict).
type Reachable struct {
	Node string
	Up   bool
}

// LeaseRequest is a holder's renewal request as received by the leader.
type LeaseRequest struct {
	From     string
	Instance string
	Epoch    uint64
	ID       RequestID
}

// LeaseGrant is the leader's answer as received by the holder.
type LeaseGrant struct {
	Instance string
	Epoch    uint64
	ID       RequestID
}

// ReleaseRequest asks the holder to give up Instance at Epoch (a planned
// move). Any node may send it; releasing is always safe.
type ReleaseRequest struct {
	Instance string
	Epoch    uint64
}

// Fenced answers FencePeer: OK when the fence-peer hook succeeded (the
// node is powered off or cut off from the network).
type Fenced struct {
	Node     string
	Instance string
	Epoch    uint64
	OK       bool
}

func (Fenced) isEvent()         {}
func (Committed) isEvent()      {}
func (Leadership) isEvent()     {}
func (LeaderReady) isEvent()    {}
func (Verified) isEvent()       {}
func (Reachable) isEvent()      {}
func (LeaseRequest) isEvent()   {}
func (LeaseGrant) isEvent()     {}
func (ReleaseRequest) isEvent() {}

// Action is an output of Core.Ready. The driver executes the actions of one
// batch in order; a later action may depend on an earlier one having
// completed (a release acknowledgement is proposed only after the Release
// that precedes it removed the address).
type Action interface{ isAction() }

// Hold: keep or add Instance's VIP. The lease ends at Until on this node's
// clock. If now >= Until when the driver executes it, it must not add the
// address. Otherwise it adds (or refreshes) the address with a kernel
// valid_lft, and after the netlink call returns it reads the clock again
// and removes the address if Until has passed meanwhile. Timing.KernelSlack
// must bound how long after Until the kernel may keep the address: with
// valid_lft = floor((Until-now)/1s) (not adding when that is 0) the
// kernel's own lateness, 1.3 s; every second added or rounded up on top
// (slack in the VIP manager, rounding up) must be added to KernelSlack.
type Hold struct {
	Instance string
	Epoch    uint64
	Until    time.Time
}

// Release: remove Instance's VIP now (before anything later in the batch).
type Release struct {
	Instance string
	Epoch    uint64
	Reason   string
}

// SendLeaseRequest: send a LeaseRequest for Instance at Epoch to the
// leader (any node that may be the leader; sending to several is safe).
type SendLeaseRequest struct {
	Instance string
	Epoch    uint64
	ID       RequestID
}

// SendGrant: send a LeaseGrant to node To.
type SendGrant struct {
	To       string
	Instance string
	Epoch    uint64
	ID       RequestID
}

// SendReleaseRequest: send a ReleaseRequest to node To.
type SendReleaseRequest struct {
	To       string
	Instance string
	Epoch    uint64
}

// Propose: write Command to the replicated log (raft.Apply on the leader,
// forwarded to the leader elsewhere). Losing it is harmless; the core
// retries.
type Propose struct{ Command Command }

// VerifyLeader: run a quorum round in the current term that starts now and
// answer with Verified{Round, ok}. With hashicorp/raft use Barrier (an entry
// committed by a majority), not VerifyLeader: see the package doc.
type VerifyLeader struct {
	Round uint64
	Term  uint64
}

// FencePeer: run the fence-peer hook (IPMI, switch port, cloud API)
// against Node, which holds Instance at Epoch and did not acknowledge its
// release, and answer with Fenced. Emitted only with Config.Fence; the
// leader moves the instance only after a successful fence (and the usual
// wait). Repeated while the hook fails.
type FencePeer struct {
	Node     string
	Instance string
	Epoch    uint64
}

func (FencePeer) isAction()          {}
func (Hold) isAction()               {}
func (Release) isAction()            {}
func (SendLeaseRequest) isAction()   {}
func (SendGrant) isAction()          {}
func (SendReleaseRequest) isAction() {}
func (Propose) isAction()            {}
func (VerifyLeader) isAction()       {}

// FormatAction renders an action canonically (for logs and golden files),
// with times relative to origin.
func FormatAction(a Action, origin time.Time) string {
	switch a := a.(type) {
	case Hold:
		return fmt.Sprintf("hold %s epoch=%d until=%v", a.Instance, a.Epoch, a.Until.Sub(origin))
	case Release:
		return fmt.Sprintf("release %s epoch=%d (%s)", a.Instance, a.Epoch, a.Reason)
	case SendLeaseRequest:
		return fmt.Sprintf("send lease-request %s epoch=%d id=%d", a.Instance, a.Epoch, a.ID.Seq)
	case SendGrant:
		return fmt.Sprintf("send grant to=%s %s epoch=%d id=%d", a.To, a.Instance, a.Epoch, a.ID.Seq)
	case SendReleaseRequest:
		return fmt.Sprintf("send release-request to=%s %s epoch=%d", a.To, a.Instance, a.Epoch)
	case Propose:
		return "propose " + a.Command.String()
	case VerifyLeader:
		return fmt.Sprintf("verify-leader round=%d term=%d", a.Round, a.Term)
	case FencePeer:
		return fmt.Sprintf("fence-peer %s %s epoch=%d", a.Node, a.Instance, a.Epoch)
	}
	return fmt.Sprintf("%T", a)
}
