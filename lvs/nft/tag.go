package nft

import (
	"fmt"
	"strconv"
	"strings"

	"vigil/lvs"
)

func chainName(id uint32) string { return fmt.Sprintf("svc_%d", id) }

func parseChainName(s string) (uint32, bool) {
	rest, ok := strings.CutPrefix(s, "svc_")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseUint(rest, 10, 32)
	if err != nil || id == 0 || id >= 1<<(32-14) || chainName(uint32(id)) != s {
		return 0, false
	}
	return uint32(id), true
}

// attrs are the service attributes a service rule's user data records.
type attrs struct {
	sched   string
	flags   lvs.Flags
	timeout uint32
	netmask uint8
}

// tag is a service rule's user data (at most 256 bytes, the kernel's limit),
// for example "vigil svc sched=mh flags=0x0 timeout=0 netmask=0 class=d_src_61_32 seed=0x5eed".
func (o Options) tag(p plan) string {
	s := p.svc
	return fmt.Sprintf("vigil svc sched=%s flags=%#x timeout=%d netmask=%d class=%s seed=%#x",
		s.Scheduler, uint8(s.Flags), s.PersistenceTimeout, s.PersistenceNetmask, p.class.name(), o.Seed)
}

func parseTag(s string) (attrs, bool) {
	f := strings.Fields(s)
	if len(f) < 2 || f[0] != "vigil" || f[1] != "svc" {
		return attrs{}, false
	}
	var a attrs
	for _, kv := range f[2:] {
		k, v, _ := strings.Cut(kv, "=")
		n, _ := strconv.ParseUint(v, 0, 32)
		switch k {
		case "sched":
			a.sched = v
		case "flags":
			a.flags = lvs.Flags(n)
		case "timeout":
			a.timeout = uint32(n)
		case "netmask":
			a.netmask = uint8(n)
		}
	}
	return a, a.sched != ""
}

// backendShards is the number of backends maps; a service's slots live in
// backends_<id mod backendShards>.
const backendShards = 256

func shardName(id uint32) string { return fmt.Sprintf("backends_%d", id%backendShards) }

func isShardName(s string) bool {
	rest, ok := strings.CutPrefix(s, "backends_")
	if !ok {
		return false
	}
	n, err := strconv.ParseUint(rest, 10, 32)
	return err == nil && n < backendShards && shardName(uint32(n)) == s
}
