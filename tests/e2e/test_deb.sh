#!/usr/bin/env bash
# make deb (packaging/build-deb.sh), issue 21: the package is built, lintian reports no error
# and no warning, it holds the library under usr/lib/<multiarch>/, the launcher in usr/bin,
# the man page, copyright and changelog; dpkg installs it into a scratch root (--root, a
# dpkg database of its own), and the launcher run from there preloads the library of that
# root, sends a file through netcat with redirected bytes, and reads its counters.
. "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
for t in dpkg-deb dpkg-shlibdeps dpkg-architecture lintian; do
	command -v $t >/dev/null || fail "$t missing (tests/deps.sh installs dpkg-dev and lintian)"
done
deb=$(OUT="$ASF_TMP/debs" bash "$top/packaging/build-deb.sh" 2>"$ASF_TMP/build.err" | tail -n 1) ||
	fail "build-deb failed: $(tail -5 "$ASF_TMP/build.err")"
[ -f "$deb" ] || fail "no package: $deb"
version=$(sed -n 's/^#define AUTOSENDFILE_VERSION "\(.*\)"/\1/p' "$top/include/autosendfile.h")
[ "$(basename "$deb")" = "autosendfile_${version}_$(dpkg --print-architecture).deb" ] || fail "package name $deb"
echo "built $(basename "$deb") ($(stat -c %s "$deb") bytes)"

lintian --fail-on error,warning "$deb" >"$ASF_TMP/lintian" 2>&1
rc=$?
cat "$ASF_TMP/lintian"
[ $rc -eq 0 ] || fail "lintian exit $rc"
! grep -q '^[EW]: ' "$ASF_TMP/lintian" || fail "lintian reports errors or warnings"
echo "lintian: no error, no warning"

ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
lib=usr/lib/$ma/autosendfile/libautosendfile.so
dpkg-deb -c "$deb" | awk '{print $6}' >"$ASF_TMP/list"
for f in usr/bin/autosendfile "$lib" usr/share/man/man1/autosendfile.1.gz \
	usr/share/doc/autosendfile/copyright usr/share/doc/autosendfile/changelog.gz; do
	grep -qx "./$f" "$ASF_TMP/list" || fail "$f not in the package: $(cat "$ASF_TMP/list")"
done
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "Version $(dpkg-deb -f "$deb" Version)"
dpkg-deb -f "$deb" Depends | grep -q '^libc6 (>= ' || fail "Depends: $(dpkg-deb -f "$deb" Depends)"

# dpkg into a scratch root with a database of its own (libc6 is not in it: --force-depends).
root=$ASF_TMP/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
: >"$root/var/lib/dpkg/status"
dpkg --root="$root" --force-depends --force-not-root -i "$deb" >"$ASF_TMP/dpkg" 2>&1 ||
	fail "dpkg --root -i: $(cat "$ASF_TMP/dpkg")"
dpkg --root="$root" -s autosendfile | grep -q '^Status: install ok installed' || fail "not installed in the scratch root"
[ -x "$root/usr/bin/autosendfile" ] && [ -f "$root/$lib" ] || fail "files missing in $root"
zcat "$root/usr/share/man/man1/autosendfile.1.gz" | grep -q '^\.TH AUTOSENDFILE 1' || fail "man page"
echo "installed into $root: $(dpkg --root="$root" -L autosendfile | grep -c .) paths"

L=$root/usr/bin/autosendfile
[ "$("$L" --version)" = "autosendfile $version" ] || fail "--version: $("$L" --version)"
pre=$("$L" sh -c 'echo "$LD_PRELOAD"')
[ "$pre" = "$(realpath "$root/$lib")" ] || fail "the installed launcher preloads [$pre], not the root's library"
make_file "$ASF_TMP/in" $((1 << 20))
export AUTOSENDFILE_LIVE=$ASF_TMP/live
mkdir -p "$AUTOSENDFILE_LIVE"
port=$(free_port)
timeout 60 "$L" --stats "$ASF_TMP/stats" nc -N -l 127.0.0.1 "$port" <"$ASF_TMP/in" &
pid=$!
wait_port "$port" || fail "nc under the installed launcher did not listen"
timeout 60 nc -d 127.0.0.1 "$port" >"$ASF_TMP/out" || fail "the client failed"
wait $pid || fail "nc under the installed launcher: exit $?"
cmp -s "$ASF_TMP/in" "$ASF_TMP/out" || fail "received bytes differ"
assert_redirected "$ASF_TMP/stats" $((1 << 20))
pid=$(sed -n 's/^autosendfile: pid=\([0-9]*\) .*/\1/p' "$ASF_TMP/stats")
"$L" --stat --format prometheus $pid | grep -q "^autosendfile_redirected_bytes_total{pid=\"$pid\",comm=\"nc\"} " ||
	fail "--stat --format prometheus of the installed launcher: $("$L" --stat --format prometheus $pid)"
dpkg --root="$root" --force-depends -r autosendfile >/dev/null 2>&1 || fail "dpkg -r failed"
[ ! -e "$root/usr/bin/autosendfile" ] || fail "dpkg -r left the launcher"
echo "deb ok"
