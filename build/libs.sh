#!/bin/sh
# Builds the third-party libraries taskpipe links statically (Lua 5.4,
# cJSON, BearSSL, libcurl with BearSSL as its TLS backend, and mimalloc as
# the allocator) from Debian bookworm's source packages with a musl compiler.
#
#   build/libs.sh [x86_64|aarch64]   -> .deps/<arch>/{include,lib,VERSIONS}
#
# Sources are fetched once with `apt-get source` into .deps/src (git-ignored).
# The result is cached: a finished tree (marked by .deps/<arch>/VERSIONS) is
# reused. No third-party code is ever committed.
set -eu

arch=${1:-x86_64}
top=$(cd "$(dirname "$0")/.." && pwd)
deps=$top/.deps
out=$deps/$arch
srcdir=$deps/src
jobs=$(nproc 2>/dev/null || echo 2)

case $arch in
x86_64) cc=musl-gcc; host=x86_64-linux-musl ;;
aarch64) cc=aarch64-linux-musl-gcc; host=aarch64-linux-musl ;;
*) echo "libs.sh: unknown architecture '$arch' (x86_64 or aarch64)" >&2; exit 1 ;;
esac

# Done when every library is there (a library added later is built alone).
[ -f "$out/VERSIONS" ] && [ -f "$out/lib/mimalloc.o" ] && exit 0
command -v "$cc" >/dev/null || { echo "libs.sh: $cc not found; run build/deps.sh" >&2; exit 1; }

mkdir -p "$srcdir" "$out/include" "$out/lib" "$out/work"
work=$out/work
# have FILE: the library producing FILE was built by an earlier run.
have() { [ -f "$out/VERSIONS" ] && [ -f "$1" ]; }

# fetch PKG: download and unpack Debian's source package (patches applied).
fetch() {
	pkg=$1
	if ! ls "$srcdir"/"$pkg"_*.dsc >/dev/null 2>&1; then
		(cd "$srcdir" && apt-get source -qq --download-only "$pkg" >/dev/null 2>&1) || {
			echo "libs.sh: apt-get source $pkg failed (is deb-src enabled? run build/deps.sh)" >&2
			exit 1
		}
	fi
	dsc=$(ls "$srcdir"/"$pkg"_*.dsc | head -1)
	rm -rf "$work/$pkg"
	dpkg-source --no-check -x "$dsc" "$work/$pkg" >/dev/null
	basename "$dsc" .dsc | sed 's/^[^_]*_//' > "$work/$pkg.version"
}

cflags="-O2 -fPIC -ffunction-sections -fdata-sections"

# Lua 5.4: the library part only (no lua.c/luac.c).
have "$out/lib/liblua.a" || { fetch lua5.4
(
	cd "$work/lua5.4/src"
	# Debian's luaconf.h includes a multiarch header its build generates.
	printf '#define DEB_HOST_MULTIARCH "%s"\n' "$host" > lua5.4-deb-multiarch.h
	objs=""
	for f in *.c; do
		case $f in lua.c|luac.c) continue ;; esac
		$cc $cflags -DLUA_USE_POSIX -c "$f" -o "${f%.c}.o"
		objs="$objs ${f%.c}.o"
	done
	ar rcs "$out/lib/liblua.a" $objs
	cp lua.h luaconf.h lualib.h lauxlib.h lua5.4-deb-multiarch.h "$out/include/"
); }

# cJSON: one file.
have "$out/lib/libcjson.a" || { fetch cjson
(
	cd "$work/cjson"
	$cc $cflags -c cJSON.c -o cJSON.o
	ar rcs "$out/lib/libcjson.a" cJSON.o
	mkdir -p "$out/include/cjson"
	cp cJSON.h "$out/include/cjson/"
); }

# BearSSL: its own make, static library only.
have "$out/lib/libbearssl.a" || { fetch bearssl
(
	cd "$work/bearssl"
	make -s -j"$jobs" CONF=Unix CC="$cc" CFLAGS="$cflags" LD="$cc" lib >/dev/null
	cp build/libbearssl.a "$out/lib/"
	cp inc/*.h "$out/include/"
); }

# libcurl 7.88: drop Debian's two last patches (they rename the library for
# GnuTLS/NSS builds), add ours (non-blocking BearSSL handshake), HTTP(S) only.
have "$out/lib/libcurl.a" || { fetch curl
(
	cd "$work/curl"
	QUILT_PATCHES=debian/patches quilt pop -q >/dev/null
	QUILT_PATCHES=debian/patches quilt pop -q >/dev/null
	patch -s -p1 < "$top/build/patches/curl-bearssl-nonblocking-handshake.patch"
	autoreconf -fi >/dev/null 2>&1
	CC=$cc CFLAGS="$cflags" CPPFLAGS="-I$out/include" LDFLAGS="-L$out/lib" \
	./configure -q --host="$host" --disable-shared --enable-static \
		--with-bearssl="$out" --without-zlib --without-brotli \
		--without-zstd --without-libpsl --without-nghttp2 --without-libidn2 \
		--without-librtmp --without-libssh2 --without-ca-bundle --without-ca-path \
		--without-ca-fallback --enable-threaded-resolver --disable-ldap \
		--disable-ldaps --disable-rtsp --disable-dict --disable-telnet \
		--disable-tftp --disable-pop3 --disable-imap --disable-smtp \
		--disable-gopher --disable-mqtt --disable-ftp --disable-file \
		--disable-smb --disable-manual --disable-ntlm \
		--disable-alt-svc --disable-unix-sockets \
		--enable-http --enable-proxy >/dev/null
	make -s -j"$jobs" -C lib >/dev/null 2>&1
	cp lib/.libs/libcurl.a "$out/lib/"
	mkdir -p "$out/include/curl"
	cp include/curl/*.h "$out/include/curl/"
); }

# mimalloc replaces musl's malloc: musl's mallocng hands memory back to the
# kernel eagerly, and the munmap/mmap churn (about 5 per AWS request) was
# half of taskpipe's CPU time per reconciled pipeline. One object (its
# single-file build), linked before libc so it overrides malloc and friends.
have "$out/lib/mimalloc.o" || { fetch mimalloc
(
	cd "$work/mimalloc"
	$cc -O2 -fPIC -DNDEBUG -DMI_MALLOC_OVERRIDE -Iinclude -c src/static.c -o "$out/lib/mimalloc.o"
); }

{
	echo "arch $arch ($cc)"
	for p in lua5.4 cjson bearssl curl mimalloc; do
		if [ -f "$work/$p.version" ]; then echo "$p $(cat "$work/$p.version")"
		else grep "^$p " "$out/VERSIONS"; fi
	done
	echo "patch curl-bearssl-nonblocking-handshake.patch"
} > "$out/VERSIONS.tmp"
rm -rf "$work"
mv "$out/VERSIONS.tmp" "$out/VERSIONS"
