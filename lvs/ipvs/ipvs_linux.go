//go:build linux

package ipvs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"syscall"

	mobyipvs "github.com/moby/ipvs"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"vigil/lvs"
)

// Datapath programs IPVS.
type Datapath struct {
	opt     Options
	h       *mobyipvs.Handle
	log     *slog.Logger
	owned   lvs.Owned
	ops     uint64
	sysctls bool // set already
}

var (
	_ lvs.Datapath  = (*Datapath)(nil)
	_ lvs.Validator = (*Datapath)(nil)
	_ lvs.Counter   = (*Datapath)(nil)
)

// New checks that the kernel has IPVS (after trying to load the module) and
// opens a handle. Without IPVS it returns an error wrapping lvs.ErrNoIPVS.
func New(opt Options) (*Datapath, error) {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := CheckKernel(opt.NetNSPath); err != nil {
		return nil, err
	}
	h, err := mobyipvs.New(opt.NetNSPath)
	if err != nil {
		return nil, fmt.Errorf("ipvs: open handle: %w", err)
	}
	owned := opt.Owned
	if owned == nil {
		owned = lvs.Owned{}
	}
	d := &Datapath{opt: opt, h: h, log: log, owned: owned}
	if t := opt.Timeouts; t != (Timeouts{}) {
		if err := h.SetConfig(&mobyipvs.Config{TimeoutTCP: t.TCP, TimeoutTCPFin: t.TCPFin, TimeoutUDP: t.UDP}); err != nil {
			h.Close()
			return nil, fmt.Errorf("ipvs: set lvs_timeouts: %w", err)
		}
	}
	return d, nil
}

// CheckKernel reports whether the kernel has IPVS: it tries `modprobe
// ip_vs` (where there is a modprobe), then looks up the IPVS generic-netlink
// family, in the namespace at nsPath ("" = current). The error wraps
// lvs.ErrNoIPVS.
func CheckKernel(nsPath string) error {
	if p, err := exec.LookPath("modprobe"); err == nil {
		_ = exec.Command(p, "-q", "ip_vs").Run()
	}
	get := netlink.GenlFamilyGet
	if nsPath != "" {
		ns, err := netns.GetFromPath(nsPath)
		if err != nil {
			return fmt.Errorf("ipvs: open netns %s: %w", nsPath, err)
		}
		defer ns.Close()
		nh, err := netlink.NewHandleAt(ns, unix.NETLINK_GENERIC)
		if err != nil {
			return fmt.Errorf("ipvs: netlink in %s: %w", nsPath, err)
		}
		defer nh.Close()
		get = nh.GenlFamilyGet
	}
	fam, err := get("IPVS")
	if err != nil {
		return fmt.Errorf("ipvs: look up generic netlink family IPVS: %v: %w", err, lvs.ErrNoIPVS)
	}
	if fam.ID == 0 {
		return fmt.Errorf("ipvs: generic netlink family IPVS has id 0: %w", lvs.ErrNoIPVS)
	}
	return nil
}

// Close implements lvs.Datapath; the services stay.
func (d *Datapath) Close() error { d.h.Close(); return nil }

// KernelOps implements lvs.Counter: write requests sent.
func (d *Datapath) KernelOps() uint64 { return d.ops }

// Owned returns the set of services this datapath created (persist it).
func (d *Datapath) Owned() lvs.Owned { return d.owned }

// Validate implements lvs.Validator: IPVS expresses every valid State.
func (d *Datapath) Validate(st lvs.State) error { return st.Validate() }

// readAll returns every IPVS service, vigil's or not.
func (d *Datapath) readAll() (lvs.State, error) {
	svcs, err := d.h.GetServices()
	if err != nil {
		return lvs.State{}, fmt.Errorf("ipvs: list services: %w", err)
	}
	var st lvs.State
	for _, ks := range svcs {
		s, ok := fromKernel(ks)
		if !ok {
			continue
		}
		dests, err := d.h.GetDestinations(ks)
		if err != nil {
			return lvs.State{}, fmt.Errorf("ipvs: list destinations of %s: %w", s.Key(), err)
		}
		for _, kd := range dests {
			a, ok := netip.AddrFromSlice(kd.Address)
			if !ok {
				continue
			}
			r := lvs.Real{Addr: a.Unmap(), Port: kd.Port, Weight: kd.Weight}
			switch kd.ConnectionFlags & mobyipvs.ConnectionFlagFwdMask {
			case mobyipvs.ConnectionFlagDirectRoute:
				r.Method = lvs.DR
			case mobyipvs.ConnectionFlagTunnel:
				r.Method = lvs.TUN
			default:
				r.Method = lvs.NAT
			}
			s.Reals = append(s.Reals, r)
		}
		st.Services = append(st.Services, s)
	}
	return st.Canonical(), nil
}

func fromKernel(ks *mobyipvs.Service) (lvs.Service, bool) {
	var s lvs.Service
	a, ok := netip.AddrFromSlice(ks.Address)
	if ks.FWMark != 0 {
		s.FWMark = ks.FWMark
		s.Addr = netip.IPv4Unspecified()
		if ks.AddressFamily == unix.AF_INET6 {
			s.Addr = netip.IPv6Unspecified()
		}
	} else {
		if !ok {
			return s, false
		}
		s.Addr, s.Port, s.Proto = a.Unmap(), ks.Port, lvs.Proto(ks.Protocol)
		if ks.AddressFamily == unix.AF_INET6 {
			s.Addr = a
		}
	}
	s.Scheduler = ks.SchedName
	s.Flags = flagsFromKernel(ks.Flags, ks.SchedName)
	if s.Flags&lvs.FlagPersistent != 0 {
		s.PersistenceTimeout = ks.Timeout
		s.PersistenceNetmask = netmaskFromKernel(s.Addr, ks.Netmask)
	}
	return s, true
}

func toKernel(s lvs.Service) *mobyipvs.Service {
	ks := &mobyipvs.Service{
		SchedName: s.Scheduler, Flags: kernelFlags(s), AddressFamily: unix.AF_INET,
		Timeout: s.PersistenceTimeout, Netmask: kernelNetmask(s.Addr, s.PersistenceNetmask),
	}
	if s.Addr.Is6() {
		ks.AddressFamily = unix.AF_INET6
	}
	if s.PersistenceTimeout == 0 {
		ks.Netmask = kernelNetmask(s.Addr, uint8(s.Addr.BitLen()))
	}
	if s.FWMark != 0 {
		ks.FWMark = s.FWMark
	} else {
		ks.Address, ks.Port, ks.Protocol = net.IP(s.Addr.AsSlice()), s.Port, uint16(s.Proto)
	}
	return ks
}

func destToKernel(r lvs.Real) *mobyipvs.Destination {
	kd := &mobyipvs.Destination{Address: net.IP(r.Addr.AsSlice()), Port: r.Port, Weight: r.Weight, AddressFamily: unix.AF_INET}
	if r.Addr.Is6() {
		kd.AddressFamily = unix.AF_INET6
	}
	switch r.Method {
	case lvs.DR:
		kd.ConnectionFlags = mobyipvs.ConnectionFlagDirectRoute
	case lvs.TUN:
		kd.ConnectionFlags = mobyipvs.ConnectionFlagTunnel
	default:
		kd.ConnectionFlags = mobyipvs.ConnectionFlagMasq
	}
	return kd
}

// Read implements lvs.Datapath: the services this datapath owns.
func (d *Datapath) Read(ctx context.Context) (lvs.State, error) {
	all, err := d.readAll()
	if err != nil {
		return lvs.State{}, err
	}
	return lvs.Restrict(all, func(k lvs.ServiceKey) bool { return d.owned[k] }), nil
}

// Apply implements lvs.Datapath.
func (d *Datapath) Apply(ctx context.Context, want lvs.State) error {
	if err := want.Validate(); err != nil {
		return err
	}
	want = want.Canonical()
	if d.opt.Sysctls && !d.sysctls && len(want.Services) > 0 {
		if err := d.setSysctls(want); err != nil {
			return err
		}
	}
	all, err := d.readAll()
	if err != nil {
		return err
	}
	have := lvs.Restrict(all, d.owned.Keep(want))
	ops := lvs.Diff(have, want)
	done, err := lvs.Execute(ops, d.do)
	d.owned.Record(done)
	if len(ops) > 0 {
		d.log.Debug("ipvs: applied", "ops", len(ops), "ok", len(done))
	}
	return err
}

func (d *Datapath) do(op lvs.Op) error {
	d.ops++
	ks := toKernel(op.Service)
	var err error
	switch op.Kind {
	case lvs.AddService:
		err = d.h.NewService(ks)
	case lvs.UpdateService:
		err = d.h.UpdateService(ks)
	case lvs.DelService:
		err = d.h.DelService(ks)
	case lvs.AddDest:
		err = d.h.NewDestination(ks, destToKernel(op.Real))
	case lvs.UpdateDest:
		err = d.h.UpdateDestination(ks, destToKernel(op.Real))
	case lvs.DelDest:
		err = d.h.DelDestination(ks, destToKernel(op.Real))
	}
	switch {
	case errors.Is(err, syscall.ESRCH):
		err = fmt.Errorf("%w (%w)", lvs.ErrNotExist, err)
	case errors.Is(err, syscall.ENOENT) && (op.Kind == lvs.AddService || op.Kind == lvs.UpdateService):
		err = fmt.Errorf("%w (is the scheduler module ip_vs_%s loaded?)", err, op.Service.Scheduler)
	case errors.Is(err, syscall.EINVAL) && op.Kind == lvs.AddDest:
		err = fmt.Errorf("%w (IPVS accepts only unicast or local real server addresses)", err)
	}
	return err
}

func (d *Datapath) setSysctls(want lvs.State) error {
	set := map[string]string{
		"net/ipv4/vs/sloppy_tcp":         "1",
		"net/ipv4/vs/sloppy_sctp":        "1",
		"net/ipv4/vs/conntrack":          "1",
		"net/ipv4/vs/expire_nodest_conn": "1",
	}
	for _, s := range want.Services {
		for _, r := range s.Reals {
			if r.Method == lvs.NAT {
				set["net/ipv4/ip_forward"] = "1"
				if s.Addr.Is6() {
					set["net/ipv6/conf/all/forwarding"] = "1"
				}
			}
		}
	}
	run := func() error {
		for k, v := range set {
			if err := os.WriteFile("/proc/sys/"+k, []byte(v), 0o644); err != nil {
				return fmt.Errorf("ipvs: sysctl %s=%s: %w", k, v, err)
			}
		}
		return nil
	}
	var err error
	if d.opt.NetNSPath != "" {
		err = inNetNS(d.opt.NetNSPath, run)
	} else {
		err = run()
	}
	if err == nil {
		d.sysctls = true
	}
	return err
}
