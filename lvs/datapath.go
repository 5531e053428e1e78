package lvs

import "context"

// Datapath programs the kernel's load balancer. Implementations: package
// lvs/ipvs (IPVS through generic netlink), lvs/nft (nftables), lvs/lvstest
// (in memory). All pass lvstest.RunConformance.
//
// Contract:
//   - Apply makes the kernel match want and may be called any number of times
//     with the same State (tailscale router.Set style): it reads the kernel,
//     diffs and applies only the difference, so a second identical call does
//     nothing. It touches only services it created or that want names.
//     A failure on one service is reported (errors joined, each an
//     *OpError) and leaves the other services applied; the next Apply
//     retries what still differs.
//   - Read returns what the datapath currently has programmed that it owns,
//     in canonical form.
//   - Methods are not safe for concurrent use; the driver serializes them.
//   - Close releases sockets; it does not remove the programmed state (a
//     restarting agent must not drop established connections).
type Datapath interface {
	Apply(ctx context.Context, want State) error
	Read(ctx context.Context) (State, error)
	Close() error
}

// Validator is implemented by datapaths that cannot express every State:
// Validate returns a *ServiceError (wrapping ErrUnsupported) naming the first
// service it cannot program, so `vigil config check` can reject it up front.
type Validator interface {
	Validate(State) error
}

// Counter is implemented by datapaths that count the kernel operations
// (netlink messages) they send.
type Counter interface {
	KernelOps() uint64
}
