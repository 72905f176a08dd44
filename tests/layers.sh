#!/usr/bin/env bash
# The layers of the source tree, lowest first: common/core/ < common/vendors/ < common/ingest/ < common/cli/
# < fcgi/. Reads every #include "..." of the C files (.c and .h) under common/ and fcgi/ and checks that
#   - each file is in a layer's folder, and includes only headers of its own layer or a lower one (one check
#     per layer);
#   - no two or more modules depend on each other (a module is a .c/.h pair, named by its path without the
#     extension, e.g. ingest/request; A depends on B when A.c or A.h includes B.h): one "not ok" per cycle.
# An include resolves as the compiler resolves it: beside the including file, then in common/ (-I common).
# One that names no file there (config.h, written by configure) is outside the layers and not checked.
#
# Usage: tests/layers.sh [ROOT]   ROOT is the tree to check (default: this repository; tests/test_layers.sh
# checks fake trees). Prints TAP; exits 1 when a check fails.
set -uo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

root=${1:-$REPO}
cd "$root" || bail_out "cannot enter $root"

layers=(common/core common/vendors common/ingest common/cli fcgi)

# layer_of PATH: the index in $layers of the layer PATH belongs to; fails when it belongs to none.
layer_of() {
	local i
	for i in "${!layers[@]}"; do
		if [[ $1 == "${layers[i]}"/* ]]; then
			printf '%s' "$i"
			return 0
		fi
	done
	return 1
}

# module_of PATH: the module PATH is part of: its path without common/ and the extension.
module_of() {
	local m=${1#common/}
	printf '%s' "${m%.[ch]}"
}

# resolve FILE NAME: the path of the file `#include "NAME"` in FILE names, or nothing.
resolve() {
	local p
	for p in "$(dirname "$1")/$2" "common/$2"; do
		if [ -f "$p" ]; then
			realpath -s --relative-to=. "$p"
			return 0
		fi
	done
}

outside=()        # files under common/ or fcgi/ that are in no layer's folder
declare -A upward # layer index -> lines "FILE:LINE includes NAME (LAYER/)" for headers of a higher layer
declare -A deps   # module -> the modules it depends on, space-separated
declare -A why    # "A B" -> where A includes B's header, "FILE:LINE" comma-separated
modules=()

while IFS= read -r f; do
	modules+=("$(module_of "$f")")
	if ! fl=$(layer_of "$f"); then
		outside+=("$f")
		continue
	fi
	while IFS=: read -r line name; do
		target=$(resolve "$f" "$name")
		[ -n "$target" ] || continue
		if ! tl=$(layer_of "$target"); then
			upward[$fl]+="$f:$line includes $name (in no layer's folder)"$'\n'
			continue
		fi
		[ "$tl" -le "$fl" ] || upward[$fl]+="$f:$line includes $name (${layers[tl]}/)"$'\n'
		a=$(module_of "$f")
		b=$(module_of "$target")
		[[ $target == *.h && $a != "$b" ]] || continue
		[[ " ${deps[$a]:-} " == *" $b "* ]] || deps[$a]+=" $b"
		why["$a $b"]+="${why["$a $b"]:+, }$f:$line"
	done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
		sed -E 's/^([0-9]+):[^"]*"([^"]+)".*/\1:\2/')
done < <(find common fcgi -type f -name '*.[ch]' 2>/dev/null | LC_ALL=C sort)

mapfile -t modules < <(printf '%s\n' "${modules[@]}" | LC_ALL=C sort -u)

# check DESCRIPTION PROBLEMS: passes when PROBLEMS (lines) is empty, else fails and prints them.
check() {
	if [ -z "$2" ]; then
		_tap ok "$1"
	else
		_tap "not ok" "$1"
		local problems=${2%$'\n'}
		diag "  ${problems//$'\n'/$'\n'  }"
	fi
}

# --- layers -------------------------------------------------------------------------------------------

check "every C file under common/ and fcgi/ is in a layer's folder" "$(printf '%s\n' "${outside[@]}")"
for i in "${!layers[@]}"; do
	below=
	for ((j = i - 1; j >= 0; j--)); do below+="${below:+, }${layers[j]}/"; done
	check "${layers[i]}/ includes only headers of its own layer${below:+ and below ($below)}" "${upward[$i]:-}"
done

# --- cycles -------------------------------------------------------------------------------------------

cycles=()
# walk START PATH: extend PATH (modules, space-separated, from START) by each module its last one depends on;
# a cycle closes at START. Only modules sorting after START are entered, so each cycle is found once, from
# its first module.
walk() {
	local start=$1 path=$2 next
	for next in ${deps[${path##* }]:-}; do
		if [ "$next" = "$start" ]; then
			cycles+=("$path $start")
		elif [[ $next > $start && " $path " != *" $next "* ]]; then
			walk "$start" "$path $next"
		fi
	done
}
for m in "${modules[@]}"; do walk "$m" "$m"; done

for c in "${cycles[@]}"; do
	read -ra ms <<<"$c"
	edges=
	for ((i = 0; i + 1 < ${#ms[@]}; i++)); do
		edges+="${ms[i]} -> ${ms[i + 1]}: ${why["${ms[i]} ${ms[i + 1]}"]}"$'\n'
	done
	check "modules depend on each other: ${c// / -> }" "$edges"
done
[ ${#cycles[@]} -gt 0 ] || _tap ok "no two or more modules depend on each other (${#modules[@]} modules)"

done_testing
