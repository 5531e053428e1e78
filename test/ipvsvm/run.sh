#!/bin/sh
# Boot the Debian kernel + initramfs under qemu and decide pass/fail from the
# serial console.  Usage: run.sh [kvm|tcg|auto]   (default: tcg)
# Env: WORK (default /tmp/vigil-ipvsvm), INITRD (default $WORK/initrd.gz),
#      TIMEOUT seconds (default 300), MEM MiB (512), SMP (1)
# Exit status 0 iff the guest printed "IPVSPROBE-RESULT: PASS".
set -u
WORK=${WORK:-/tmp/vigil-ipvsvm}
ACCEL=${1:-tcg}
TIMEOUT=${TIMEOUT:-300}
INITRD=${INITRD:-$WORK/initrd.gz}

if [ "$ACCEL" = auto ]; then
    # /dev/kvm alone is not enough (e.g. nested "kvm-pvm" hosts accept -accel kvm
    # but a stock kernel hangs right after decompression), so only use KVM if
    # the CPU advertises VT-x/AMD-V.
    if [ -w /dev/kvm ] && grep -qE '\b(vmx|svm)\b' /proc/cpuinfo; then ACCEL=kvm; else ACCEL=tcg; fi
fi
case $ACCEL in
    kvm) ACC="-accel kvm -cpu host" ;;
    tcg) ACC="-accel tcg,thread=multi -cpu max" ;;
    *) echo "usage: run.sh [kvm|tcg|auto]" >&2; exit 2 ;;
esac

LOG=$WORK/console-$ACCEL.log
START=$(date +%s.%N)
timeout "$TIMEOUT" qemu-system-x86_64 $ACC -m "${MEM:-512}" -smp "${SMP:-1}" -nographic -no-reboot \
    -nic none -kernel "$WORK/vmlinuz" -initrd "$INITRD" \
    -append "console=ttyS0 quiet panic=-1" </dev/null >"$LOG" 2>&1
QRC=$?
END=$(date +%s.%N)
tr -d '\r' < "$LOG" | sed -n '/IPVSPROBE: init start/,$p' | sed '1s/^.*IPVSPROBE:/IPVSPROBE:/'
echo "qemu exit $QRC, accel $ACCEL, wall $(echo "$END $START" | awk '{printf "%.1f", $1-$2}')s, log $LOG"
grep -q 'IPVSPROBE-RESULT: PASS' "$LOG"
