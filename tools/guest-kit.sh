#!/usr/bin/env bash
# Fetches, once, the guest kit: Debian's stock kernel (vmlinuz + its modules
# tree, from the linux-image-6.1.0-*-amd64 package that linux-image-amd64
# points at) and a static busybox.  The kit lives outside the repository, in
# $HYVE_KIT_DIR (default /var/cache/hyve-kit, or ~/.cache/hyve-kit for a user
# who cannot write there); a second run only checks it.
#
#   tools/guest-kit.sh            fetch if needed, print the kit directory
#   tools/guest-kit.sh --check    exit 1 (fetch nothing) if the kit is missing
#
# Layout of the kit:
#   vmlinuz            the kernel (bzImage)
#   kver               its release, e.g. 6.1.0-56-amd64
#   package            the package name and version it came from
#   modules/<kver>/    the package's /lib/modules/<kver> tree
#   busybox            static busybox (from busybox-static)
set -euo pipefail

kit=${HYVE_KIT_DIR:-/var/cache/hyve-kit}
# A user who cannot write /var/cache keeps the kit in their own cache.
if [ -z "${HYVE_KIT_DIR:-}" ] && [ ! -e "$kit/kver" ] && ! mkdir -p "$kit" 2>/dev/null; then
	kit=${XDG_CACHE_HOME:-$HOME/.cache}/hyve-kit
fi

kit_complete() {
	[ -s "$kit/vmlinuz" ] && [ -s "$kit/kver" ] && [ -x "$kit/busybox" ] &&
		[ -d "$kit/modules/$(cat "$kit/kver")/kernel/arch/x86/kvm" ]
}

if kit_complete; then
	echo "$kit"
	exit 0
fi
if [ "${1:-}" = --check ]; then
	echo "guest-kit: no kit in $kit (run tools/guest-kit.sh)" >&2
	exit 1
fi

die() { echo "guest-kit: $*" >&2; exit 1; }

# busybox-static installs /bin/busybox; the plain busybox package (dynamic)
# would conflict with it, so ask dpkg which one is there.
busybox=
if dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed'; then
	busybox=$(dpkg -L busybox-static | grep -m1 '/busybox$')
fi
[ -n "$busybox" ] && [ -x "$busybox" ] || die "busybox-static is not installed (run tools/install-deps.sh)"

# The metapackage's dependency names the current ABI package; an empty apt
# list (fresh container) needs one update first.
resolve_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-6\.1\.0-[0-9]*-amd64\)$/\1/p' | head -1
}
pkg=$(resolve_pkg)
if [ -z "$pkg" ]; then
	apt-get update -q >/dev/null 2>&1 || true
	pkg=$(resolve_pkg)
fi
[ -n "$pkg" ] || die "cannot resolve linux-image-amd64 to a linux-image-6.1.0-*-amd64 package (apt-cache depends)"
kver=${pkg#linux-image-}

mkdir -p "$kit"
work=$(mktemp -d "$kit/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "guest-kit: fetching $pkg into $kit" >&2
# apt's sandbox user cannot write into a root-only mktemp dir; let it.
chmod 755 "$work"
(cd "$work" && apt-get download -q "$pkg" >/dev/null 2>"$work/apt.err") ||
	{ cat "$work/apt.err" >&2; die "apt-get download $pkg failed"; }
deb=$(ls "$work"/*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || die "apt-get download $pkg produced no .deb"
dpkg-deb -x "$deb" "$work/x" || die "dpkg-deb -x $deb failed"
[ -s "$work/x/boot/vmlinuz-$kver" ] || die "$deb has no boot/vmlinuz-$kver"
[ -d "$work/x/lib/modules/$kver" ] || die "$deb has no lib/modules/$kver"

rm -rf "$kit/modules" "$kit/vmlinuz" "$kit/kver"
mkdir -p "$kit/modules"
mv "$work/x/lib/modules/$kver" "$kit/modules/$kver"
mv "$work/x/boot/vmlinuz-$kver" "$kit/vmlinuz"
cp "$work/x/boot/config-$kver" "$kit/config" 2>/dev/null || true
cp "$busybox" "$kit/busybox"
echo "$(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)" >"$kit/package"
# kver last: kit_complete keys on it, so an interrupted fetch is redone.
echo "$kver" >"$kit/kver"
kit_complete || die "kit in $kit is incomplete after fetching"
echo "$kit"
