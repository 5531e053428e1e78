package topo

import (
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"vigil/test/netns"
)

// One topology at a time on a machine. The tests on it are
// timing-sensitive (leases of a second, failover bounds), and go test runs
// the packages that build topologies (test/e2e, test/nemesis, test/topo)
// in parallel: New takes a lock file, shared by the topologies of one
// process and released when the last of them is closed, so those of
// another process wait.
var exclusive struct {
	sync.Mutex
	n int      // topologies of this process not yet closed
	f *os.File // the lock file, locked while n > 0
}

// exclusiveLock makes lab's topology the machine's only one (with the
// process's other topologies), until lab closes at t's cleanup.
func exclusiveLock(t netns.T, lab *netns.Lab) {
	t.Helper()
	exclusive.Lock()
	defer exclusive.Unlock()
	if exclusive.n == 0 {
		f, err := os.OpenFile(filepath.Join(os.TempDir(), "vigil-topo.lock"), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatalf("topo: lock: %v", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			t.Fatalf("topo: lock %s: %v", f.Name(), err)
		}
		exclusive.f = f
	}
	exclusive.n++
	t.Cleanup(func() {
		lab.Close() // its agents gone before another topology starts
		exclusive.Lock()
		defer exclusive.Unlock()
		if exclusive.n--; exclusive.n == 0 {
			exclusive.f.Close() // unlocks
			exclusive.f = nil
		}
	})
}
