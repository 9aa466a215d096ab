#!/bin/sh
# Installs what building and testing taskpipe needs on a Debian bookworm machine:
# Debian packages (and deb-src entries for `apt-get source`), plus moto and boto3
# through pip only when they are missing. Idempotent; quiet when nothing is missing.
set -eu

need_pkgs="build-essential musl-tools quilt autoconf automake libtool pkg-config
dpkg-dev file openssl zip unzip libcmocka-dev liblua5.4-dev libcjson-dev
libbearssl-dev libcurl4-openssl-dev clang hyperfine tmux rlwrap valgrind
gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu musl-dev:arm64 qemu-user-static"

# Root installs directly; anyone else through sudo.
as_root=
[ "$(id -u)" = 0 ] || as_root=sudo

# arm64 packages (musl-dev:arm64 brings aarch64-linux-musl-gcc, the cross
# compiler of `make ARCH=aarch64` and `make package`) need the architecture.
added_arch=no
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	$as_root dpkg --add-architecture arm64
	added_arch=yes
fi

missing=""
for p in $need_pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done

src_list=/etc/apt/sources.list.d/taskpipe-deb-src.sources
if [ ! -f "$src_list" ] && ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d; then
	# deb-src for bookworm, so build/libs.sh can `apt-get source` the libraries.
	$as_root tee "$src_list" >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	updated=no
else
	updated=yes
fi

if [ -n "$missing" ] || [ "$updated" = no ] || [ "$added_arch" = yes ]; then
	export DEBIAN_FRONTEND=noninteractive
	$as_root apt-get update -qq
	[ -z "$missing" ] || $as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

python3 -c 'import moto, boto3' 2>/dev/null || python3 -m pip install -q 'moto[server]' boto3
command -v moto_server >/dev/null || python3 -m pip install -q 'moto[server]'
command -v cfn-lint >/dev/null || python3 -m pip install -q cfn-lint
exit 0
