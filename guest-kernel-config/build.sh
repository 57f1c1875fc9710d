#!/usr/bin/env bash
# Builds the nook guest kernel: Debian's linux-source-6.1 + patches/*.patch + nook.config
# on top of `make allnoconfig`. Outputs OUT/vmlinux (symbols stripped, still a PVH-bootable
# ELF) and OUT/bzImage (LZ4).
#
#   guest-kernel-config/build.sh [OUT]          (OUT defaults to build/guest)
#
# Caching: OUT/src holds the extracted, patched tree and its objects. The patches applied
# are remembered in OUT/src/.nook-patches/; when they change they are reverse-applied and
# the new set applied, so kbuild only recompiles the touched files. When nothing (config
# fragment, patches, this script) changed since the last good build, it exits at once.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-build/guest}
mkdir -p "$out"
out=$(cd "$out" && pwd)
src=$out/src
tarball=/usr/src/linux-source-6.1.tar.xz
fragment=$here/nook.config
shopt -s nullglob
patches=("$here"/patches/*.patch)
shopt -u nullglob

say() { echo "guest-kernel: $*"; }
die() { echo "guest-kernel: error: $*" >&2; exit 1; }

# The kernel's own make must not inherit the outer make's flags or jobserver.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES

stamp_of() { cat "$fragment" "$0" ${patches[@]+"${patches[@]}"} | sha256sum | cut -d' ' -f1; }
want=$(stamp_of)
if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$want" ] &&
   [ -f "$out/vmlinux" ] && [ -f "$out/bzImage" ]; then
	say "up to date ($out/vmlinux, $out/bzImage)"
	exit 0
fi

# --- tools and source
need_pkgs=()
[ -f "$tarball" ] || need_pkgs+=(linux-source-6.1)
for t in gcc make bc bison flex perl lz4 xz patch; do
	command -v "$t" >/dev/null || need_pkgs+=("$t")
done
[ -f /usr/include/libelf.h ] || need_pkgs+=(libelf-dev)
[ -f /usr/include/openssl/ssl.h ] || need_pkgs+=(libssl-dev)
if [ ${#need_pkgs[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		die "missing ${need_pkgs[*]}; run scripts/install-deps.sh as root (or apt-get install them)"
	fi
	say "installing build dependencies"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends linux-source-6.1 build-essential bc bison \
		flex perl lz4 xz-utils patch libelf-dev libssl-dev
	[ -f "$tarball" ] || die "$tarball still missing after installing linux-source-6.1"
fi

extract() {
	say "extracting $tarball into $src"
	rm -rf "$src" "$out/src.tmp"
	mkdir -p "$out/src.tmp"
	tar -xf "$tarball" -C "$out/src.tmp"
	mv "$out/src.tmp/linux-source-6.1" "$src"
	rmdir "$out/src.tmp"
	mkdir -p "$src/.nook-patches"
}
[ -f "$src/Makefile" ] && [ -d "$src/.nook-patches" ] || extract

# --- patches: keep the applied set in sync with patches/ (reverse old, apply new)
patches_differ() {
	local applied=("$src"/.nook-patches/*.patch)
	[ -e "${applied[0]}" ] || applied=()
	[ ${#applied[@]} -eq ${#patches[@]} ] || return 0
	local i
	for i in "${!patches[@]}"; do
		cmp -s "${patches[$i]}" "${applied[$i]}" || return 0
	done
	return 1
}
if patches_differ; then
	shopt -s nullglob
	old=("$src"/.nook-patches/*.patch)
	shopt -u nullglob
	for ((i = ${#old[@]} - 1; i >= 0; i--)); do
		say "reverting $(basename "${old[$i]}")"
		if ! patch -d "$src" -p1 -R -s -f < "${old[$i]}"; then
			say "cannot revert cleanly; starting from a fresh tree"
			extract
			break
		fi
		rm -f "${old[$i]}"
	done
	rm -f "$src"/.nook-patches/*.patch
	for p in ${patches[@]+"${patches[@]}"}; do
		say "applying $(basename "$p")"
		patch -d "$src" -p1 -s -f --no-backup-if-mismatch < "$p" ||
			die "patch $(basename "$p") does not apply to linux-source-6.1"
		cp "$p" "$src/.nook-patches/"
	done
fi

# --- config: allnoconfig + fragment, then check that every requested value stuck
say "configuring (allnoconfig + $(basename "$fragment"))"
cp "$fragment" "$src/.nook-fragment.config"
(cd "$src" && ARCH=x86_64 scripts/kconfig/merge_config.sh -n .nook-fragment.config \
	> .nook-merge.log 2>&1) || { cat "$src/.nook-merge.log"; die "merge_config failed"; }
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		grep -qxF "$line" "$src/.config" || { echo "  wanted $line, got: $(grep "^${line%%=*}=" "$src/.config" || echo unset)"; bad=1; } ;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }; sym=${sym%% *}
		if grep -q "^$sym=" "$src/.config"; then echo "  wanted $sym off, got: $(grep "^$sym=" "$src/.config")"; bad=1; fi ;;
	esac
done < "$fragment"
[ $bad = 0 ] || die "config fragment not fully applied (dependencies missing?)"

# --- build
jobs=$(nproc)
say "building vmlinux + bzImage with -j$jobs (log: $src/.nook-build.log)"
start=$(date +%s)
if ! (cd "$src" && make ARCH=x86_64 -j"$jobs" vmlinux bzImage 2>&1 | tee "$src/.nook-build.log" |
	grep --line-buffered -E '^  (CC|LD|AR|OBJCOPY|LZ4|BUILD)|error|Error|warning:' |
	awk '{ n++; if ($0 ~ /rror|warning:/ || n % 200 == 0 || $1 != "CC") print; fflush() }';
	exit "${PIPESTATUS[0]}"); then
	tail -n 40 "$src/.nook-build.log"
	die "kernel build failed"
fi
say "kernel built in $(( $(date +%s) - start )) s"

strip --strip-all -o "$out/vmlinux.tmp" "$src/vmlinux"
mv "$out/vmlinux.tmp" "$out/vmlinux"
cp "$src/arch/x86/boot/bzImage" "$out/bzImage.tmp"
mv "$out/bzImage.tmp" "$out/bzImage"
cp "$src/.config" "$out/config"
echo "$want" > "$out/.stamp"
say "done: $(du -h "$out/vmlinux" | cut -f1) vmlinux, $(du -h "$out/bzImage" | cut -f1) bzImage"
