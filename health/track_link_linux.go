package health

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// LinkTracker follows the state of tracked interfaces from rtnetlink link
// events (RTNLGRP_LINK), not by polling: an interface is up when it is
// administratively up and has carrier (IFF_UP and IFF_RUNNING), as in
// keepalived; a missing or deleted interface is down.
type LinkTracker struct {
	spec LinkTrackerSpec
}

// NewLinkTracker validates the spec.
func NewLinkTracker(spec LinkTrackerSpec) (*LinkTracker, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	return &LinkTracker{spec: spec}, nil
}

// Run subscribes to link events, reports each tracked interface's initial
// status (read after subscribing, so no change falls between the two) and
// every change after, until ctx is done. If the kernel drops the
// subscription (socket overrun), Run subscribes and reads the links again.
// It leaves no goroutine behind.
func (t *LinkTracker) Run(ctx context.Context, onChange func(TrackStatus)) error {
	state := map[string]bool{}
	for {
		err := t.subscribe(ctx, func(name string, up bool) {
			for _, l := range t.spec.Links {
				if l.Name != name {
					continue
				}
				if old, seen := state[name]; !seen || old != up {
					state[name] = up
					onChange(linkStatus(l, up))
				}
			}
		})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return err
		}
		select { // the subscription broke: back off a little, then again
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func linkUp(a *netlink.LinkAttrs) bool {
	return a.Flags&net.FlagUp != 0 && a.RawFlags&unix.IFF_RUNNING != 0
}

// subscribe runs one netlink subscription until ctx is done or it breaks.
func (t *LinkTracker) subscribe(ctx context.Context, update func(string, bool)) error {
	opts := netlink.LinkSubscribeOptions{ErrorCallback: func(error) {}}
	nh := netns.None()
	if t.spec.NetNS != "" {
		h, err := netns.GetFromPath(t.spec.NetNS)
		if err != nil {
			return fmt.Errorf("track_interface: open netns %s: %w", t.spec.NetNS, err)
		}
		defer h.Close()
		opts.Namespace, nh = &h, h
	}
	ch := make(chan netlink.LinkUpdate, 64)
	done := make(chan struct{})
	if err := netlink.LinkSubscribeWithOptions(ch, done, opts); err != nil {
		return fmt.Errorf("track_interface: subscribe to link events: %w", err)
	}
	defer func() {
		close(done)
		for range ch { // netlink's reader closes ch once its socket is closed
		}
	}()
	h, err := netlink.NewHandleAt(nh)
	if err != nil {
		return fmt.Errorf("track_interface: netlink handle: %w", err)
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		return fmt.Errorf("track_interface: list links: %w", err)
	}
	present := map[string]bool{}
	for _, l := range links {
		present[l.Attrs().Name] = linkUp(l.Attrs())
	}
	for _, l := range t.spec.Links {
		update(l.Name, present[l.Name]) // missing: down
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case u, ok := <-ch:
			if !ok {
				return nil
			}
			a := u.Link.Attrs()
			update(a.Name, u.Header.Type != unix.RTM_DELLINK && linkUp(a))
		}
	}
}
