#!/bin/sh
# (Copied from shared/reference/ipvs-qemu, the project's probe; default WORK changed.)
# Build a tiny initramfs that boots a stock Debian kernel, loads IPVS and runs
# a static test binary against it.
#
# Usage: build-initramfs.sh TEST_BINARY [TEST_ARGS...]
#
# Env:
#   WORK      scratch dir               (default /tmp/ipvsprobe)
#   KPKG      linux-image .deb to use   (default: apt-get download the one
#             linux-image-amd64 currently depends on; never installed)
#   OUT       initramfs to write        (default $WORK/initrd.gz)
#   EXTRA_MODULES  more module names to load (deps resolved automatically)
# Writes $WORK/vmlinuz (copied out of the package) and $OUT.
# Needs on the host: apt-get/dpkg (Debian), busybox-static, gzip.
set -eu

BIN=${1:?usage: build-initramfs.sh TEST_BINARY [ARGS...]}
shift
TEST_ARGS="$*"
WORK=${WORK:-/tmp/vigil-ipvsvm}
OUT=${OUT:-$WORK/initrd.gz}
BB=$(command -v busybox)
mkdir -p "$WORK"

# --- 1. kernel package (downloaded, extracted, never installed) -------------
if [ -z "${KPKG:-}" ]; then
    KIMG=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n1)
    [ -n "$KIMG" ] || { echo "cannot resolve linux-image-amd64 dependency" >&2; exit 1; }
    ( cd "$WORK" && [ -n "$(ls "$KIMG"_*.deb 2>/dev/null)" ] || apt-get download "$KIMG" )
    KPKG=$(ls "$WORK/$KIMG"_*.deb | head -n1)
fi
echo "kernel package: $KPKG"
KX=$WORK/kpkg
STAMP=$KX/.from-$(basename "$KPKG")
if [ ! -e "$STAMP" ]; then      # extraction (~400 MB) is the slow part; cache it
    rm -rf "$KX"; mkdir -p "$KX"
    dpkg -x "$KPKG" "$KX"
    touch "$STAMP"
fi
KVER=$(ls "$KX/lib/modules" | head -n1)
MODDIR=$KX/lib/modules/$KVER
cp "$KX/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
echo "kernel version: $KVER"

# --- 2. resolve module dependencies (no depmod needed: read depends= from .modinfo)
# name -> path index (module names normalise '-' to '_')
IDX=$WORK/modindex
( cd "$MODDIR" && find kernel -name '*.ko' ) |
    awk -F/ '{n=$NF; sub(/\.ko$/, "", n); gsub(/-/, "_", n); print n, $0}' > "$IDX"

ORDER=$WORK/modules.load
: > "$ORDER"
resolve() {
    local n p d
    n=$(echo "$1" | tr - _)
    grep -q "^$n " "$ORDER.names" 2>/dev/null && return 0
    p=$(awk -v n="$n" '$1==n {print $2; exit}' "$IDX")
    if [ -z "$p" ]; then
        # builtin? then nothing to load
        if grep -q "/$n.ko\$" "$MODDIR/modules.builtin" 2>/dev/null || \
           grep -q "/$(echo "$n" | tr _ -).ko\$" "$MODDIR/modules.builtin" 2>/dev/null; then return 0; fi
        echo "module $n not found" >&2; exit 1
    fi
    for d in $("$BB" strings -a "$MODDIR/$p" | sed -n 's/^depends=//p' | tr , ' '); do
        resolve "$d"
    done
    echo "$n " >> "$ORDER.names"
    echo "$p" >> "$ORDER"
}
: > "$ORDER.names"
# crc32c_generic: libcrc32c only has a *soft* dependency on the crc32c crypto
# driver, and nothing in the guest can autoload it, so load it explicitly first.
for m in crc32c_generic ip_vs ip_vs_rr ip_vs_wrr ip_vs_sh ip_vs_mh dummy veth ${EXTRA_MODULES:-}; do
    resolve "$m"
done
rm -f "$ORDER.names" "$IDX"
echo "modules (load order):"; sed 's/^/  /' "$ORDER"

# --- 3. initramfs tree -------------------------------------------------------
R=$WORK/initramfs
rm -rf "$R"
mkdir -p "$R/bin" "$R/sbin" "$R/usr/bin" "$R/usr/sbin" "$R/proc" "$R/sys" "$R/dev" \
         "$R/run/netns" "$R/tmp" "$R/lib/modules/$KVER" "$R/www/a" "$R/www/b"
cp "$BB" "$R/bin/busybox"
for a in $("$BB" --list); do
    [ "$a" = busybox ] || ln -s /bin/busybox "$R/bin/$a"
done
while read -r p; do
    mkdir -p "$R/lib/modules/$KVER/$(dirname "$p")"
    cp "$MODDIR/$p" "$R/lib/modules/$KVER/$p"
done < "$ORDER"
cp "$ORDER" "$R/lib/modules/$KVER/modules.load"
cp "$BIN" "$R/testbin"; chmod 755 "$R/testbin"
echo "$TEST_ARGS" > "$R/testargs"
echo backend-A > "$R/www/a/index.html"
echo backend-B > "$R/www/b/index.html"

cat > "$R/init" <<'INIT'
#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /run && mkdir -p /run/netns
echo "IPVSPROBE: init start, kernel $(uname -r), uptime $(cut -d' ' -f1 /proc/uptime)s"
RC=0
fail() { echo "IPVSPROBE: FAIL: $*"; RC=1; }
K=/lib/modules/$(uname -r)
for p in $(cat $K/modules.load); do
    insmod $K/$p || fail "insmod $p"
done
lsmod | grep -E '^(ip_vs|nf_conntrack|veth|dummy)' | awk '{print "  lsmod: " $1}'
ip link set lo up

# Named netns: /run/netns/{lb,be}, each held by a sleeper so `ip link set
# ... netns PID` (busybox ip has no `ip netns`) can move interfaces into it.
mkns() {
    unshare -n sleep 100000 & pid=$!
    # wait until the sleeper has actually unshared (slow under TCG)
    while [ "$(readlink /proc/$pid/ns/net)" = "$(readlink /proc/1/ns/net)" ]; do usleep 10000; done
    eval "PID_$1=$pid"; touch /run/netns/$1
    mount --bind /proc/$pid/ns/net /run/netns/$1 || fail "netns $1"
}
mkns lb; mkns be
inns() { n=$1; shift; nsenter --net=/run/netns/$n "$@"; }
ip link add veth-lb type veth            # busybox ignores `peer name`; peer = veth0
ip link set veth0 name veth-be
ip link set veth-lb netns $PID_lb
ip link set veth-be netns $PID_be
inns lb ip link set lo up
inns lb ip link add kube-ipvs0 type dummy
inns lb ip addr add 10.0.0.1/32 dev kube-ipvs0
inns lb ip link set kube-ipvs0 up
inns lb ip addr add 192.168.1.1/24 dev veth-lb
inns lb ip link set veth-lb up
inns be ip link set lo up
inns be ip addr add 192.168.1.2/24 dev veth-be
inns be ip addr add 192.168.1.3/24 dev veth-be
inns be ip link set veth-be up
inns be ip route add default via 192.168.1.1
inns be httpd -p 192.168.1.2:8080 -h /www/a
inns be httpd -p 192.168.1.3:8080 -h /www/b

echo "IPVSPROBE: running /testbin $(cat /testargs)"
T0=$(cut -d' ' -f1 /proc/uptime)
/testbin $(cat /testargs) || fail "testbin exit $?"
echo "IPVSPROBE: testbin took $(awk -v a=$T0 '{print $1-a}' /proc/uptime)s guest time"

# Real datapath check, only if the test binary put a masq service 10.0.0.1:80
# -> 192.168.1.{2,3}:8080 into netns lb (ipvsprobe -netns /run/netns/lb does):
# fetch through the VIP from inside lb and expect both backends.
if inns lb cat /proc/net/ip_vs | grep -q '^TCP  0A000001:0050'; then
    GOT=""
    for i in 1 2 3 4; do
        # (Debian's busybox-static wget segfaults even on numeric URLs; use nc)
        r=$(printf 'GET / HTTP/1.0\r\n\r\n' | inns lb nc -w 5 10.0.0.1 80 | tr -d '\r' | tail -n1)
        echo "  GET http://10.0.0.1/ #$i (netns lb) -> ${r:-<nothing>}"; GOT="$GOT $r"
    done
    echo "$GOT" | grep -q backend-A && echo "$GOT" | grep -q backend-B \
        || fail "rr did not hit both backends:$GOT"
    echo "---- /proc/net/ip_vs (netns lb) ----"; inns lb cat /proc/net/ip_vs
    echo "---- /proc/net/ip_vs_stats (netns lb) ----"; inns lb cat /proc/net/ip_vs_stats
fi

if [ $RC = 0 ]; then echo "IPVSPROBE-RESULT: PASS"; else echo "IPVSPROBE-RESULT: FAIL"; fi
echo "IPVSPROBE: guest uptime at end $(cut -d' ' -f1 /proc/uptime)s"
sync
poweroff -f
INIT
chmod 755 "$R/init"

( cd "$R" && find . | "$BB" cpio -o -H newc 2>/dev/null ) | gzip -1 > "$OUT"
echo "initramfs: $OUT ($(wc -c < "$OUT") bytes)"
