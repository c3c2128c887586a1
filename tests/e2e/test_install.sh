#!/usr/bin/env bash
# make install honours PREFIX and DESTDIR, and the installed launcher finds the installed
# library (../lib next to its bin/), and the man page is in share/man/man1.
. "$(dirname "$0")/lib.sh"
root="$ASF_TMP/root"
make -s install DESTDIR="$root" PREFIX=/opt/asf >"$ASF_TMP/log" 2>&1 || fail "make install failed: $(tail -5 "$ASF_TMP/log")"
for f in bin/autosendfile lib/libautosendfile.so share/man/man1/autosendfile.1 include/autosendfile.h; do
	[ -f "$root/opt/asf/$f" ] || fail "missing $f after install"
done
out=$("$root/opt/asf/bin/autosendfile" sh -c 'echo "$LD_PRELOAD"')
[ "$out" = "$(realpath "$root/opt/asf/lib/libautosendfile.so")" ] || fail "installed launcher preloads [$out]"
man -l "$root/opt/asf/share/man/man1/autosendfile.1" >/dev/null 2>&1 || command -v man >/dev/null || true
grep -q '^\.TH AUTOSENDFILE 1' "$root/opt/asf/share/man/man1/autosendfile.1" || fail "man page header"
make -s uninstall DESTDIR="$root" PREFIX=/opt/asf >/dev/null 2>&1
[ ! -e "$root/opt/asf/bin/autosendfile" ] || fail "uninstall left the launcher"
echo "install/uninstall ok"
