package nft

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"vigil/lvs"
)

// Names of the objects in vigil's tables (see the package doc).
const (
	setServices = "services" // proto . vip . vport : goto c_<class>
	setMarks    = "marks"    // mark : goto c_<class>
	setReals    = "reals"    // reals_s<shard>: proto . vip . vport . rs . port : weight
	setMReals   = "mreals"   // mreals_s<shard>: mark . rs . port : weight
	setPickup   = "pickup"   // proto . rs . port : vip . vport
	slotsPrefix = "slots_"   // slots_<class>
	chainPrefix = "c_"       // c_<class>
)

func classChain(c string) string { return chainPrefix + c }
func classSet(c string) string   { return slotsPrefix + c }

// classOfChain returns the class name of a class chain's name.
func classOfChain(chain string) (string, bool) { return strings.CutPrefix(chain, chainPrefix) }

func isClassChain(chain string) bool {
	cn, ok := classOfChain(chain)
	if ok {
		_, ok = parseClass(cn)
	}
	return ok
}

// classOfSet returns the class of a slots map (the zero class for the
// other maps).
func classOfSet(set string) class {
	cn, _ := strings.CutPrefix(set, slotsPrefix)
	c, _ := parseClass(cn)
	return c
}

// shards is the number of shards of the slots and reals maps. The kernel
// resumes the dump of a map by walking past what it already sent, so
// reading a map of n elements back costs n²/700 steps: one map of the
// 610,000 slots of 10,000 services took 30 s to read, 64 maps of 10,000
// take half a second.
const shards = 64

// shardOf is the shard of a service's slots and reals.
func shardOf(k lvs.ServiceKey) uint8 {
	return uint8(JHash(appendSvcKey(nil, k), 0x73686172) % shards) // "shar"
}

// realsSet is the reals (mreals) map of k's shard.
func realsSet(k lvs.ServiceKey) string {
	base := setReals
	if k.FWMark != 0 {
		base = setMReals
	}
	return fmt.Sprintf("%s_s%d", base, shardOf(k))
}

// parseShard cuts the "_s<shard>" suffix off a name.
func parseShard(name string) (string, uint8, bool) {
	i := strings.LastIndex(name, "_s")
	if i < 0 {
		return "", 0, false
	}
	n, err := strconv.ParseUint(name[i+2:], 10, 8)
	if err != nil || n >= shards || fmt.Sprint(n) != name[i+2:] {
		return "", 0, false
	}
	return name[:i], uint8(n), true
}

// isRealsSet reports whether name is a reals map (mark: an mreals one).
func isRealsSet(name string) (mark, ok bool) {
	base, _, ok := parseShard(name)
	return base == setMReals, ok && (base == setReals || base == setMReals)
}

// parseClass parses class.name's output.
func parseClass(s string) (class, bool) {
	var c class
	s0 := s
	s, shard, ok := parseShard(s)
	if !ok {
		return class{}, false
	}
	rest, keep := strings.CutSuffix(s, "_keepport")
	rest, mark := strings.CutSuffix(rest, "_fwm")
	f := strings.Split(rest, "_")
	if len(f) != 3 {
		return class{}, false
	}
	m, err1 := strconv.ParseUint(f[1], 10, 32)
	mask, err2 := strconv.ParseUint(f[2], 10, 8)
	c = class{Kind: f[0], M: uint32(m), Mask: uint8(mask), Mark: mark, KeepPort: keep, Shard: shard}
	switch {
	case err1 != nil || err2 != nil || mask > 128 || !slices.Contains(TableSizes, c.M):
		return class{}, false
	case c.Kind != kindSrc && c.Kind != kindSrcPort && c.Kind != kindNumgen:
		return class{}, false
	}
	return c, c.name() == s0
}

// svcTag is a service's attributes, kept as the comment of its element in
// the services (or marks) map, for example
// "vigil svc sched=mh flags=0x0 timeout=0 netmask=0". Read reports them; a
// change replaces the element.
func svcTag(s lvs.Service) string {
	return fmt.Sprintf("vigil svc sched=%s flags=%#x timeout=%d netmask=%d",
		s.Scheduler, uint8(s.Flags), s.PersistenceTimeout, s.PersistenceNetmask)
}

// attrs are the service attributes a tag records.
type attrs struct {
	sched   string
	flags   lvs.Flags
	timeout uint32
	netmask uint8
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

// Rule tags (user data): what a rule encodes, so that a rule that differs
// from the wanted one is replaced.
const (
	tagMarks    = "vigil marks"
	tagDispatch = "vigil dispatch"
)

func pickupTag(oif string) string { return "vigil pickup oif=" + oif }

// minCapacity is the smallest map capacity (the kernel's fixed-size hash
// then has 128 buckets, 1 KiB).
const minCapacity = 64

// capacity is the size a map is created with to hold n elements: the
// kernel sizes a hash for it up front instead of growing one while a batch
// adds hundreds of thousands of elements (3x faster), but refuses elements
// beyond it, so a map that outgrows it is recreated larger in the same
// batch.
func capacity(n int) uint32 {
	c := uint32(minCapacity)
	for int(c) < n+n/2 {
		c <<= 1
	}
	return c
}

// fits reports whether a map of capacity c suits n elements: not too small,
// and not more than 8 times too large (then it shrinks).
func fits(c uint32, n int) bool {
	return n <= int(c) && (c <= minCapacity || n*8 >= int(c))
}
