#!/usr/bin/env bash
# `nook kconfig` must be a subset of our own guest kernel's final config: every
# CONFIG_X=y it prints is =y in build/guest/config, and every "# CONFIG_X is not set" is
# not =y there (Kconfig's dependency resolution keeps what the fragment asks for).
#
#   tests/integration/kconfig_check.sh [BUILD_DIR]     (default: build)
#
# Uses BUILD_DIR/nook and BUILD_DIR/guest/config; NOOK= and KCONFIG= override either.
# Exits 1 naming each option that is missing, 2 if an input is missing.
set -u
build=${1:-build}
nook=${NOOK:-$build/nook}
config=${KCONFIG:-$build/guest/config}

if [ ! -x "$nook" ]; then
	echo "kconfig_check: no $nook (make nook)" >&2
	exit 2
fi
if [ ! -f "$config" ]; then
	echo "kconfig_check: no $config (make guest-kernel)" >&2
	exit 2
fi
if ! fragment=$("$nook" kconfig); then
	echo "kconfig_check: $nook kconfig failed" >&2
	exit 2
fi

missing=()
checked=0
while IFS= read -r line; do
	if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=y$ ]]; then
		opt=${BASH_REMATCH[1]}
		checked=$((checked + 1))
		grep -qx -- "$opt=y" "$config" || missing+=("$opt=y")
	elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
		opt=${BASH_REMATCH[1]}
		checked=$((checked + 1))
		grep -qx -- "$opt=y" "$config" && missing+=("$opt unset")
	elif [[ -n $line && $line != \#* ]]; then
		# merge_config.sh takes =m, ="str" and =N too, but nook's fragment has none
		echo "kconfig_check: unexpected fragment line: $line" >&2
		missing+=("(bad line: $line)")
	fi
done <<<"$fragment"

if [ "$checked" -eq 0 ]; then
	echo "kconfig_check: FAIL: $nook kconfig printed no options" >&2
	exit 1
fi
if [ "${#missing[@]}" -ne 0 ]; then
	echo "kconfig_check: FAIL: $config lacks ${missing[*]} (of $checked options)" >&2
	exit 1
fi
echo "kconfig_check: PASS ($checked options of nook kconfig in $config)"
