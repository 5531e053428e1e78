//go:build linux

package nft_test

import (
	"os"
	"testing"
	"time"

	"vigil/lvs"
	"vigil/lvs/lvstest"
	"vigil/lvs/nft"
	"vigil/test/netns"
)

// TestKernelOpsPerChange counts the netlink messages of small changes to a
// service with 10 reals: the budget is at most 5 for a weight change.
func TestKernelOpsPerChange(t *testing.T) {
	lab := netns.New(t)
	dp := openDP(t, lab.Host("lb"), nft.Options{})
	st := lvstest.Many(50, 10)
	if err := dp.Apply(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name   string
		change func(s *lvs.Service)
		max    uint64
	}{
		{"weight change", func(s *lvs.Service) { s.Reals[3].Weight = 5 }, 5},
		{"weight 0 (inhibit)", func(s *lvs.Service) { s.Reals[3].Weight = 0 }, 5},
		{"remove a real", func(s *lvs.Service) { s.Reals = s.Reals[:9] }, 6},
		{"add it back", func(s *lvs.Service) {}, 6},
		// mh and sh share a class: only the service's element changes.
		{"scheduler change, same class", func(s *lvs.Service) { s.Scheduler = "sh" }, 2},
		// The first wrr service (of its shard) also creates that class's
		// chain, rule and map, and the mh class of its shard, now empty,
		// goes (flush, delete chain and map).
		{"scheduler change, new class", func(s *lvs.Service) { s.Scheduler = "wrr" }, 9},
	}
	for _, stp := range steps {
		want := st.Clone()
		stp.change(&want.Services[17])
		before := dp.KernelOps()
		if err := dp.Apply(t.Context(), want); err != nil {
			t.Fatal(err)
		}
		n := dp.KernelOps() - before
		t.Logf("%s: %d kernel operations", stp.name, n)
		if n == 0 || n > stp.max {
			t.Errorf("%s: %d kernel operations, want 1..%d", stp.name, n, stp.max)
		}
		got, err := dp.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(want) {
			t.Fatalf("%s: Read differs from want", stp.name)
		}
		if stp.name != "remove a real" {
			st = want
		}
	}
}

// BenchmarkApply10kServices applies 10,000 services with 10 real servers
// each to an empty table (the target: under 2 s per op), then
// reports the kernel operations of one weight change.
func BenchmarkApply10kServices(b *testing.B) {
	lab := netns.New(b)
	h := lab.Host("lb")
	st := lvstest.Many(10000, 10)
	changed := st.Clone()
	changed.Services[5000].Reals[4].Weight = 3
	var ops float64
	var took time.Duration
	for b.Loop() {
		b.StopTimer()
		dp := openDP(b, h, nft.Options{})
		b.StartTimer()
		if err := dp.Apply(b.Context(), st); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		before := dp.KernelOps()
		t0 := time.Now()
		if err := dp.Apply(b.Context(), changed); err != nil {
			b.Fatal(err)
		}
		took = time.Since(t0)
		ops = float64(dp.KernelOps() - before)
		if err := dp.Delete(b.Context()); err != nil {
			b.Fatal(err)
		}
		dp.Close()
		b.StartTimer()
	}
	b.ReportMetric(ops, "ops/weight-change")
	b.ReportMetric(float64(took.Microseconds())/1000, "ms/weight-change")
}

// BenchmarkNftFReference does with `nft -f` what BenchmarkApply10kServices
// does through netlink: load 10,000 services with 10 reals from empty, then
// change one weight (rewriting that service's rule and map).
func BenchmarkNftFReference(b *testing.B) {
	lab := netns.New(b)
	h := lab.Host("lb")
	st := lvstest.Many(10000, 10)
	dir := b.TempDir()
	full := dir + "/full.nft"
	if err := os.WriteFile(full, []byte(nft.Reference("ref", st, testSeed)), 0o644); err != nil {
		b.Fatal(err)
	}
	changed := st.Services[5000]
	changed.Reals = append([]lvs.Real{}, changed.Reals...)
	changed.Reals[4].Weight = 3
	one := dir + "/one.nft"
	if err := os.WriteFile(one, []byte(nft.ReferenceService("ref", 5000, changed, testSeed)), 0o644); err != nil {
		b.Fatal(err)
	}
	var took time.Duration
	for b.Loop() {
		h.MustRun("nft", "-f", full)
		b.StopTimer()
		t0 := time.Now()
		h.MustRun("nft", "-f", one)
		took = time.Since(t0)
		h.MustRun("nft", "delete", "table", "ip", "ref")
		b.StartTimer()
	}
	b.ReportMetric(float64(took.Microseconds())/1000, "ms/weight-change")
}
