//go:build linux

package nft_test

import (
	"encoding/json"
	"strings"
	"testing"

	"vigil/lvs"
	"vigil/lvs/lvstest"
	"vigil/lvs/nft"
	"vigil/test/netns"
)

// TestListedRuleset applies a state and reads it back with `nft -j list
// table`: the rules nft itself decodes must be the documented ones, and the
// maps must hold the computed tables.
func TestListedRuleset(t *testing.T) {
	lab := netns.New(t)
	h := lab.Host("lb")
	dp := openDP(t, h, nft.Options{Table: "vigil", ClientInterface: "eth0"})
	st := lvs.State{Services: []lvs.Service{
		{Proto: lvs.TCP, Addr: lvstest.MustAddr("10.91.0.200"), Port: 8080, Scheduler: "mh",
			Reals: []lvs.Real{{Addr: lvstest.MustAddr("10.92.0.21"), Port: 8080, Weight: 1, Method: lvs.NAT},
				{Addr: lvstest.MustAddr("10.92.0.22"), Port: 8080, Weight: 1, Method: lvs.NAT}}},
		{Proto: lvs.TCP, Addr: lvstest.MustAddr("10.91.0.200"), Port: 443, Scheduler: "sh", Flags: lvs.FlagSHPort,
			Reals: []lvs.Real{{Addr: lvstest.MustAddr("10.92.0.21"), Port: 443, Weight: 1, Method: lvs.NAT}}},
		{Proto: lvs.UDP, Addr: lvstest.MustAddr("10.91.0.200"), Port: 53, Scheduler: "wrr",
			Reals: []lvs.Real{{Addr: lvstest.MustAddr("10.92.0.23"), Port: 53, Weight: 2, Method: lvs.NAT}}},
		{Proto: lvs.TCP, Addr: lvstest.MustAddr("10.91.0.201"), Port: 80, Scheduler: "sh", PersistenceTimeout: 300, PersistenceNetmask: 24,
			Reals: []lvs.Real{{Addr: lvstest.MustAddr("10.92.0.24"), Port: 80, Weight: 1, Method: lvs.NAT}}},
	}}
	if err := dp.Apply(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	text := h.MustRun("nft", "list", "table", "ip", "vigil")
	t.Logf("nft list table ip vigil:\n%s", text)
	for _, want := range []string{
		"meta mark vmap @marks\n\t\tmeta l4proto . ip daddr . th dport vmap @services\n",
		`tcp . 10.91.0.200 . 8080 comment "vigil svc sched=mh flags=0x0 timeout=0 netmask=0" : goto c_src_61_32_s`,
		"dnat ip to meta l4proto . ip daddr . th dport . jhash ip saddr mod 61 seed 0x5eed map @slots_src_61_32_s",
		"dnat ip to meta l4proto . ip daddr . th dport . jhash ip saddr . th sport mod 61 seed 0x5eed map @slots_srcport_61_32_s",
		"dnat ip to meta l4proto . ip daddr . th dport . numgen inc mod 61 map @slots_numgen_61_32_s",
		"dnat ip to meta l4proto . ip daddr . th dport . jhash ip saddr & 255.255.255.0 mod 61 seed 0x5eed map @slots_src_61_24_s",
		"tcp . 10.91.0.200 . 8080 . 0x00000000 : 10.92.0.2",
		`oifname "eth0" counter packets 0 bytes 0 snat ip to meta l4proto . ip saddr . th sport map @pickup`,
		"size 128\n", // capacity(61): the slots maps
		"udp . 10.91.0.200 . 53 . 10.92.0.23 . 53 : 0x00000002", // a weight
	} {
		if !strings.Contains(text, want) {
			t.Errorf("nft listing lacks %q", want)
		}
	}
	out := h.MustRun("nft", "-j", "list", "table", "ip", "vigil")
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("nft -j: %v\n%s", err, out)
	}
	elems := map[string]int{}
	rules := 0
	for _, obj := range doc.Nftables {
		if raw, ok := obj["map"]; ok {
			var m struct {
				Name string            `json:"name"`
				Elem []json.RawMessage `json:"elem"`
			}
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			elems[m.Name] = len(m.Elem)
		}
		if _, ok := obj["rule"]; ok {
			rules++
		}
	}
	// 4 services with 61 slots each, in four classes; one weight and one
	// pickup entry per real server; one rule per class chain, plus marks,
	// dispatch and pickup.
	want := map[string]int{"services": 4, "pickup": 5, "marks": 0}
	slots, reals := 0, 0
	for name, n := range elems {
		if strings.HasPrefix(name, "slots_") {
			slots += n
		}
		if strings.HasPrefix(name, "reals_s") {
			reals += n
		}
	}
	if reals != 5 {
		t.Errorf("%d elements in the reals maps, want 5", reals)
	}
	if slots != 4*61 {
		t.Errorf("%d slots in the slots maps, want 4*61", slots)
	}
	for name, n := range want {
		if elems[name] != n {
			t.Errorf("map %s has %d elements, want %d (all: %v)", name, elems[name], n, elems)
		}
	}
	if rules != 7 {
		t.Errorf("%d rules, want 7", rules)
	}
}
