//go:build linux

package nft

import (
	"bytes"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"vigil/lvs"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var msgNames = map[uint16]string{
	unix.NFT_MSG_NEWTABLE: "NEWTABLE", unix.NFT_MSG_NEWCHAIN: "NEWCHAIN", unix.NFT_MSG_NEWSET: "NEWSET",
	unix.NFT_MSG_NEWSETELEM: "NEWSETELEM", unix.NFT_MSG_NEWRULE: "NEWRULE", unix.NFT_MSG_DELSETELEM: "DELSETELEM",
	unix.NFT_MSG_DELCHAIN: "DELCHAIN", unix.NFT_MSG_DELRULE: "DELRULE", unix.NFT_MSG_DELSET: "DELSET",
	unix.NFT_MSG_DELTABLE: "DELTABLE",
}

// recordingTbl returns a NAT table whose batches are recorded instead of
// sent (no kernel, no root).
func recordingTbl(t *testing.T, opt Options) (*tbl, *[][]byte) {
	var msgs [][]byte
	var ops uint64
	send := func(req []netlink.Message) error {
		for _, m := range req {
			m.Header.Length = uint32(16 + len(m.Data))
			b, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, b)
		}
		return nil
	}
	return &tbl{opt: opt, send: send, log: discard(), ops: &ops,
		table: &nftables.Table{Family: nftables.TableFamilyIPv4, Name: opt.table()}}, &msgs
}

// render prints each message as its type and hex bytes (the netlink header
// with its sequence number and pid zeroed).
func render(msgs [][]byte) string {
	var b strings.Builder
	for i, m := range msgs {
		m = append([]byte{}, m...)
		copy(m[8:16], make([]byte, 8)) // seq, pid
		typ := uint16(m[4]) | uint16(m[5])<<8
		// Set IDs come from a process-wide counter in google/nftables.
		switch typ & 0xff {
		case unix.NFT_MSG_NEWSET:
			zeroAttr(m, unix.NFTA_SET_ID)
		case unix.NFT_MSG_NEWSETELEM, unix.NFT_MSG_DELSETELEM:
			zeroAttr(m, unix.NFTA_SET_ELEM_LIST_SET_ID)
		}
		name := msgNames[typ&0xff]
		switch typ {
		case unix.NFNL_MSG_BATCH_BEGIN:
			name = "BATCH_BEGIN"
		case unix.NFNL_MSG_BATCH_END:
			name = "BATCH_END"
		}
		fmt.Fprintf(&b, "# %d %s\n", i, name)
		for len(m) > 0 {
			n := min(32, len(m))
			fmt.Fprintf(&b, "%x\n", m[:n])
			m = m[n:]
		}
	}
	return b.String()
}

// TestGoldenBatch pins the exact netlink messages of applying one service to
// an empty table, and of changing one weight afterwards. The batch encodes
// (nft syntax; the slots as computed by Maglev; 61 is the shard of
// tcp 10.0.0.1:80):
//
//	add table ip vigil
//	add chain ip vigil c_src_61_32_s61
//	add chain ip vigil postrouting { type nat hook postrouting priority srcnat; }
//	add chain ip vigil prerouting { type nat hook prerouting priority dstnat; }
//	add map ip vigil marks { type mark : verdict; size 64; }
//	add map ip vigil pickup { type inet_proto . ipv4_addr . inet_service : ipv4_addr . inet_service; size 64; }
//	add map ip vigil reals_s61 { type inet_proto . ipv4_addr . inet_service . ipv4_addr . inet_service : mark; size 64; }
//	add map ip vigil services { type inet_proto . ipv4_addr . inet_service : verdict; size 64; }
//	add map ip vigil slots_src_61_32_s61 { type inet_proto . ipv4_addr . inet_service . mark : ipv4_addr . inet_service; size 128; }
//	add rule ip vigil c_src_61_32_s61 counter dnat ip to meta l4proto . ip daddr . th dport . jhash ip saddr mod 61 seed 0x5eed map @slots_src_61_32_s61
//	add rule ip vigil postrouting oifname "eth0" counter snat ip to meta l4proto . ip saddr . th sport map @pickup
//	add rule ip vigil prerouting meta mark vmap @marks
//	add rule ip vigil prerouting meta l4proto . ip daddr . th dport vmap @services
//	add element ip vigil pickup { tcp . 10.0.1.1 . 8080 : 10.0.0.1 . 80, tcp . 10.0.1.2 . 8080 : 10.0.0.1 . 80 }
//	add element ip vigil reals_s61 { tcp . 10.0.0.1 . 80 . 10.0.1.1 . 8080 : 1, tcp . 10.0.0.1 . 80 . 10.0.1.2 . 8080 : 1 }
//	add element ip vigil services { tcp . 10.0.0.1 . 80 comment "vigil svc sched=mh flags=0x0 timeout=0 netmask=0" : goto c_src_61_32_s61 }
//	add element ip vigil slots_src_61_32_s61 { tcp . 10.0.0.1 . 80 . 0 : 10.0.1.1 . 8080, ... 61 slots }
//
// and then, for weight 1 -> 2 of 10.0.1.2:8080:
//
//	delete element ip vigil reals_s61 { tcp . 10.0.0.1 . 80 . 10.0.1.2 . 8080 }
//	delete element ip vigil slots_src_61_32_s61 { <the slots that move> }
//	add element ip vigil reals_s61 { tcp . 10.0.0.1 . 80 . 10.0.1.2 . 8080 : 2 }
//	add element ip vigil slots_src_61_32_s61 { <the slots that move> : 10.0.1.2 . 8080 }
func TestGoldenBatch(t *testing.T) {
	opt := Options{Seed: 0x5eed, ClientInterface: "eth0"}
	d, msgs := recordingTbl(t, opt)
	svc := lvs.Service{Proto: lvs.TCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "mh", Reals: []lvs.Real{
		{Addr: netip.MustParseAddr("10.0.1.1"), Port: 8080, Weight: 1, Method: lvs.NAT},
		{Addr: netip.MustParseAddr("10.0.1.2"), Port: 8080, Weight: 1, Method: lvs.NAT},
	}}
	nv, flushed, err := d.sync(emptyView(), []plan{opt.planFor(svc)}, nil)
	if err != nil || !flushed {
		t.Fatalf("sync: %v %v", flushed, err)
	}
	golden(t, "testdata/nat-one-service.golden", render(*msgs))
	*msgs = nil
	svc.Reals[1].Weight = 2
	if _, _, err := d.sync(nv, []plan{opt.planFor(svc)}, nil); err != nil {
		t.Fatal(err)
	}
	golden(t, "testdata/nat-weight-change.golden", render(*msgs))
	if n := strings.Count(render(*msgs), "#"); n != 4 {
		t.Errorf("weight change: %d messages besides batch begin/end, want 4", n)
	}
}

// zeroAttr zeroes the data of the top-level attribute typ of a message
// (after the 16-byte netlink header and the 4-byte nfgenmsg).
func zeroAttr(m []byte, typ uint16) {
	for off := 20; off+4 <= len(m); {
		l := int(m[off]) | int(m[off+1])<<8
		if l < 4 {
			return
		}
		if uint16(m[off+2])|uint16(m[off+3])<<8&^0xc000 == typ {
			copy(m[off+4:off+l], make([]byte, l-4))
		}
		off += (l + 3) &^ 3
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(want, []byte(got)) {
		t.Errorf("%s differs from the generated batch (rerun with -update and review the diff)", path)
	}
}
