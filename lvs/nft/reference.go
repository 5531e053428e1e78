package nft

import (
	"fmt"
	"strings"

	"vigil/lvs"
)

// Reference renders the NAT services of st (IPv4, address services) as
// one would write them by hand for `nft -f`, in table ip <table>: a chain
// per service whose one rule picks the real server from the service's
// table (the slots this datapath computes) held in an anonymous map, and a
// vmap that dispatches to those chains. Benchmarks load it beside the
// datapath, as the reference; ReferenceService renders one service's chain
// again, which is what a weight change rewrites there.
func Reference(table string, st lvs.State, seed uint32) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table ip %s {\n map services { type inet_proto . ipv4_addr . inet_service : verdict; }\n", table)
	b.WriteString(" chain prerouting { type nat hook prerouting priority dstnat; meta l4proto . ip daddr . th dport vmap @services; }\n}\n")
	for i, s := range st.Services {
		b.WriteString(ReferenceService(table, i, s, seed))
		fmt.Fprintf(&b, "add element ip %s services { %s . %s . %d : goto svc_%d }\n", table, s.Proto, s.Addr, s.Port, i)
	}
	return b.String()
}

// ReferenceService renders service s, the i-th of Reference's state.
func ReferenceService(table string, i int, s lvs.Service, seed uint32) string {
	var b strings.Builder
	slots := Slots(s, 0)
	fmt.Fprintf(&b, "add chain ip %s svc_%d\nflush chain ip %s svc_%d\n", table, i, table, i)
	fmt.Fprintf(&b, "add rule ip %s svc_%d meta l4proto %s dnat ip to jhash ip saddr mod %d seed %#x map { ", table, i, s.Proto, len(slots), seed)
	for slot, ap := range slots {
		if slot > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d : %s . %d", slot, ap.Addr(), ap.Port())
	}
	b.WriteString(" }\n")
	return b.String()
}
