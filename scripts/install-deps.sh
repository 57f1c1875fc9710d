#!/usr/bin/env bash
# Installs every Debian package nook needs to build, test and benchmark (run as root).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(
	build-essential clang libclang-rt-14-dev
	libcriterion-dev libfdt-dev libseccomp-dev
	linux-source-6.1 bc bison flex libelf-dev libssl-dev cpio lz4 xz-utils kmod
	qemu-system-x86 fio python3 attr acl linux-perf e2fsprogs busybox-static
	libjson-c-dev podman conmon runc
	# check-xfstests: fstests' build (tests/xfstests/xfstests.mk) and what its tests run
	xfslibs-dev uuid-dev libattr1-dev libacl1-dev libaio-dev libgdbm-dev liburing-dev
	libcap-dev libtool-bin automake make pkg-config gawk xfsprogs fuse3 psmisc
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}"
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "install-deps: all packages present"
