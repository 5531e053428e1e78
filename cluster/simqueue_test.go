package cluster

// The simulation's event queue: a binary heap ordered by true time, ties
// broken by insertion order so every run of a seed is identical.

type simEv struct {
	at   int64
	seq  uint64
	kind uint8
	node int
	gen  uint64
	msg  *simMsg
}

type evQueue []simEv

func (q *evQueue) push(e simEv) {
	*q = append(*q, e)
	h := *q
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].less(h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (e simEv) less(o simEv) bool { return e.at < o.at || (e.at == o.at && e.seq < o.seq) }

func (q *evQueue) pop() simEv {
	h := *q
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && h[l].less(h[m]) {
			m = l
		}
		if r < n && h[r].less(h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}
