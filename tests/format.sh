#!/usr/bin/env bash
# The C sources follow .clang-format: clang-format 14, the version it is written for (another may format the
# same settings differently), would change nothing in the C files git tracks under common/, fcgi/, tests/unit/
# and tests/fuzz/. Prints one TAP line per file, with the first lines of the change for a file that fails.
# To format them all: tests/format.sh --apply
set -uo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$REPO" || exit 1

cf=$(command -v clang-format-14) || bail_out "clang-format-14 is installed (deploy/install-deps.sh --test)"
mapfile -t files < <(git ls-files 'common/*.[ch]' 'fcgi/*.[ch]' 'tests/unit/*.[ch]' 'tests/fuzz/*.[ch]')
[ ${#files[@]} -gt 0 ] || bail_out "git lists the C files"

if [ "${1:-}" = --apply ]; then
	exec "$cf" -i "${files[@]}"
fi

for f in "${files[@]}"; do
	if change=$("$cf" "$f" | diff -u --label "$f" --label "$f (formatted)" "$f" -); then
		_tap ok "$f is formatted"
	else
		_tap "not ok" "$f is formatted ($(sed 1,2d <<<"$change" | grep -c '^-') lines would change)"
		diag "$(head -n 20 <<<"$change")"
	fi
done
done_testing
