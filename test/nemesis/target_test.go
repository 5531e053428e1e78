package nemesis

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"vigil/test/topo"
)

// target is a system the nemesis runs its schedules against, on the
// topology of topo.Three: vigil's agents, or three keepalived nodes. The
// faults are the same for both; vigil's operations (drain, transfer,
// configuration changes) are no-ops against keepalived, which has none.
type target struct {
	label  string
	t      *testing.T
	th     *topo.Three
	d      *topo.Daemons
	obs    *topo.Observer
	rec    *topo.Recorder
	advert time.Duration // the system's VRRP advert interval
	conf   string        // vigil's configuration file; "" for keepalived
	ops    *opQueue      // vigil's operations, one at a time in the background
	config *configLog    // vigil's configuration changes and their outcomes
	tables int           // nftables tables added so far (each fault gets its own)
	stats  opStats       // vigil's drains and transfers
}

// do carries out st and returns how to undo it.
func (tg *target) do(st step) (heal func()) {
	n := st.node
	noop := func() {}
	switch st.kind {
	case kill:
		if !tg.d.Running(n) {
			return noop
		}
		if err := tg.d.Kill(n); err != nil {
			tg.t.Fatal(err)
		}
		return func() { tg.d.Start(n) }
	case isolate:
		d := tg.th.D[n]
		_, _ = d.LAN.Down(), d.HB.Down()
		return func() { _, _ = d.LAN.Up(), d.HB.Up() }
	case cutLink:
		i := []func() error{tg.th.D[n].LAN.Down, tg.th.D[n].HB.Down}[st.link]
		up := []func() error{tg.th.D[n].LAN.Up, tg.th.D[n].HB.Up}[st.link]
		_ = i()
		return func() { _ = up() }
	case partition:
		return tg.drop(map[string][]string{n: others(n), others(n)[0]: {n}, others(n)[1]: {n}})
	case deaf:
		return tg.drop(map[string][]string{n: others(n)})
	case mute:
		return tg.drop(map[string][]string{others(n)[0]: {n}, others(n)[1]: {n}})
	case splitAll:
		m := map[string][]string{}
		for _, x := range names3 {
			m[x] = others(x)
		}
		return tg.drop(m)
	case pause:
		if err := tg.d.Signal(n, syscall.SIGSTOP); err != nil {
			tg.t.Fatal(err)
		}
		time.Sleep(st.hold)
		if err := tg.d.Signal(n, syscall.SIGCONT); err != nil {
			tg.t.Fatal(err)
		}
		return noop
	case loss:
		return tg.nft(n, "add chain inet T in { type filter hook input priority -500; } ; add chain inet T out { type filter hook output priority -500; } ; "+
			"add rule inet T in iifname != \"lo\" numgen random mod 10 < 3 drop; add rule inet T out oifname != \"lo\" numgen random mod 10 < 3 drop")
	case drain:
		if tg.conf == "" {
			return noop
		}
		return tg.drainHolder()
	case transfer:
		if tg.conf == "" {
			return noop
		}
		return tg.transfer(n, st.to)
	case change:
		if tg.conf == "" {
			return noop
		}
		if err := tg.config.change(tg.ops, n); err != nil {
			tg.t.Fatal(err)
		}
		return noop
	}
	tg.t.Fatalf("nemesis: no such step %v", st)
	return noop
}

// others are the two directors other than n.
func others(n string) []string {
	return slices.DeleteFunc(slices.Clone(names3), func(x string) bool { return x == n })
}

// drop makes each director in m drop every packet from the directors m
// names for it (both of their addresses): a partition at the hosts, which
// leaves the client's view of every director intact.
func (tg *target) drop(m map[string][]string) (heal func()) {
	var heals []func()
	for _, n := range names3 {
		from := m[n]
		if len(from) == 0 {
			continue
		}
		var addrs []string
		for _, f := range from {
			addrs = append(addrs, tg.th.D[f].LANIP, tg.th.D[f].HBIP)
		}
		heals = append(heals, tg.nft(n, "add chain inet T in { type filter hook input priority -500; } ; add rule inet T in ip saddr { "+strings.Join(addrs, ", ")+" } drop"))
	}
	return func() {
		for _, h := range heals {
			h()
		}
	}
}

// nft adds a table of its own on director n, with the commands in rules
// (T names the table), and returns how to delete it.
func (tg *target) nft(n, rules string) (heal func()) {
	tg.tables++
	table := fmt.Sprintf("nemesis%d", tg.tables)
	h := tg.th.D[n].Host
	if out, err := h.Run("nft", "add table inet "+table+" ; "+strings.ReplaceAll(rules, " T ", " "+table+" ")); err != nil {
		tg.t.Fatalf("nemesis: nft on %s: %v\n%s", n, err, out)
	}
	return func() {
		if out, err := h.Run("nft", "delete", "table", "inet", table); err != nil {
			tg.t.Errorf("nemesis: nft on %s: %v\n%s", n, err, out)
		}
	}
}

// drainHolder drains whichever director answers for the VIP, in the
// background; healing undrains it.
func (tg *target) drainHolder() (heal func()) {
	h := tg.th.Ask(300 * time.Millisecond)
	if h == "" {
		return func() {}
	}
	tg.ops.do(func() { tg.stats.add(drain, tg.vigilRun(h, "drain", h)) })
	return func() { tg.ops.do(func() { tg.untilDone("undrain", h) }) }
}

// transfer hands VI_1 over to to (or the best other director) through
// director via's API, in the background; healing clears the pin. A
// refusal (to cannot hold it now) is an answer, not a failure.
func (tg *target) transfer(via, to string) (heal func()) {
	args := []string{"transfer", "VI_1"}
	if to != "" {
		args = append(args, "--to", to)
	}
	tg.ops.do(func() { tg.stats.add(transfer, tg.vigilRun(via, args...)) })
	return func() { tg.ops.do(func() { tg.untilDone("transfer", "VI_1", "--clear") }) }
}

// vigilRun runs the vigil command args in director n (with the cluster's
// file for the token).
func (tg *target) vigilRun(n string, args ...string) error {
	_, err := tg.th.D[n].Host.Run(append(append([]string{vigilBin}, args...), "-f", tg.conf)...)
	return err
}

// status is GET /v1/status (vigil status --json) on every director
// running, for a failure message: drains and holders as each sees them.
func (tg *target) status() string {
	var b strings.Builder
	for _, n := range names3 {
		if !tg.d.Running(n) {
			fmt.Fprintf(&b, "--- %s: not running\n", n)
			continue
		}
		out, err := tg.th.D[n].Host.Get("127.0.0.1:7070", "/v1/status", 2*time.Second)
		fmt.Fprintf(&b, "--- %s (err %v):\n%s\n", n, err, out)
	}
	return b.String()
}

// untilDone runs the vigil command args through any director until one
// succeeds: after healing the cluster commits it within seconds.
func (tg *target) untilDone(args ...string) {
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		for _, n := range names3 {
			if err = tg.vigilRun(n, args...); err == nil {
				return
			}
		}
	}
	tg.t.Errorf("nemesis: vigil %s did not succeed within 30 s of healing: %v\n%s", strings.Join(args, " "), err, tg.d.Dump(3000))
}

// opStats counts vigil's operations (drains, transfers) tried and
// acknowledged.
type opStats struct {
	mu           sync.Mutex
	tried, acked map[kind]int
}

func (s *opStats) add(k kind, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tried == nil {
		s.tried, s.acked = map[kind]int{}, map[kind]int{}
	}
	s.tried[k]++
	if err == nil {
		s.acked[k]++
	}
}

func (s *opStats) get(k kind) (tried, acked int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tried[k], s.acked[k]
}

// opQueue runs operations one at a time, in order, in the background, as
// a client of the cluster would, while the faults go on.
type opQueue struct {
	q chan func()
}

func newOpQueue(t *testing.T) *opQueue {
	o := &opQueue{q: make(chan func(), 64)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for f := range o.q {
			f()
		}
	}()
	t.Cleanup(func() { close(o.q); <-done })
	return o
}

func (o *opQueue) do(f func()) { o.q <- f }

// wait returns once every operation queued so far is done.
func (o *opQueue) wait() {
	done := make(chan struct{})
	o.q <- func() { close(done) }
	<-done
}
