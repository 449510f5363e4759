# Kernel modules from the guest kit for an L1 initramfs (sourced by
# tests/nested/rig.sh and tools/in-rig; needs $kit and $kver).  The kit is
# the kernel package unpacked with dpkg-deb, so there is no modules.dep:
# dependencies come from each module's own .modinfo "depends=" list.

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
