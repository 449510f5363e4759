# What every L1 of the nested rig needs from the host (sourced by
# tests/nested/rig.sh and tools/in-rig; needs $kit and $kver): kernel modules
# from the guest kit, and the kernel command line's clock settings.
#
# The kit is the kernel package unpacked with dpkg-deb, so there is no
# modules.dep: dependencies come from each module's own .modinfo
# "depends=" list.

# module_file NAME: the kit's file for module NAME (a '-' and '_' in a
# module's name are the same, as modprobe has it).
module_file() {
	local pat=${1//[-_]/[-_]} line
	line=$(grep -m1 -E "/${pat}\.ko(\.[a-z]+)?\$" "$kit/modules/$kver/modules.order") || return 1
	echo "$kit/modules/$kver/$line"
}

# module_plain FILE DEST: the module uncompressed (busybox insmod wants it so).
module_plain() {
	local f=$1 base=${1%.ko*}
	if [ -f "$base.ko" ]; then cp "$base.ko" "$2"
	elif [ -f "$base.ko.xz" ]; then xz -dc "$base.ko.xz" >"$2"
	elif [ -f "$base.ko.zst" ]; then zstd -qdc "$base.ko.zst" >"$2"
	elif [ -f "$base.ko.gz" ]; then gzip -dc "$base.ko.gz" >"$2"
	else return 1
	fi
}

# modules_install DIR LIST 'NAME [ARGS]'...: copies each named module and
# everything it depends on into DIR, and writes LIST, one "FILE ARGS" line
# per module, dependencies first (the order insmod needs).  A module the
# kernel has built in is not in modules.order and is skipped.
modules_install() {
	local dir=$1 list=$2 spec
	shift 2
	local -A done_mods=()
	: >"$list"
	_modules_add() {
		local name=${1//-/_} args=${2:-} f deps d
		[ -n "${done_mods[$name]:-}" ] && return 0
		done_mods[$name]=1
		if ! f=$(module_file "$name"); then
			grep -qE "/${name//_/[-_]}\.ko\$" "$kit/modules/$kver/modules.builtin" 2>/dev/null && return 0
			echo "modules: $name is not in the kit ($kit/modules/$kver)" >&2
			return 1
		fi
		module_plain "$f" "$dir/$name.ko" || { echo "modules: cannot unpack $f" >&2; return 1; }
		deps=$(tr '\0' '\n' <"$dir/$name.ko" | sed -n 's/^depends=//p' | head -1)
		for d in ${deps//,/ }; do _modules_add "$d" || return 1; done
		echo "$name.ko${args:+ $args}" >>"$list"
	}
	for spec in "$@"; do
		if [[ $spec == *" "* ]]; then
			_modules_add "${spec%% *}" "${spec#* }" || return 1
		else
			_modules_add "$spec" || return 1
		fi
	done
}

# host_tsc_khz: this host's TSC rate in kHz.  QEMU-TCG's RDTSC returns the
# host's TSC, so L1's TSC runs at exactly this rate; L1's own calibration
# under emulation is off by up to a few percent on a loaded host, and KVM in
# L1 publishes that rate to L2 (kvmclock, the TSC-deadline timer), which
# skews every guest timing check.  The kernel's own figure when it has one,
# else measured against CLOCK_MONOTONIC_RAW.
host_tsc_khz() {
	local mhz
	mhz=$(dmesg 2>/dev/null | sed -n -e 's/.*tsc: Refined TSC clocksource calibration: \([0-9.]*\) MHz.*/\1/p' \
		-e 's/.*tsc: Detected \([0-9.]*\) MHz processor.*/\1/p' | tail -1)
	if [ -n "$mhz" ]; then
		awk -v m="$mhz" 'BEGIN { printf "%d\n", m * 1000 + 0.5 }'
		return 0
	fi
	local bin=${TMPDIR:-/tmp}/hyve-tsc-khz.$(id -u)
	if [ ! -x "$bin" ]; then
		cc -O2 -x c -o "$bin" - <<'C' || return 1
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC_RAW, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(void)
{
	double t0 = now(), t1;
	unsigned long long c0 = __rdtsc(), c1;
	struct timespec d = {0, 300000000};
	nanosleep(&d, NULL);
	t1 = now(); c1 = __rdtsc();
	printf("%.0f\n", (double)(c1 - c0) / (t1 - t0) / 1000.0);
	return 0;
}
C
	fi
	"$bin"
}

# l1_clock_cmdline: kernel arguments for L1's clock.  TSC at the host's
# rate, and trusted: under emulation Linux's TSC warp test and clocksource
# watchdog see the host's scheduling as TSC trouble, mark it unstable and
# fall back to the HPET; KVM in L1 then has no stable master clock for L2.
l1_clock_cmdline() {
	local khz
	khz=$(host_tsc_khz) && [ -n "$khz" ] && echo "tsc=reliable tsc_early_khz=$khz" && return 0
	echo "tsc=reliable"
}

# l1_slot_take: waits for one of this machine's L1 slots and holds it until
# the calling shell exits.  Every L1 is QEMU-TCG using every core it can get:
# two at once on a 2-core machine make both 2-4x slower and push guest
# timing past what tests can judge.  Slots: HYVE_L1_SLOTS (default: half the
# cores, at least 1; 0 = no limit), one lock file each in /tmp.
l1_slot_take() {
	local n=${HYVE_L1_SLOTS:-$(($(nproc) / 2))} i fd said=0
	[ "$n" = 0 ] && return 0
	[ "$n" -ge 1 ] || n=1
	command -v flock >/dev/null || return 0
	while :; do
		for i in $(seq 0 $((n - 1))); do
			exec {fd}>>"/tmp/hyve-l1-slot.$i.lock" || return 0
			if flock -n "$fd"; then
				L1_SLOT_FD=$fd
				return 0
			fi
			exec {fd}>&-
		done
		[ "$said" = 1 ] || echo "l1: waiting for a free L1 slot ($n on this machine; another nested rig is running)" >&2
		said=1
		sleep 2
	done
}
