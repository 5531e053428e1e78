#!/bin/sh
# Run vigil's IPVS datapath tests (package vigil/lvs/ipvs: the lvs
# conformance suite, foreign-service safety, masked flags, and NAT traffic
# with rr, wrr+persistence and mh) against a real IPVS kernel: a stock
# Debian kernel booted under qemu with a busybox initramfs (see README.md).
#
# Usage: test/ipvsvm/run-lvs.sh        (from anywhere; needs root for nothing,
#        but apt-get download, qemu-system-x86 and busybox-static)
# Env:   WORK (default /tmp/vigil-ipvsvm), KPKG, TIMEOUT, as in the scripts here.
# Exit status 0 iff every test passed in the guest.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export WORK=${WORK:-/tmp/vigil-ipvsvm}
mkdir -p "$WORK"
( cd "$ROOT" && CGO_ENABLED=0 go test -c -o "$WORK/lvs-ipvs.test" ./lvs/ipvs )
# -require-ipvs turns the tests' "needs IPVS" skips into failures: in the
# guest a missing IPVS is a broken harness, not a reason to pass.
# Every IPVS scheduler of the guest kernel (6.1 has no ip_vs_twos), so the
# conformance suite can use them all.
export EXTRA_MODULES="${EXTRA_MODULES:-ip_vs_lc ip_vs_wlc ip_vs_lblc ip_vs_lblcr ip_vs_dh ip_vs_sed ip_vs_nq ip_vs_fo ip_vs_ovf bridge}"
sh "$HERE/build-initramfs.sh" "$WORK/lvs-ipvs.test" -test.v -test.count=1 -require-ipvs
TIMEOUT=${TIMEOUT:-300} sh "$HERE/run.sh" auto
