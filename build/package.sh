#!/bin/sh
# Packages the controller for Lambda (`make package` builds the binaries
# first): one zip per architecture holding `bootstrap` (the static binary,
# mode 0755) and `policy.lua` (the policy in force, editable; taskpipe reads
# $LAMBDA_TASK_ROOT/policy.lua), plus a SHA256SUMS manifest.
# And the consumer layer, one zip per architecture (taskpipe-consumer-ARCH.zip,
# unpacked by Lambda under /opt): `taskpipe` (the same static binary; its
# `consume` command is the Runtime API proxy), `bootstrap` and
# `taskpipe-wrapper` (packaging/layer/), all mode 0755.
#
#   build/package.sh [DIST [BUILD]]   DIST default packaging/dist, BUILD default out
#   inputs: BUILD/x86_64/taskpipe, BUILD/aarch64/taskpipe, policies/policy.lua
#
# Reproducible: same inputs, same zip bytes. Entries are added in a fixed
# (sorted) order with fixed modes and a fixed mtime (SOURCE_DATE_EPOCH,
# default 1980-01-01, the earliest a zip can store), in UTC, and `zip -X`
# leaves out the extra fields (uid/gid, extended timestamps).
# Each binary is checked before it is packed: statically linked, right
# machine, and it runs (`bootstrap version`; arm64 under qemu-aarch64-static).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dist=${1:-$top/packaging/dist}
build=${2:-$top/out}
epoch=${SOURCE_DATE_EPOCH:-315532800}
export TZ=UTC LC_ALL=C
umask 022

mkdir -p "$dist"
dist=$(cd "$dist" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT INT TERM

# check BIN MACHINE RUNNER...: static, the right architecture, and it starts.
check() {
	bin=$1 machine=$2; shift 2
	desc=$(file -b "$bin")
	case $desc in *"statically linked"*|*"static-pie linked"*) ;; *)
		echo "package.sh: $bin is not static: $desc" >&2; exit 1 ;; esac
	case $desc in *"$machine"*) ;; *)
		echo "package.sh: $bin is not $machine: $desc" >&2; exit 1 ;; esac
	out=$("$@" "$bin" version 2>&1) || { echo "package.sh: $bin version failed: $out" >&2; exit 1; }
	echo "  $(basename "$(dirname "$bin")"): $(echo "$out" | head -1)"
}

# pack ARCHNAME BIN: one zip, from a staging directory of its own.
pack() {
	name=$1 bin=$2
	d=$stage/$name
	mkdir -p "$d"
	cp "$bin" "$d/bootstrap"
	cp "$top/policies/policy.lua" "$d/policy.lua"
	chmod 0755 "$d/bootstrap"
	chmod 0644 "$d/policy.lua"
	touch -d "@$epoch" "$d/bootstrap" "$d/policy.lua"
	zip_path=$dist/bootstrap-$name.zip
	rm -f "$zip_path"
	(cd "$d" && zip -q -X -D -9 "$zip_path" bootstrap policy.lua)
	touch -d "@$epoch" "$zip_path"
}

# pack_layer ARCHNAME BIN: the consumer layer zip.
pack_layer() {
	name=$1 bin=$2
	d=$stage/layer-$name
	mkdir -p "$d"
	cp "$bin" "$d/taskpipe"
	cp "$top/packaging/layer/bootstrap" "$top/packaging/layer/taskpipe-wrapper" "$d/"
	chmod 0755 "$d/taskpipe" "$d/bootstrap" "$d/taskpipe-wrapper"
	touch -d "@$epoch" "$d/taskpipe" "$d/bootstrap" "$d/taskpipe-wrapper"
	zip_path=$dist/taskpipe-consumer-$name.zip
	rm -f "$zip_path"
	(cd "$d" && zip -q -X -D -9 "$zip_path" bootstrap taskpipe taskpipe-wrapper)
	touch -d "@$epoch" "$zip_path"
}

x86=$build/x86_64/taskpipe
arm=$build/aarch64/taskpipe
for b in "$x86" "$arm"; do
	[ -x "$b" ] || { echo "package.sh: $b missing (make package builds it)" >&2; exit 1; }
done

echo "checking binaries"
check "$x86" x86-64 env
qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
[ -n "$qemu" ] || { echo "package.sh: qemu-aarch64-static not found (make deps installs it)" >&2; exit 1; }
check "$arm" "ARM aarch64" "$qemu"

pack x86_64 "$x86"
pack arm64 "$arm"
pack_layer x86_64 "$x86"
pack_layer arm64 "$arm"
(cd "$dist" && sha256sum bootstrap-arm64.zip bootstrap-x86_64.zip \
	taskpipe-consumer-arm64.zip taskpipe-consumer-x86_64.zip > SHA256SUMS)
echo "packages in ${dist#"$top"/}:"
(cd "$dist" && cat SHA256SUMS && unzip -Z -l bootstrap-x86_64.zip | sed -n '3,4p')
