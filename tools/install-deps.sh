#!/usr/bin/env bash
# Installs the Debian packages hyve builds, tests and benchmarks with.
# Idempotent: installs only what is missing.  Needs root (or sudo).
set -euo pipefail
pkgs=(
	build-essential gcc-multilib make clang libclang-rt-14-dev  # build, fuzz
	libcbor-dev libxxhash-dev libjson-c-dev libzstd-dev liburing-dev
	python3 python3-cbor2 python3-xxhash       # tools/hyve-snap.py
	acpica-tools                               # iasl: ACPI table test
	qemu-system-x86 busybox-static cpio        # nested rig, guest kit, bench
	socat man-db groff-base gnuplot-nox e2fsprogs
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
