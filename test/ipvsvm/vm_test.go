// Package ipvsvm runs vigil's IPVS datapath tests in a qemu VM with a real
// IPVS kernel (see README.md); this machine's kernel has no IPVS.
package ipvsvm

import (
	"os"
	"os/exec"
	"testing"
)

func TestIPVSInVM(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM (about 20 s, more on the first run): skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (apt-get download of the kernel package)")
	}
	for _, tool := range []string{"qemu-system-x86_64", "busybox", "apt-get", "dpkg"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed: %v", tool, err)
		}
	}
	cmd := exec.Command("sh", "run-lvs.sh") // WORK, KPKG, TIMEOUT pass through the environment
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("IPVS tests in the VM failed: %v", err)
	}
}
