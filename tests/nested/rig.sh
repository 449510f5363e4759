#!/usr/bin/env bash
# The nested rig: Debian's kernel as L1 under QEMU-TCG (emulated AMD SVM with
# nested paging), KVM loaded in L1, and hyve in L1 booting Debian's kernel
# again as L2.  See tests/nested/README.md.
#
#   tests/nested/rig.sh [options]
#     --run CPUS:ACTION   one hyve run inside L1: hyve -c CPUS booting the L2
#                         kernel with hyve.action=ACTION (poweroff, reboot,
#                         shell); repeatable, runs in order in one L1 boot
#     --hyve-args 'ARGS'  one hyve run with these exact arguments (the L2
#                         kernel is /vmlinuz, its initramfs /l2.cpio.gz)
#     --l1-cmd 'CMD'      one run of a shell command line inside L1 (a test's
#                         own scenario; /bin/hyve and /bin/hyvectl are there)
#     --l1-file SRC:DEST  copy host file SRC to DEST in L1's initramfs
#     --l2-file SRC:DEST  copy host file SRC to DEST in L2's initramfs
#     --vmm hyve|qemu     what boots L2 inside L1: bin/hyve (default) or
#                         Debian's QEMU with -accel kvm, to check the rig itself
#     --timeout S         bound on the whole QEMU-TCG run (default: 60 s plus
#                         the run timeout for each run)
#     --run-timeout S     bound on each run inside L1 (default 90)
#     --interactive       the terminal is the console (for the default guest)
#     --log FILE          also write the console to FILE
#     --l2-initramfs      only build the L2 initramfs and print its path (for
#                         booting the same guest directly on a host with VT)
#
# Prints the console, then one line per run:  RIG-RUN i: exit=N
# ("exit=none" if the run never finished) and exits 0 if L1 got through
# every run and powered off, 2 if the rig itself failed (no KVM in L1,
# timeout, QEMU error).  hyve's status is in the RIG-RUN lines, not in ours.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${HYVE_RIG_DIR:-$top/build/nested}
l2_cmdline_base="console=ttyS0 quiet loglevel=1 panic=-1"
l2_mem=512M

runs=() l1_files=() l2_files=() vmm=hyve timeout= run_timeout=90 interactive=0 logfile= l2_only=0
die() { echo "rig: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
	case $1 in
	--run) [[ ${2:-} =~ ^[0-9]+:(poweroff|reboot|shell)$ ]] || die "--run wants CPUS:ACTION, got '${2:-}'"
		runs+=("spec $2"); shift 2 ;;
	--hyve-args) runs+=("raw ${2:-}"); shift 2 ;;
	--l1-cmd) runs+=("l1 ${2:-}"); shift 2 ;;
	--l1-file|--l2-file) [[ ${2:-} =~ ^[^:]+:/[^:]+$ ]] || die "$1 wants SRC:/DEST, got '${2:-}'"
		[ -f "${2%%:*}" ] || die "$1: no file '${2%%:*}'"
		if [ "$1" = --l1-file ]; then l1_files+=("$2"); else l2_files+=("$2"); fi
		shift 2 ;;
	--vmm) vmm=${2:-}; [[ $vmm = hyve || $vmm = qemu ]] || die "--vmm is hyve or qemu"; shift 2 ;;
	--timeout) timeout=${2:-}; shift 2 ;;
	--run-timeout) run_timeout=${2:-}; shift 2 ;;
	--interactive) interactive=1; shift ;;
	--log) logfile=${2:-}; shift 2 ;;
	--l2-initramfs) l2_only=1; shift ;;
	-h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
done
[ ${#runs[@]} -gt 0 ] || [ "$l2_only" = 1 ] || die "nothing to run (give --run CPUS:ACTION or --hyve-args)"
[[ $run_timeout =~ ^[0-9]+$ ]] || die "--run-timeout wants seconds"
[ -n "$timeout" ] || timeout=$((60 + run_timeout * ${#runs[@]}))
[[ $timeout =~ ^[0-9]+$ ]] || die "--timeout wants seconds"
if [ "$vmm" = qemu ] && [[ " ${runs[*]}" =~ \ (raw|l1)\  ]]; then
	die "--hyve-args and --l1-cmd run hyve; they cannot be combined with --vmm qemu"
fi

[ "$l2_only" = 1 ] || command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is not installed (tools/install-deps.sh)"
command -v cpio >/dev/null || die "cpio is not installed (tools/install-deps.sh)"
kit=$(bash "$top/tools/guest-kit.sh") || die "no guest kit (tools/guest-kit.sh failed)"
kver=$(cat "$kit/kver")
hyve_bin=$top/build/bin/hyve
if [ "$vmm" = hyve ] && [ "$l2_only" = 0 ] && [ ! -x "$hyve_bin" ]; then
	die "$hyve_bin is not built (run make)"
fi

# Copies a dynamically linked program and every library ldd names into the
# tree rooted at $1, at the same paths, so it runs under L1's bare /init.
copy_with_libs() {
	local root=$1 prog=$2 dest=$3 lib
	mkdir -p "$root$(dirname "$dest")"
	cp -L "$prog" "$root$dest"
	for lib in $(ldd "$prog" 2>/dev/null | grep -o '/[^ ]*'); do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}

. "$here/l1-kit.sh"

# copy_module PATH DEST: the kit's module (path under kernel/, no suffix),
# uncompressed for L1's busybox insmod.
copy_module() {
	module_plain "$kit/modules/$kver/kernel/$1.ko" "$2" || die "module $1 not in the kit ($kit/modules/$kver)"
}

# add_files ROOT SRC:DEST...: extra files a test asked for, mode kept.
add_files() {
	local root=$1 f
	shift
	for f in "$@"; do
		mkdir -p "$root$(dirname "${f#*:}")"
		cp -p "${f%%:*}" "$root${f#*:}" || return 1
	done
}

# cpio newc of a directory, stable order.  No /dev/console node is needed:
# both /init scripts reopen their stdio on devtmpfs' console.
make_cpio() { (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet); }

build_l2_initramfs() {
	local root=$out/l2root
	rm -rf "$root"; mkdir -p "$root"/{bin,proc,sys,dev,tmp}
	cp "$kit/busybox" "$root/bin/busybox"
	cp "$here/l2-init.sh" "$root/init"
	chmod 755 "$root/init"
	add_files "$root" ${l2_files[@]+"${l2_files[@]}"} || return 1
	make_cpio "$root" | gzip -6 -n >"$out/l2.cpio.gz.tmp" && mv "$out/l2.cpio.gz.tmp" "$out/l2.cpio.gz"
}

# The command one run executes inside L1, as a line of shell.
run_command() {
	local kind=${1%% *} arg=${1#* } cpus action cmdline
	if [ "$kind" = raw ]; then
		echo "/bin/hyve $arg"
		return
	fi
	if [ "$kind" = l1 ]; then
		echo "$arg"
		return
	fi
	cpus=${arg%%:*} action=${arg#*:}
	cmdline="$l2_cmdline_base hyve.action=$action"
	if [ "$vmm" = qemu ]; then
		echo "qemu-system-x86_64 -accel kvm -cpu host -smp $cpus -m $l2_mem -nodefaults -nographic" \
			"-serial stdio -monitor none -no-reboot -L /usr/share/qemu" \
			"-kernel /vmlinuz -initrd /l2.cpio.gz -append '$cmdline'"
	else
		echo "/bin/hyve -c $cpus -m $l2_mem --kernel /vmlinuz --initrd /l2.cpio.gz" \
			"--cmdline '$cmdline' -l com1,stdio l2"
	fi
}

build_l1_initramfs() {
	local root=$out/l1root m i
	rm -rf "$root"; mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,lib/modules,rig}
	cp "$kit/busybox" "$root/bin/busybox"
	cp "$here/l1-init.sh" "$root/init"
	chmod 755 "$root/init"
	for m in virt/lib/irqbypass arch/x86/kvm/kvm drivers/crypto/ccp/ccp arch/x86/kvm/kvm-amd; do
		copy_module "$m" "$root/lib/modules/$(basename "$m").ko"
	done
	cp "$kit/vmlinuz" "$root/vmlinuz"
	cp "$out/l2.cpio.gz" "$root/l2.cpio.gz"
	if [ "$vmm" = qemu ]; then
		copy_with_libs "$root" "$(command -v qemu-system-x86_64)" /usr/bin/qemu-system-x86_64
		mkdir -p "$root/usr/share/qemu"
		for f in bios-256k.bin linuxboot_dma.bin kvmvapic.bin; do
			# Debian keeps SeaBIOS in its own package's directory.
			cp -L "/usr/share/qemu/$f" "$root/usr/share/qemu/$f" 2>/dev/null ||
				cp -L "/usr/share/seabios/$f" "$root/usr/share/qemu/$f" ||
				die "no $f in /usr/share/qemu or /usr/share/seabios"
		done
	else
		copy_with_libs "$root" "$hyve_bin" /bin/hyve
		# hyvectl links the same libraries; tests drive save/restore with it.
		[ -x "$top/build/bin/hyvectl" ] && copy_with_libs "$root" "$top/build/bin/hyvectl" /bin/hyvectl
	fi
	add_files "$root" ${l1_files[@]+"${l1_files[@]}"} || return 1
	{
		echo "# generated by tests/nested/rig.sh"
		echo "rig_interactive=$interactive"
		i=0
		for r in "${runs[@]}"; do
			i=$((i + 1))
			echo "rig_one $i $run_timeout $(run_command "$r")"
		done
	} >"$root/rig/runs.sh"
	cp "$here/l1-run.sh" "$root/rig/run.sh"
	make_cpio "$root" >"$out/l1.cpio.tmp" && mv "$out/l1.cpio.tmp" "$out/l1.cpio"
}

# Stamps each console line that carries the L2 guest's date with the host's
# time on arrival, so a test can compare the two; drops serial CRs and the
# terminal escapes firmware and getty-less consoles emit (ESC c, CSI ...).
annotate() {
	local line esc=$'\e'
	while IFS= read -r line; do
		line=${line//$'\r'/}
		if [[ $line == *$esc* ]]; then
			line=$(printf '%s' "$line" | sed -E 's/\x1b(\[[0-9;?]*[A-Za-z]|[c78])//g')
		fi
		case $line in
		*HYVE-L2-DATE=* | *HYVE-TICK\ *) printf '%s HOST-DATE=%(%s)T\n' "$line" -1 ;;
		*) printf '%s\n' "$line" ;;
		esac
	done
}

mkdir -p "$out" || die "cannot create $out"
build_l2_initramfs || die "building the L2 initramfs failed"
if [ "$l2_only" = 1 ]; then
	echo "$out/l2.cpio.gz"
	exit 0
fi
build_l1_initramfs || die "building the L1 initramfs failed"

qemu=(qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m 4G -nographic -no-reboot -nic none
	-kernel "$kit/vmlinuz" -initrd "$out/l1.cpio"
	-append "console=ttyS0 quiet loglevel=3 panic=1 mitigations=off $(l1_clock_cmdline)")

l1_slot_take
if [ "$interactive" = 1 ]; then
	# The terminal is QEMU's stdio: L1's console, which L1 hands to hyve's COM1.
	exec "${qemu[@]}"
fi

log=$out/console.log
start=$(date +%s)
timeout -k 5 "$timeout" "${qemu[@]}" </dev/null 2>&1 | annotate | tee "$log"
qrc=${PIPESTATUS[0]}
[ -n "$logfile" ] && cp "$log" "$logfile"
echo "RIG: QEMU-TCG ran $(($(date +%s) - start)) s, status $qrc"

rc=0
grep -q 'HYVE-L1-KVM-OK' "$log" || { echo "RIG: L1 has no working /dev/kvm"; rc=2; }
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	echo "RIG: QEMU-TCG timed out after $timeout s"; rc=2
elif ! grep -q 'HYVE-L1-DONE' "$log"; then
	echo "RIG: L1 did not finish (QEMU status $qrc)"; rc=2
fi
for i in $(seq 1 ${#runs[@]}); do
	e=$(sed -n "s/.*HYVE-EXIT\[$i\]=\([0-9]*\).*/\1/p" "$log" | tail -1)
	echo "RIG-RUN $i: exit=${e:-none}"
done
exit $rc
