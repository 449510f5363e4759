#!/usr/bin/env bash
# Snapshot benchmark, hyve against QEMU (issue 8): builds hyve and the
# workload guest, runs both VMMs on this /dev/kvm and prints, for a 1 GiB
# guest with 512 MiB filled and a 4 GiB guest with 3040 MiB filled, save time,
# pause, snapshot bytes, restore-to-first-tick, monitor RSS, each with the
# hyve/QEMU ratio, and dd's time for the same bytes; then a sweep of guest
# sizes (256 MiB .. 16 GiB) plotted with gnuplot.  Not run by the tests.
#
#   bench/snapshot-vs-qemu.sh [-o OUTDIR] [--quick] [--dir SCRATCH]
#
# OUTDIR (default build/bench/snapshot) gets table.txt, bench.json,
# sweep.dat and snapshot.png.  SCRATCH (default a new directory under
# /var/tmp) must be on a disk, not tmpfs, to measure what users get.
# Without a usable /dev/kvm (or with HYVE_BENCH_IN_RIG=1) it runs itself in
# the nested rig's L1 (tools/in-rig), hyve and QEMU on the same L1 KVM; the
# report's "# KVM:" line says which KVM the figures come from.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/bench/snapshot scratch= quick=
while [ $# -gt 0 ]; do
	case $1 in
	-o) out=$2; shift 2 ;;
	--dir) scratch=$2; shift 2 ;;
	--quick) quick=1; shift ;;
	*) echo "usage: $0 [-o OUTDIR] [--quick] [--dir SCRATCH]" >&2; exit 2 ;;
	esac
done
out=$(realpath -m "$out")
command -v qemu-system-x86_64 >/dev/null || { echo "$0: qemu-system-x86_64 is missing (apt-get install qemu-system-x86)" >&2; exit 1; }
if [ "${HYVE_IN_RIG:-0}" != 1 ]; then
	make -s -C "$top" -j2 bins
	make -s -C "$top/tests/guest" build/snapcount.elf build/snapcount.qemu.elf
fi
mkdir -p "$out"
# Which KVM both VMMs run on.  Without a usable /dev/kvm here (or with
# HYVE_BENCH_IN_RIG=1) the whole benchmark runs in one L1 of the nested rig
# (tools/in-rig), hyve and QEMU -accel kvm side by side on L1's real KVM:
# absolute times there are those of emulation, the ratios stay meaningful.
if [ "${HYVE_IN_RIG:-0}" = 1 ]; then
	kvm_where="L1 of the nested rig under QEMU-TCG (kvm_amd, $(uname -r))"
elif [ "${HYVE_BENCH_IN_RIG:-0}" = 1 ] || [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "$0: no usable /dev/kvm here${HYVE_BENCH_IN_RIG:+ (or HYVE_BENCH_IN_RIG=1)}: running hyve and QEMU side by side in the nested rig's L1" >&2
	args=(-o "$out")
	[ -n "$quick" ] && args+=(--quick)
	# In L1 /var/tmp is an ext4 scratch disk: O_DIRECT works there.
	exec "$top/tools/in-rig" --rw "$out" --timeout 14400 \
		"BENCH_SCALE=${BENCH_SCALE:-10} bash bench/snapshot-vs-qemu.sh $(printf '%q ' "${args[@]}")"
elif grep -qwE 'vmx|svm' /proc/cpuinfo; then
	kvm_where="this host's /dev/kvm (hardware virtualization: $(grep -owE -m1 'vmx|svm' /proc/cpuinfo))"
else
	kvm_where="this host's /dev/kvm (PVM: no vmx/svm; guest ring 0 emulated)"
fi
if [ -z "$scratch" ]; then
	scratch=$(mktemp -d /var/tmp/hyve-bench.XXXXXX)
	trap 'rm -rf "$scratch"' EXIT
fi
chmod 700 "$scratch"
args=()
[ -n "$quick" ] && args=(--table 1024:512 --sweep 256:128,1024:128)
{
	echo "# hyve snapshot benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "# host: $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GiB RAM; scratch on $(df --output=fstype "$scratch" | tail -1)"
	echo "# $(qemu-system-x86_64 --version | head -1)"
	echo "# KVM: $kvm_where"
	python3 "$top/bench/snapbench.py" --dir "$scratch" --data "$out/sweep.dat" --json "$out/bench.json" "${args[@]}"
} | tee "$out/table.txt"
gnuplot <<GP
set terminal pngcairo size 900,560 noenhanced
set output "$out/snapshot.png"
set title "Snapshot save and restore-to-running against guest size (snapcount guest, one run)"
set xlabel "guest RAM (MiB, log scale; 128 MiB of it filled)"
set ylabel "seconds (log scale)"
set logscale xy
set xrange [180:23000]
set grid
set key top left
set xtics (256, 1024, 4096, 16384)
plot "$out/sweep.dat" using 1:4 with linespoints lw 2 title "hyve restore-to-first-tick (lazy)", \
     "$out/sweep.dat" using 1:6 with linespoints lw 2 title "QEMU restore (-incoming) to first tick", \
     "$out/sweep.dat" using 1:3 with linespoints lw 2 dt 2 title "hyve save (suspend, O_DIRECT, durable)", \
     "$out/sweep.dat" using 1:5 with linespoints lw 2 dt 2 title "QEMU save (stop + migrate to page cache)"
GP
echo "plot: $out/snapshot.png"
