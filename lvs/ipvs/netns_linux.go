//go:build linux

package ipvs

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// inNetNS runs fn on a locked OS thread inside the namespace at path. The
// thread is not reused if switching back fails.
func inNetNS(path string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("ipvs: current netns: %w", err)
	}
	defer orig.Close()
	ns, err := netns.GetFromPath(path)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("ipvs: open netns %s: %w", path, err)
	}
	defer ns.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("ipvs: enter netns %s: %w", path, err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		return fmt.Errorf("ipvs: leave netns %s: %w", path, err) // thread stays locked and dies with the goroutine
	}
	runtime.UnlockOSThread()
	return ferr
}
