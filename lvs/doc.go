// Package lvs computes and programs the load-balancer datapath: the desired
// state (virtual services and their real servers) in one canonical order, a
// pure Diff from the state read back from the kernel to the desired state, and
// the Datapath interface that the ipvs and nftables implementations satisfy.
//
// Everything in this package is deterministic: no goroutines, sockets, or
// time.Now. The desired state is a pure function of the replicated
// configuration (VirtualServer), the health verdicts, and the previous quorum
// states (QuorumStates, for keepalived's hysteresis). Every director computes it
// from the same replicated inputs and so programs byte-identical tables.
//
// Packages: lvs/ipvs (IPVS), lvs/nft (nftables, NAT and DR), lvs/lvstest
// (in-memory kernel model, random states, the conformance suite every
// datapath passes), lvs/datapath (ipvs|nftables|auto selection and
// validation for `vigil config check`).
//
// The driver's ordering contract, once per change and on a periodic sweep
// (Reconcile is that loop):
//
//  1. st, quorum = Desired(vss, verdicts, quorum)   (keep quorum for next time)
//  2. dp.Apply(ctx, st)                               (reads, diffs, applies)
//  3. an error names the services that failed; the rest stay applied, and
//     the next Apply retries only what still differs.
package lvs
