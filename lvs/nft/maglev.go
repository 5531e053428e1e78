package nft

import (
	"net/netip"

	"vigil/lvs"
)

// TableSizes are the Maglev/numgen table sizes (primes, as Maglev needs). A
// service uses the smallest size with at least SlotsPerReal slots per real
// server, so its table only changes size when its number of reals crosses a
// boundary (that reshuffles the service's clients once).
var TableSizes = []uint32{61, 251, 1021, 4093, 16381}

// SlotsPerReal is the minimum number of table slots per real server.
const SlotsPerReal = 6

// TableSize returns the table size for a service with n real servers that
// is at least min, or 0 if there is none large enough.
func TableSize(n int, min uint32) uint32 {
	for _, m := range TableSizes {
		if m >= min && int(m) >= SlotsPerReal*n {
			return m
		}
	}
	return 0
}

// Maglev fills a table of m slots (m prime) with indexes into reals, in
// proportion to their weights, by Maglev's permutation method (Eisenbud et
// al., NSDI 2016): each real prefers slots in its own pseudo-random order
// derived from its address and port, and reals take turns claiming their next
// preferred free slot. The turns are ordered by smooth weighted round robin,
// so a real gets about weight/total of the slots. Removing or reweighting one
// real moves few slots of the others: that is what keeps established
// connections on their real server when the set changes. Reals with weight
// 0 get no slot; if all have weight 0 every slot is -1.
//
// The result depends only on the reals (in canonical order), their weights and
// m: every director computes the same table.
func Maglev(reals []lvs.Real, m uint32) []int {
	table := make([]int, m)
	for i := range table {
		table[i] = -1
	}
	type cand struct {
		idx          int
		offset, skip uint32
		next         uint32
		w, credit    int
	}
	var cs []*cand
	total := 0
	for i, r := range reals {
		if r.Weight <= 0 {
			continue
		}
		key := addrPortBytes(r.AddrPort())
		cs = append(cs, &cand{
			idx:    i,
			offset: JHash(key, 0x6d61676c) % m,       // "magl"
			skip:   JHash(key, 0x65763121)%(m-1) + 1, // "ev1!"
			w:      r.Weight,
		})
		total += r.Weight
	}
	if len(cs) == 0 {
		return table
	}
	for filled := uint32(0); filled < m; filled++ {
		// Smooth weighted round robin picks whose turn it is.
		var best *cand
		for _, c := range cs {
			c.credit += c.w
			if best == nil || c.credit > best.credit {
				best = c
			}
		}
		best.credit -= total
		for {
			slot := (best.offset + best.next*best.skip) % m
			best.next++
			if table[slot] < 0 {
				table[slot] = best.idx
				break
			}
		}
	}
	return table
}

// RoundRobin fills a table of m slots with indexes into reals in smooth
// weighted round-robin order, for numgen-based rr and wrr: consecutive slots
// go to different reals, and each real gets about weight/total of them.
func RoundRobin(reals []lvs.Real, m uint32) []int {
	table := make([]int, m)
	credit := make([]int, len(reals))
	total := 0
	for _, r := range reals {
		if r.Weight > 0 {
			total += r.Weight
		}
	}
	for s := range table {
		table[s] = -1
		if total == 0 {
			continue
		}
		best := -1
		for i, r := range reals {
			if r.Weight <= 0 {
				continue
			}
			credit[i] += r.Weight
			if best < 0 || credit[i] > credit[best] {
				best = i
			}
		}
		credit[best] -= total
		table[s] = best
	}
	return table
}

func addrPortBytes(ap netip.AddrPort) []byte {
	b := ap.Addr().AsSlice()
	return append(b, byte(ap.Port()>>8), byte(ap.Port()))
}
