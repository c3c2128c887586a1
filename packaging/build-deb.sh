#!/usr/bin/env bash
# make deb: a Debian binary package of the library and the launcher, built with dpkg-deb
# (no debhelper: the package holds two binaries, a man page and two documents).
#   usr/lib/<multiarch>/autosendfile/libautosendfile.so   the library: a preload without a
#       SONAME, so in a directory of its own, out of the linker's path (as fakeroot's)
#   usr/bin/autosendfile   the launcher (finds the library in ../lib/<multiarch>/autosendfile)
#   usr/share/man/man1/autosendfile.1.gz, usr/share/doc/autosendfile/{copyright,changelog.gz}
# Writes build/deb/autosendfile_VERSION_ARCH.deb (OUT=DIR to put it elsewhere) and prints its
# path last. Needs dpkg-dev (dpkg-architecture, dpkg-buildflags, dpkg-shlibdeps).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=${OUT:-$top/build/deb}
obj=$top/build/deb-obj # its own objects: the package's flags are not the test build's
version=$(sed -n 's/^#define AUTOSENDFILE_VERSION "\(.*\)"/\1/p' include/autosendfile.h)
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || ${CC:-cc} -print-multiarch)
[ -n "$version" ] && [ -n "$multiarch" ] || { echo "build-deb: no version or multiarch" >&2; exit 1; }

# Debian's hardening flags for the launcher (it is an ordinary program). The library keeps
# the project's own flags: it is a preload that wraps the very functions _FORTIFY_SOURCE
# redirects; its link has -z relro -z now (Makefile).
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
launcher_flags="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get LDFLAGS)"
rm -f "$obj/autosendfile" # built again with this LIBDIR and these flags
make -s B="$obj" PREFIX=/usr LIBDIR="/usr/lib/$multiarch/autosendfile" MULTIARCH="$multiarch" \
	LAUNCHER_FLAGS="$launcher_flags" "$obj/libautosendfile.so" "$obj/autosendfile"

stage=$(mktemp -d "${TMPDIR:-/tmp}/asf-deb.XXXXXX")
chmod 0755 "$stage" # the root directory of the package
trap 'rm -rf "$stage"' EXIT
umask 022
doc=$stage/usr/share/doc/autosendfile
libdir=$stage/usr/lib/$multiarch/autosendfile
install -d "$stage/DEBIAN" "$stage/usr/bin" "$libdir" "$stage/usr/share/man/man1" "$doc"
install -m 0755 "$obj/autosendfile" "$stage/usr/bin/autosendfile"
install -m 0644 "$obj/libautosendfile.so" "$libdir/libautosendfile.so"
# As dh_strip does: debug information and the compiler's notes out of the shipped files.
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
	"$stage/usr/bin/autosendfile" "$libdir/libautosendfile.so"
gzip -9n <docs/autosendfile.1 >"$stage/usr/share/man/man1/autosendfile.1.gz"
install -m 0644 packaging/deb/copyright "$doc/copyright"
install -d "$stage/usr/share/lintian/overrides"
install -m 0644 packaging/deb/lintian-overrides "$stage/usr/share/lintian/overrides/autosendfile"
gzip -9n <packaging/deb/changelog >"$doc/changelog.gz"

# Depends: from the symbols the two binaries use (dpkg-shlibdeps wants a debian/control).
shl=$(mktemp -d "${TMPDIR:-/tmp}/asf-shl.XXXXXX")
mkdir "$shl/debian"
printf 'Source: autosendfile\n\nPackage: autosendfile\nArchitecture: any\n' >"$shl/debian/control"
depends=$(cd "$shl" && dpkg-shlibdeps -O -e"$stage/usr/bin/autosendfile" \
	-e"$libdir/libautosendfile.so" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
rm -rf "$shl"
[ -n "$depends" ] || { echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
	-e "s/@DEPENDS@/$depends/" packaging/deb/control.in >"$stage/DEBIAN/control"
(cd "$stage" && find usr -type f -print0 | sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/md5sums"

mkdir -p "$out"
deb=$out/autosendfile_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
