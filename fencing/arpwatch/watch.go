package arpwatch

import (
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"vigil/fencing"
)

// DefaultProbe is the default interval between two probes of every VIP.
const DefaultProbe = 2 * time.Second

// Config configures a Watcher.
type Config struct {
	// Interface is the interface to watch (the instance's interface).
	Interface string
	// VIPs are the IPv4 VIPs to watch; claims for other addresses are
	// dropped, IPv6 addresses are ignored.
	VIPs []netip.Addr
	// Probe is the interval between two probes of every VIP (default
	// DefaultProbe; negative: never probe, only listen).
	Probe time.Duration
	// OnClaim receives every claim on a watched VIP, with At and Iface
	// set. It is called from Run's goroutine and must not block.
	OnClaim func(fencing.ARPObservation)
	// Now stamps the claims (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Probe == 0 {
		c.Probe = DefaultProbe
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.OnClaim == nil {
		c.OnClaim = func(fencing.ARPObservation) {}
	}
	var v4 []netip.Addr
	for _, a := range c.VIPs {
		if a = a.Unmap(); a.Is4() && !slices.Contains(v4, a) {
			v4 = append(v4, a)
		}
	}
	c.VIPs = v4
	return c
}

// claim completes a parsed claim on a watched VIP, or reports false.
func (c Config) claim(frame []byte) (fencing.ARPObservation, bool) {
	obs, ok := ParseClaim(frame)
	if !ok || !slices.Contains(c.VIPs, obs.SenderIP) {
		return fencing.ARPObservation{}, false
	}
	obs.At, obs.Iface = c.Now(), c.Interface
	return obs, true
}
