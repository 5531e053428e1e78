package netns

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// Do runs fn on an OS thread switched into the host's network namespace, so
// that sockets fn opens belong to the host. Goroutines fn starts do not
// inherit the namespace; sockets opened inside fn keep it wherever they are
// used afterwards.
func (h *Host) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The thread is never unlocked: if switching back failed it must
		// die with this goroutine rather than serve other goroutines.
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("netns: get current namespace: %w", err)
			return
		}
		defer orig.Close()
		target, err := netns.GetFromName(h.ns)
		if err != nil {
			errc <- fmt.Errorf("netns: open namespace %s: %w", h.ns, err)
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			errc <- fmt.Errorf("netns: enter %s: %w", h.name, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("netns: leave %s: %w", h.name, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
