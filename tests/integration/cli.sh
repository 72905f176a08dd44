#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2034,SC2119  # ok takes code in single quotes (its variables look unused); write_config takes optional arguments
# The command line: --version, --help, check (good and bad configs, database state), migrate (twice, two at
# once on a fresh database, a second database in the same cluster), serve refusing root and its default number of
# workers. Prints TAP.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

setup_tmp
prepare_callhook

# run ARGS...: run callhook as the test user; sets OUT (stdout and stderr) and RC.
run() {
	OUT=$(callhook_run "$@" 2>&1) && RC=0 || RC=$?
}

# has_line LINE DESCRIPTION: one line of $OUT is exactly LINE.
has_line() {
	local line=$1
	shift
	ok 'grep -qxF -- "$line" <<<"$OUT"' "$*"
	grep -qxF -- "$line" <<<"$OUT" || _got_want "$OUT" "(a line) $line"
}

# --- --version, --help ----------------------------------------------------------------------------------
version=$(sed -n 's/^AC_INIT(\[callhook\], *\[\([^]]*\)\].*/\1/p' "$REPO/configure.ac")
[ -n "$version" ] || bail_out "configure.ac has AC_INIT([callhook], [VERSION])"
run --version
is "$RC" 0 "--version exits 0"
like "$OUT" "callhook.*${version//./\\.}" "--version prints callhook $version"
run --help
is "$RC" 0 "--help exits 0"
like "$OUT" 'serve' "--help mentions serve"
like "$OUT" 'migrate' "--help mentions migrate"
like "$OUT" 'check' "--help mentions check"

# --- check before migrate, migrate ------------------------------------------------------------------------
pg_start || bail_out "PostgreSQL starts"
write_config
conf=$T/callhook.conf

run -c "$conf" check
ok '[ "$RC" -ne 0 ]' "check exits non-zero before the schema exists"
has_line "$conf: database: cannot read the schema (is it reachable, and has \"callhook migrate\" run?)" \
	"check says what is wrong before the schema exists"

callhook_run -c "$conf" migrate >"$T/m1.log" 2>&1 &
m1=$!
callhook_run -c "$conf" migrate >"$T/m2.log" 2>&1 &
m2=$!
wait "$m1" && rc1=0 || rc1=$?
wait "$m2" && rc2=0 || rc2=$?
is "$rc1" 0 "two migrate runs at once on a fresh database: the first succeeds"
[ "$rc1" = 0 ] || diag "$(cat "$T/m1.log")"
is "$rc2" 0 "two migrate runs at once on a fresh database: the second succeeds"
[ "$rc2" = 0 ] || diag "$(cat "$T/m2.log")"
tables="'deliveries','calls','messages','trackers','usage','voicemails'"
is "$(sql "select count(*) from pg_tables where schemaname = 'callhook' and tablename in ($tables)")" 6 \
	"migrate created the tables in schema callhook"
is "$(sql "select string_agg(rolname, ',' order by rolname) from pg_roles where rolname like 'callhook\\_%er'")" \
	"callhook_reader,callhook_writer" "migrate created the roles callhook_writer and callhook_reader"

run -c "$conf" migrate
is "$RC" 0 "migrate again succeeds"
[ "$RC" = 0 ] || diag "$OUT"
run -c "$conf" migrate
is "$RC" 0 "migrate a third time succeeds"
pg_grant_writer >/dev/null

_psql postgres -c "create database callhook2" >/dev/null
sed 's/dbname=callhook /dbname=callhook2 /; s/dbname=callhook$/dbname=callhook2/' "$conf" >"$T/second.conf"
run -c "$T/second.conf" migrate
is "$RC" 0 "migrate a second database in the same cluster (the roles exist already)"
[ "$RC" = 0 ] || diag "$OUT"

# --- check on a good config -------------------------------------------------------------------------------
run -c "$conf" check
is "$RC" 0 "check on a good config exits 0"
[ "$RC" = 0 ] || diag "$OUT"
like "$OUT" '/hooks/ct/' "check lists source ct with its URL path /hooks/ct/"
like "$OUT" '/hooks/ct-open/' "check lists source ct-open with its URL path /hooks/ct-open/"
unlike "$OUT" "$TOKEN" "check does not print the token"

# The URL forms of each vendor: CallRail's nine events, and any other name kept as ignored.
cat "$conf" - >"$T/urls.conf" <<'EOF'

[source acme-cr]
vendor = callrail
signing_key = 072e77e426f92738a72fe23c4d1953b4

[source acme-cs]
vendor = callscaler
token = cs-token
EOF
run -c "$T/urls.conf" check
is "$RC" 0 "check accepts CallRail and CallScaler sources"
is "$(grep '^source acme-cr ' <<<"$OUT")" "source acme-cr (callrail): /hooks/acme-cr/pre_call \
/hooks/acme-cr/call_routing_complete /hooks/acme-cr/post_call /hooks/acme-cr/call_modified \
/hooks/acme-cr/outbound_post_call /hooks/acme-cr/outbound_call_modified /hooks/acme-cr/text_message_received \
/hooks/acme-cr/text_message_sent /hooks/acme-cr/form_submission \
(any other /hooks/acme-cr/<event> is answered 200 and stored as ignored)" \
	"check lists CallRail's nine event URLs and says any other event name is stored as ignored"
is "$(grep '^source acme-cs ' <<<"$OUT")" "source acme-cs (callscaler): /hooks/acme-cs/ /hooks/acme-cs/in_call" \
	"check lists CallScaler's two URLs, with no word of other events"
unlike "$OUT" '072e77e426f92738a72fe23c4d1953b4' "check does not print the signing key"

OUT=$(cd "$T" && CALLHOOK_CONF=$conf callhook_run check 2>&1) && RC=0 || RC=$?
is "$RC" 0 "CALLHOOK_CONF names the config file"

# The style of the sample config (deploy/callhook.conf): comments on their own lines and after values.
cat >"$T/commented.conf" <<EOF
; callhook.conf in the style of the sample config
[database]
conninfo = host=$T/pg dbname=callhook user=callhook_w   ; any libpq conninfo

[server]
max_body = 512k                           ; larger bodies get 413
spool_dir = $T/spool                      ; where requests wait while PostgreSQL is unreachable

[source acme-calltracker]                 ; the first path segment after /hooks/
vendor = calltracker
token = 4f9c1d0e                          ; required as ?token=… or "Authorization: Bearer …"
EOF
run -c "$T/commented.conf" check
is "$RC" 0 "check accepts comments after values, as in the sample config"
[ "$RC" = 0 ] || diag "$OUT"
like "$OUT" '/hooks/acme-calltracker/' "check lists acme-calltracker with its URL path"

# --- check on configs with mistakes -----------------------------------------------------------------------
# expect_mistake FILE LINE MESSAGE DESCRIPTION: one line of $OUT is exactly "FILE:LINE: MESSAGE".
expect_mistake() {
	has_line "$1:$2: $3" "$4: the message is $(basename "$1"):$2: $3"
}
# line_of FILE ERE [N]: the number of the Nth line of FILE matching ERE.
line_of() { grep -nE -- "$2" "$1" | sed -n "${3:-1}p" | cut -d: -f1; }


# mistake NAME MESSAGE ERE N DESCRIPTION <CONFIG: check $T/NAME.conf (the config, from stdin); expect the
# one mistake on the Nth line matching ERE, reported as MESSAGE.
mistake() {
	local f=$T/$1.conf
	cat >"$f"
	run -c "$f" check
	ok '[ "$RC" -ne 0 ]' "$5: check exits non-zero"
	expect_mistake "$f" "$(line_of "$f" "$3" "$4")" "$2" "$5"
	unlike "$OUT" "$TOKEN" "$5: the token is not printed"
}
mistake unknown-key 'unknown key "colour" in [server]' '^colour' 1 "unknown key in [server]" <<EOF
[database]
conninfo = host=$T/pg dbname=callhook user=callhook_w

[server]
max_body = 1M
colour = blue
spool_dir = $T/spool

[source ct]
vendor = calltracker
token = $TOKEN
EOF
mistake bad-size 'max_body: invalid size "12Q" (expected e.g. 1M, 512k)' '^max_body' 1 "max_body = 12Q" <<EOF
[database]
conninfo = host=$T/pg dbname=callhook user=callhook_w

[server]
max_body = 12Q
spool_dir = $T/spool

[source ct]
vendor = calltracker
token = $TOKEN
EOF
mistake bad-number 'route_timeout_ms: expected 10 to 30000' '^route_timeout_ms' 1 "route_timeout_ms = 100abc" <<EOF
[database]
conninfo = host=$T/pg dbname=callhook user=callhook_w

[server]
spool_dir = $T/spool
route_timeout_ms = 100abc

[source ct]
vendor = calltracker
token = $TOKEN
EOF
VENDORS='callrail, calltracker, salpre, callscaler or fonedynamics'
mistake unknown-vendor "source cx: unknown vendor \"calltracer\" (expected $VENDORS)" '^vendor = calltracer' 1 \
	"unknown vendor" <<EOF
[database]
conninfo = host=$T/pg dbname=callhook user=callhook_w

[server]
spool_dir = $T/spool

[source cx]
vendor = calltracer
token = $TOKEN
EOF
mistake no-vendor 'source novendor: missing vendor' '^\[source novendor\]' 1 "source without vendor" <<EOF
[database]
conninfo = host=$T/pg dbname=callhook user=callhook_w

[server]
spool_dir = $T/spool

[source novendor]
token = $TOKEN
EOF
mistake duplicate 'duplicate [source twice]' '^\[source twice\]' 2 "two [source twice] sections" <<EOF
[database]
conninfo = host=$T/pg dbname=callhook user=callhook_w

[server]
spool_dir = $T/spool

[source twice]
vendor = calltracker
token = $TOKEN

[source twice]
vendor = calltracker
allow_unauthenticated = yes
EOF
NOCREDS='no credentials (set signing_key, token, header or basic_auth, or allow_unauthenticated = yes)'
mistake no-credentials "source nocreds: $NOCREDS" '^\[source nocreds\]' 1 "source without credentials" <<EOF
[database]
conninfo = host=$T/pg dbname=callhook user=callhook_w

[server]
spool_dir = $T/spool

[source ct]
vendor = calltracker
token = $TOKEN

[source nocreds]
vendor = calltracker
EOF

# All five in one file: each one is reported with its line.
f=$T/five-mistakes.conf
cat >"$f" <<EOF
; five mistakes
[database]
conninfo = host=$T/pg dbname=callhook user=callhook_w

[server]
max_body = 12Q
colour = blue
spool_dir = $T/spool

[source novendor]
token = $TOKEN

[source twice]
vendor = calltracker
token = one

[source twice]
vendor = calltracker
token = two

[source nocreds]
vendor = calltracker
EOF
run -c "$f" check
ok '[ "$RC" -ne 0 ]' "five mistakes: check exits non-zero"
expect_mistake "$f" 6 'max_body: invalid size "12Q" (expected e.g. 1M, 512k)' "five mistakes: max_body = 12Q"
expect_mistake "$f" 7 'unknown key "colour" in [server]' "five mistakes: unknown key"
expect_mistake "$f" 10 'source novendor: missing vendor' "five mistakes: source without vendor"
expect_mistake "$f" 17 'duplicate [source twice]' "five mistakes: duplicate source"
expect_mistake "$f" 21 "source nocreds: $NOCREDS" "five mistakes: source without credentials"
unlike "$OUT" "$TOKEN" "five mistakes: the token is not printed"

# --- serve refuses root -----------------------------------------------------------------------------------
if [ "$IS_ROOT" = 1 ]; then
	OUT=$(cd "$T" && timeout 5 "$CH" -c "$conf" serve -s "unix:$T/root.sock" -w 1 </dev/null 2>&1) && RC=0 || RC=$?
	ok '[ "$RC" -ne 0 ] && [ "$RC" -ne 124 ]' "serve as root exits non-zero at once"
	like "$OUT" '^callhook\[[0-9]+\]: ERROR: refusing to run as root: start serve as an unprivileged user \(systemd User=, spawn-fcgi -u\)$' \
		"serve as root says why"
else
	diag "not root: serve's refusal to run as root is not checked"
fi

# --- serve without -w: half the CPUs as workers, rounded up ------------------------------------------------
cpus=$(getconf _NPROCESSORS_ONLN)
half=$(((cpus + 1) / 2))
callhook_start_at "$conf" "$T/default.sock" "$T/default.log" default || bail_out "serve starts without -w"
ok "wait_until 10 workers_are $half" "serve without -w starts $half worker(s) on $cpus CPU(s): half, rounded up"
callhook_stop

# --- forget and prune: their arguments (read before anything connects) ------------------------------------
for args in "forget" "forget 770-555-5555 770-555-5556" "forget --bogus 770-555-5555" "prune extra" "prune --bogus"; do
	# shellcheck disable=SC2086  # the words of args are separate arguments
	run -c "$conf" $args
	is "$RC" 2 "$args: exit status 2"
	case $args in
	forget*) has_line "usage: callhook forget NUMBER [--dry-run]" "$args: forget's usage" ;;
	prune*) has_line "usage: callhook prune [--dry-run]" "$args: prune's usage" ;;
	esac
done

# --- the database goes away -------------------------------------------------------------------------------
pg_stop
run -c "$conf" forget --dry-run 770-555-5555
is "$RC" 1 "forget exits 1 when the database is unreachable"
like "$OUT" "callhook: could not connect to the database: " "forget says it could not connect"
run -c "$conf" prune --dry-run
is "$RC" 1 "prune exits 1 when the database is unreachable"
like "$OUT" "callhook: could not connect to the database: " "prune says it could not connect"
run -c "$conf" check
ok '[ "$RC" -ne 0 ]' "check exits non-zero when the database is unreachable"
run -c "$conf" migrate
ok '[ "$RC" -ne 0 ]' "migrate exits non-zero when the database is unreachable"

done_testing
