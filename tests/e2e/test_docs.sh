#!/usr/bin/env bash
# The documents (issue 21): README.md is a front page of at most 250 lines with the sections
# a new user looks for; every relative link in README.md, docs/*.md and demo/*.md names a
# file or directory that exists; every option the launcher's --help and --stat --help name
# is in the man page, which man renders without a warning; demo/RESULTS-threshold.md says
# at its top that it is history of a previous engine; no build output is tracked.
. "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
n=$(wc -l <README.md)
[ "$n" -le 250 ] || fail "README.md has $n lines (at most 250)"
for h in "## The two commands" "## When it helps" "## What it does to real programs" \
	"## Running a program under it" "## Limits" "## Documentation"; do
	grep -q "^$h" README.md || fail "README.md has no section '$h'"
done
grep -q '^make test ' README.md && grep -q '^make demo ' README.md || fail "README.md lacks the two commands"
echo "README.md: $n lines, its sections present"

# [text](target): relative targets (no scheme, no pure #anchor) must exist.
links=0
for f in README.md docs/*.md demo/*.md; do
	d=$(dirname "$f")
	while IFS= read -r t; do
		t=${t%%#*}
		[ -n "$t" ] || continue
		[ -e "$d/$t" ] || fail "$f: link to $t, which does not exist"
		links=$((links + 1))
	done < <(grep -o '\]([^)]*)' "$f" | sed 's/^\](\(.*\))$/\1/' | grep -Ev '^[a-z]+:|^#')
done
echo "$links relative links resolve"

opts=$( { "$ASF_LAUNCHER" --help; "$ASF_LAUNCHER" --stat --help; } | grep -o -- '--[a-z]\+' | sort -u)
for o in $opts; do
	grep -q -- "\\\\-\\\\-${o#--}" docs/autosendfile.1 || fail "option $o is not in docs/autosendfile.1"
done
echo "options in the man page: $(echo $opts)"
if command -v man >/dev/null; then
	w=$(MANWIDTH=80 man --warnings -l docs/autosendfile.1 2>&1 >/dev/null)
	[ -z "$w" ] || fail "man warns: $w"
fi
head -n 5 demo/RESULTS-threshold.md | grep -q 'History of a previous engine' ||
	fail "demo/RESULTS-threshold.md does not say at its top that it is history"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	tracked=$(git ls-files | grep -E '^build[^/]*/|\.(o|so)$' | head -n 3)
	[ -z "$tracked" ] || fail "build output tracked: $tracked"
	git check-ignore -q build-dev/x || fail "build-dev/ is not ignored"
fi
echo "docs ok"
