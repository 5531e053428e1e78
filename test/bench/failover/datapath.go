package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"vigil/lvs"
	"vigil/lvs/lvstest"
	"vigil/lvs/nft"
	"vigil/test/netns"
)

// dpResult is the nftables datapath measured beside `nft -f` of the same
// services written by hand (nft.Reference), in one network namespace.
type dpResult struct {
	services, reals   int
	apply, refApply   []time.Duration // from empty
	change, refChange []time.Duration // one real server's weight
	ops               []uint64        // kernel operations (netlink messages) of the weight change
}

const dpSeed = 0x5eed

// measureDatapath applies 10,000 services with 10 real servers each from
// empty through vigil's nftables datapath, then changes one real server's
// weight, n times; and loads the reference ruleset with nft -f (refN times,
// it is slow) and rewrites what the weight change touches there, n times.
func measureDatapath(dir string, n, refN int) dpResult {
	bt := &netns.Standalone{}
	defer bt.Close()
	h := netns.NewNamed(bt, "vgdp").Host("lb")
	f, err := os.Open("/run/netns/" + h.Namespace())
	if err != nil {
		panic(netns.Failure{Msg: err.Error()})
	}
	defer f.Close()
	r := dpResult{services: 10000, reals: 10}
	st := lvstest.Many(r.services, r.reals)
	changed := st.Clone()
	changed.Services[r.services/2].Reals[4].Weight = 3
	ctx := context.Background()
	for range n {
		dp, err := nft.New(nft.Options{Table: "vigil", Seed: dpSeed, NetNS: int(f.Fd())})
		if err != nil {
			panic(netns.Failure{Msg: err.Error()})
		}
		t0 := time.Now()
		mustApply(ctx, dp, st)
		r.apply = append(r.apply, time.Since(t0))
		ops := dp.KernelOps()
		t0 = time.Now()
		mustApply(ctx, dp, changed)
		r.change = append(r.change, time.Since(t0))
		r.ops = append(r.ops, dp.KernelOps()-ops)
		if err := dp.Delete(ctx); err != nil {
			panic(netns.Failure{Msg: err.Error()})
		}
		dp.Close()
		fmt.Printf("  vigil: apply %v, weight change %v (%d kernel operations)\n",
			r.apply[len(r.apply)-1].Round(time.Millisecond), r.change[len(r.change)-1].Round(time.Millisecond), r.ops[len(r.ops)-1])
	}
	full, one := filepath.Join(dir, "ref-full.nft"), filepath.Join(dir, "ref-one.nft")
	writeFile(full, nft.Reference("ref", st, dpSeed))
	writeFile(one, nft.ReferenceService("ref", r.services/2, changed.Services[r.services/2], dpSeed))
	run := func(args ...string) time.Duration {
		t0 := time.Now()
		if out, err := h.Run(args...); err != nil {
			panic(netns.Failure{Msg: fmt.Sprintf("%v\n%s", err, out)})
		}
		return time.Since(t0)
	}
	for i := range refN {
		r.refApply = append(r.refApply, run("nft", "-f", full))
		fmt.Printf("  nft -f: load %v\n", r.refApply[i].Round(time.Millisecond))
		if i < refN-1 {
			run("nft", "delete", "table", "ip", "ref")
		}
	}
	for range n {
		r.refChange = append(r.refChange, run("nft", "-f", one))
	}
	run("nft", "delete", "table", "ip", "ref")
	return r
}

func mustApply(ctx context.Context, dp lvs.Datapath, st lvs.State) {
	if err := dp.Apply(ctx, st); err != nil {
		panic(netns.Failure{Msg: "nftables datapath: " + err.Error()})
	}
}

func renderDatapath(r dpResult) string {
	if len(r.apply) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n| nftables datapath, %s services × %d real servers (median) | vigil | nft -f, the same services by hand | nft -f / vigil |\n", thousands(r.services), r.reals)
	fmt.Fprintln(&b, "|---|---|---|---|")
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	a, ra := quantile(r.apply, 0.5), quantile(r.refApply, 0.5)
	fmt.Fprintf(&b, "| apply from empty | %.2f s | %.2f s | %.1f× |\n", a.Seconds(), ra.Seconds(), ra.Seconds()/a.Seconds())
	c, rc := quantile(r.change, 0.5), quantile(r.refChange, 0.5)
	ops := slices.Max(r.ops)
	fmt.Fprintf(&b, "| change one real server's weight | %.0f ms, %d kernel operations | %.0f ms | %.1f× |\n", ms(c), ops, ms(rc), ms(rc)/ms(c))
	fmt.Fprintln(&b, "\nvigil: one Apply through netlink (google/nftables), services as map elements under one rule per class. nft -f: a chain and an anonymous map per service, as one would write it by hand; the weight change rewrites that service's chain.")
	return b.String()
}

// thousands renders n with a comma between thousands: 10,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
