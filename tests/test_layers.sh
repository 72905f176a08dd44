#!/usr/bin/env bash
# shellcheck disable=SC2016  # ok takes code in single quotes
# tests/layers.sh can fail: run on fake trees, it passes a clean one and names a lower file including a higher
# header, and two modules including each other.
set -uo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
setup_tmp

# tree NAME FILE=INCLUDE...: a fake tree $T/NAME whose FILE has the line #include "INCLUDE" (FILE= alone: no
# include); every included header exists.
tree() {
	local dir=$T/$1 kv f
	shift
	for kv in "$@"; do
		f=$dir/${kv%%=*}
		mkdir -p "$(dirname "$f")"
		touch "$f"
		[ -z "${kv#*=}" ] || printf '#include "%s"\n' "${kv#*=}" >>"$f"
	done
}

# layers NAME: run the check on $T/NAME; its output in $OUT, its exit status in $RC.
layers() {
	OUT=$(bash "$REPO/tests/layers.sh" "$T/$1" 2>&1) && RC=0 || RC=$?
}

tree clean common/core/err.h= common/vendors/vendor.h=core/err.h common/ingest/store.c=ingest/store.h \
	common/ingest/store.h=vendors/vendor.h fcgi/main.c=serve.h fcgi/serve.h=core/err.h
layers clean
is "$RC" 0 "a tree that keeps the layers passes"
unlike "$OUT" '^not ok' "a tree that keeps the layers: no check fails"

tree upward common/core/conf.c=ingest/store.h common/ingest/store.h=core/err.h common/core/err.h=
layers upward
ok '[ "$RC" -ne 0 ]' "a core file including an ingest header fails"
like "$OUT" '^not ok [0-9]+ - common/core/ includes only headers of its own layer$' \
	"a core file including an ingest header: the core rule fails"
like "$OUT" '^#   common/core/conf\.c:1 includes ingest/store\.h \(common/ingest/\)$' \
	"a core file including an ingest header: the include is named"

tree cycle common/ingest/request.c=ingest/spool.h common/ingest/request.h= common/ingest/spool.h=ingest/request.h
layers cycle
ok '[ "$RC" -ne 0 ]' "two modules including each other fail"
like "$OUT" '^not ok [0-9]+ - modules depend on each other: ingest/request -> ingest/spool -> ingest/request$' \
	"two modules including each other: the cycle is named"
unlike "$OUT" '^not ok [0-9]+ - common/' "two modules including each other: no layer rule fails"

done_testing
