package datapath

import (
	"errors"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"

	"vigil/lvs"
	"vigil/lvs/ipvs"
	"vigil/lvs/nft"
)

func TestValidate(t *testing.T) {
	wlc := lvs.State{Services: []lvs.Service{{Proto: lvs.TCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "wlc"}}}
	if err := Validate(Config{Kind: IPVS}, wlc); err != nil {
		t.Errorf("ipvs wlc: %v", err)
	}
	err := Validate(Config{Kind: NFTables, NFT: nft.Options{Seed: 1}}, wlc)
	if !errors.Is(err, lvs.ErrUnsupported) || !strings.Contains(err.Error(), "tcp 10.0.0.1:80") {
		t.Errorf("nftables wlc: %v, want ErrUnsupported naming the service", err)
	}
	if _, err := Resolve(Config{Kind: "bpf"}); err == nil || !strings.Contains(err.Error(), `unknown datapath "bpf"`) {
		t.Errorf("unknown kind: %v", err)
	}
}

// TestResolveAuto: auto picks IPVS exactly when the kernel has it.
func TestResolveAuto(t *testing.T) {
	if runtime.GOOS == "linux" && os.Geteuid() != 0 {
		t.Skip("needs root (netlink lookups)")
	}
	k, err := Resolve(Config{Kind: Auto})
	if err != nil {
		t.Fatal(err)
	}
	want := NFTables
	if ipvs.CheckKernel("") == nil {
		want = IPVS
	}
	if k != want {
		t.Errorf("auto = %s, want %s", k, want)
	}
}
