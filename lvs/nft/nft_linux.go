//go:build linux

package nft

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"vigil/lvs"
)

// Datapath programs the load balancer into nftables tables of its own.
type Datapath struct {
	opt       Options
	conn      *nftables.Conn // reads
	batchConn *netlink.Conn  // batches
	genConn   *netlink.Conn  // GETGEN
	log       *slog.Logger
	ops       uint64
	// tables: NAT IPv4 (ip), NAT IPv6 (ip6), DR IPv4 and DR IPv6 (netdev).
	tables     [4]*tbl
	sysctlsSet [2]bool // IPv4, IPv6
	// cacheGen is the ruleset generation at which the tables' caches were
	// exact (see generation).
	cacheGen uint32
}

var (
	_ lvs.Datapath  = (*Datapath)(nil)
	_ lvs.Validator = (*Datapath)(nil)
	_ lvs.Counter   = (*Datapath)(nil)
)

// New opens a netlink connection to nftables. It does not touch the kernel
// until Apply.
func New(opt Options) (*Datapath, error) {
	if opt.Seed == 0 {
		return nil, ErrSeed
	}
	log := opt.Logger
	if log == nil {
		log = discard()
	}
	copts := []nftables.ConnOption{nftables.AsLasting(), nftables.WithSockOptions(bigBuffers)}
	if opt.NetNS != 0 {
		copts = append(copts, nftables.WithNetNSFd(opt.NetNS))
	}
	c, err := nftables.New(copts...)
	if err != nil {
		return nil, fmt.Errorf("nft: open netlink: %w", err)
	}
	d := &Datapath{opt: opt, conn: c, log: log}
	for i, t := range []struct {
		fam    nftables.TableFamily
		name   string
		dr, v6 bool
	}{
		{nftables.TableFamilyIPv4, opt.table(), false, false},
		{nftables.TableFamilyIPv6, opt.table(), false, true},
		{nftables.TableFamilyNetdev, opt.table() + "_dr", true, false},
		{nftables.TableFamilyNetdev, opt.table() + "_dr6", true, true},
	} {
		d.tables[i] = &tbl{opt: opt, conn: c, send: d.send, log: log, ops: &d.ops, dr: t.dr, v6: t.v6,
			table: &nftables.Table{Family: t.fam, Name: t.name}}
	}
	return d, nil
}

// bigBuffers lets one batch carry a large table (as nft itself does with
// SO_SNDBUFFORCE), and the acks of every message come back.
func bigBuffers(c *netlink.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 1<<30); serr != nil {
			return
		}
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 1<<28)
	})
	if err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("nft: socket buffers: %w", serr)
	}
	return nil
}

// Close implements lvs.Datapath. The tables stay.
func (d *Datapath) Close() error {
	for _, c := range []*netlink.Conn{d.batchConn, d.genConn} {
		if c != nil {
			c.Close()
		}
	}
	return d.conn.CloseLasting()
}

// KernelOps implements lvs.Counter: netlink messages sent in batches (not
// counting batch begin/end and reads).
func (d *Datapath) KernelOps() uint64 { return d.ops }

// Validate implements lvs.Validator.
func (d *Datapath) Validate(st lvs.State) error { return d.opt.Validate(st) }

// Delete removes vigil's tables (all services) from the kernel.
func (d *Datapath) Delete(ctx context.Context) error {
	for _, t := range d.tables {
		t.cache = nil
		if err := t.delete(); err != nil {
			return err
		}
	}
	return nil
}

func (d *tbl) delete() error {
	if _, err := d.conn.ListTableOfFamily(d.table.Name, d.table.Family); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("nft: list table %s: %w", d.table.Name, err)
	}
	d.conn.DelTable(d.table)
	*d.ops++
	if err := d.conn.Flush(); err != nil {
		return fmt.Errorf("nft: delete table %s: %w", d.table.Name, err)
	}
	return nil
}

// Read implements lvs.Datapath.
func (d *Datapath) Read(ctx context.Context) (lvs.State, error) {
	var st lvs.State
	for _, t := range d.tables {
		v, err := t.read()
		if err != nil {
			return lvs.State{}, err
		}
		st.Services = append(st.Services, v.state(t.method())...)
	}
	return st.Canonical(), nil
}

// tableFor returns the index in d.tables of the table that programs s.
func tableFor(s lvs.Service) int {
	i := 0
	if s.Addr.Is6() {
		i = 1
	}
	if isDR(s) {
		i += 2
	}
	return i
}

// Apply implements lvs.Datapath. Services this datapath cannot express are
// reported (each a *lvs.ServiceError wrapping lvs.ErrUnsupported) and left as
// they are in the kernel; everything else is applied in one atomic batch
// per table. If the kernel refuses a batch, the services it refuses are
// found and reported (each an *lvs.OpError) and the others applied.
func (d *Datapath) Apply(ctx context.Context, want lvs.State) error {
	if err := want.Validate(); err != nil {
		return err
	}
	want = want.Canonical()
	t0 := time.Now()
	g0, gerr := d.generation()
	var views [4]*view
	fresh := gerr == nil && g0 == d.cacheGen
	for i, t := range d.tables {
		views[i] = t.cache
		fresh = fresh && t.cache != nil
		t.cache = nil // until this Apply succeeds
	}
	if !fresh {
		for i, t := range d.tables {
			v, err := t.read()
			if err != nil {
				return err
			}
			views[i] = v
		}
		d.log.Debug("nft: read", "took", time.Since(t0))
	}
	var errs []error
	var plans [4][]plan
	keep := map[lvs.ServiceKey]bool{} // left as they are in the kernel
	for _, s := range want.Services {
		if err := d.opt.check(s); err != nil {
			errs = append(errs, err)
			keep[s.Key()] = true
			continue
		}
		plans[tableFor(s)] = append(plans[tableFor(s)], d.opt.planFor(s))
	}
	for i := 2; i < 4; i++ {
		plans[i] = d.tables[i].prepareDR(plans[i], keep, &errs)
	}
	commits := uint32(0)
	var nviews [4]*view
	for i, t := range d.tables {
		v := views[i]
		if len(plans[i]) == 0 && !anyKept(v, keep) {
			nviews[i] = emptyView()
			nviews[i].cached = true
			if v.exists {
				if err := t.delete(); err != nil {
					nviews[i] = nil
					errs = append(errs, err)
				} else {
					commits++
				}
			}
			continue
		}
		nv, n, terrs := t.apply(v, plans[i], keep)
		nviews[i], commits = nv, commits+n
		errs = append(errs, terrs...)
	}
	for fam := range 2 {
		if d.opt.Sysctls && !d.sysctlsSet[fam] && len(plans[fam]) > 0 && len(errs) == 0 {
			if err := d.setSysctls(fam == 1); err != nil {
				errs = append(errs, err)
			} else {
				d.sysctlsSet[fam] = true
			}
		}
	}
	// Keep the views only if nobody else committed meanwhile.
	if g1, err := d.generation(); gerr == nil && err == nil && g1 == g0+commits {
		for i, t := range d.tables {
			t.cache = nviews[i]
		}
		d.cacheGen = g1
	}
	return errors.Join(errs...)
}

// apply syncs one table. If the kernel refuses the batch (atomic: then
// nothing changed), it applies first everything but the changed services,
// then the changed services by halves, down to the ones the kernel refuses:
// those are reported and left as they were. It returns the table as it is
// afterwards (nil if unknown) and the number of commits.
func (d *tbl) apply(v *view, plans []plan, keep map[lvs.ServiceKey]bool) (*view, uint32, []error) {
	nv, ok, err := d.sync(v, plans, keep)
	if err == nil {
		return nv, b2u(ok), nil
	}
	if len(plans) == 0 {
		return nil, 0, []error{err}
	}
	d.log.Warn("nft: the kernel refused the batch; applying service by service", "table", d.table.Name, "err", err)
	without := func(group []plan) map[lvs.ServiceKey]bool {
		k := make(map[lvs.ServiceKey]bool, len(keep)+len(plans))
		for key := range keep {
			k[key] = true
		}
		for _, p := range plans {
			k[p.svc.Key()] = true
		}
		for _, p := range group {
			delete(k, p.svc.Key())
		}
		return k
	}
	nv, ok, err2 := d.sync(v, nil, without(nil))
	if err2 != nil {
		return nil, 0, []error{err}
	}
	v, commits := nv, b2u(ok)
	var errs []error
	var done []plan
	var try func(group []plan)
	try = func(group []plan) {
		if len(group) == 0 {
			return
		}
		nv, ok, err := d.sync(v, append(done[:len(done):len(done)], group...), without(append(done[:len(done):len(done)], group...)))
		switch {
		case err == nil:
			v, commits, done = nv, commits+b2u(ok), append(done, group...)
		case len(group) == 1:
			op := lvs.Op{Kind: lvs.AddService, Service: group[0].svc}
			if old := v.svcs[group[0].svc.Key()]; old != nil && old.listed {
				op.Kind = lvs.UpdateService
			}
			errs = append(errs, &lvs.OpError{Op: op, Err: err})
		default:
			try(group[:len(group)/2])
			try(group[len(group)/2:])
		}
	}
	try(plans[:len(plans)/2])
	try(plans[len(plans)/2:])
	return v, commits, errs
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

func anyKept(v *view, keep map[lvs.ServiceKey]bool) bool {
	for k := range keep {
		if v.svcs[k] != nil {
			return true
		}
	}
	return false
}

// String renders a short summary, for logs.
func (d *Datapath) String() string {
	return fmt.Sprintf("nftables tables ip/ip6 %s, netdev %s and %s (seed %#x)",
		d.tables[0].table.Name, d.tables[2].table.Name, d.tables[3].table.Name, d.opt.Seed)
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
