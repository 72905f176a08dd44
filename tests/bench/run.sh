#!/usr/bin/env bash
# callhook's whole-pipeline benchmark: wrk → nginx (the shipped snippet) → callhook → PostgreSQL, on 127.0.0.1,
# against the machine's own limits and the usual alternatives, all measured in the same run on the same
# machine: nginx's bare `return 200`, a minimal single-INSERT FastCGI program (baseline.c), and pgbench running
# callhook's own per-request transaction and the single INSERT. Prints a table and writes tests/out/bench.txt.
#
#   tests/bench/run.sh            the benchmark (about 8 minutes on a quiet 2-CPU machine)
#   tests/bench/run.sh --quick    a shorter run (about 2 minutes): 1 round of 4 s, 100,000 existing calls
#   tests/bench/run.sh profile    where the time goes: callgrind instructions per request of one callhook
#                                 worker, and PostgreSQL's time per statement and function (tests/out/bench-profile.txt)
#
# Everything runs on loopback (PostgreSQL on a Unix socket only) in a temporary directory, is started and
# stopped by pid (tests/lib.sh), and is bounded: each load by time, the whole run by BENCH_TIMEOUT. Targets
# are reported, not asserted; the exit status is non-zero only when the bench itself failed or an
# acknowledged request is missing from the database. Settings (environment): see tests/bench/README.md.
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
BENCH=$REPO/tests/bench
FIXTURES=$REPO/tests/fixtures

MODE=full
case "${1:-}" in
"") ;;
--quick | quick) MODE=quick ;;
profile | --profile) MODE=profile ;;
-h | --help)
	sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "usage: $0 [--quick | profile]" >&2
	exit 2
	;;
esac

if [ "$MODE" = quick ]; then
	: "${BENCH_SECONDS:=4}" "${BENCH_ROUNDS:=1}" "${BENCH_GROWTH_ROWS:=100000}" "${BENCH_RSS_REQUESTS:=10000}"
	: "${BENCH_BIG_SECONDS:=3}" "${BENCH_GROWTH_ROUNDS:=1}" "${BENCH_RETRIES:=1}" "${BENCH_GROWTH_DELIVERIES:=0}"
	: "${BENCH_SWEEP_SECONDS:=2}"
fi
BENCH_SECONDS=${BENCH_SECONDS:-10}          # length of each measured load
BENCH_ROUNDS=${BENCH_ROUNDS:-3}             # interleaved rounds; medians are reported
BENCH_CONNS=${BENCH_CONNS:-32}              # wrk -c and pgbench -c
BENCH_THREADS=${BENCH_THREADS:-2}           # wrk -t and pgbench -j
BENCH_SWEEP=${BENCH_SWEEP-1 8 32 128}       # wrk -c of the concurrency sweep (empty: no sweep)
BENCH_SWEEP_SECONDS=${BENCH_SWEEP_SECONDS:-5}  # length of each sweep load
BENCH_WORKERS=${BENCH_WORKERS:-4}           # baseline.c's workers (each serves one request at a time)
# callhook -w: by default what serve runs without -w, half the CPUs rounded up (each worker serves
# requests_in_flight requests at once, and fewer workers make bigger batches: on 2 CPUs, 1 worker with 32
# requests in flight gave 1.06 to 1.2 times the req/s of 2 with 16, and a quarter to a third less PostgreSQL CPU per
# request; 2 gave 1.1 to 1.3 times the req/s of 4)
BENCH_CALLHOOK_WORKERS=${BENCH_CALLHOOK_WORKERS:-$((($(getconf _NPROCESSORS_ONLN) + 1) / 2))}
BENCH_NGINX_WORKERS=${BENCH_NGINX_WORKERS:-auto}
BENCH_KEEPALIVE=${BENCH_KEEPALIVE:-$BENCH_WORKERS}  # nginx upstream keepalive pool of baseline.c's keep_conn variant
BENCH_IN_FLIGHT=${BENCH_IN_FLIGHT:-}        # callhook's [server] requests_in_flight (empty: its default)
BENCH_GROWTH_ROWS=${BENCH_GROWTH_ROWS:-1000000}     # existing calls (and deliveries) for the growth test
BENCH_GROWTH_ROUNDS=${BENCH_GROWTH_ROUNDS:-2}
BENCH_GROWTH_DELIVERIES=${BENCH_GROWTH_DELIVERIES:-10000000}  # then existing deliveries in all, for a second growth
                                            # point (0: none; lean bodies past BENCH_GROWTH_ROWS, see growth.sql)
BENCH_BIG_KB=${BENCH_BIG_KB:-500}           # transcript size of the big-payload test
BENCH_BIG_CONNS=${BENCH_BIG_CONNS:-4}
BENCH_BIG_SECONDS=${BENCH_BIG_SECONDS:-10}
BENCH_RSS_REQUESTS=${BENCH_RSS_REQUESTS:-100000}    # requests between the two worker RSS readings
BENCH_RSS_MAX_SECONDS=${BENCH_RSS_MAX_SECONDS:-150}
BENCH_PROFILE_REQUESTS=${BENCH_PROFILE_REQUESTS:-2000}
BENCH_PROFILE_CONNS=${BENCH_PROFILE_CONNS:-1}  # connections under callgrind: 1, lone deliveries; more, batches
BENCH_TIMEOUT=${BENCH_TIMEOUT:-$((BENCH_GROWTH_DELIVERIES > 0 ? 2700 : 900))}  # the whole run, in seconds
BENCH_MAX_FOREIGN=${BENCH_MAX_FOREIGN:-15}  # a load where other processes or hypervisor steal took more than this %
BENCH_RETRIES=${BENCH_RETRIES:-2}           # of the CPU time is repeated, at most this many times (and only in the
                                            # first half of BENCH_TIMEOUT)
BENCH_OUT=${BENCH_OUT:-$REPO/tests/out/bench.txt}
[ "$MODE" = profile ] && BENCH_OUT=${BENCH_PROFILE_OUT:-$REPO/tests/out/bench-profile.txt}

for c in $BENCH_SWEEP; do
	[[ $c =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_SWEEP holds '$c', not a connection count" >&2; exit 2; }
done
for tool in wrk pgbench nginx cc pkg-config python3 /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install wrk postgresql-15 nginx gcc pkg-config python3 time)" >&2; exit 2; }
done
if [ "$MODE" = profile ]; then
	for tool in valgrind callgrind_annotate callgrind_control; do
		command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install valgrind)" >&2; exit 2; }
	done
fi

WRK_PID='' PGB_PID='' BASE_PID='' WATCHDOG_PID=''
ID_BASE=1000000000
REPORT=()      # lines of the final report

say() { printf '[%3ds] %s\n' "$SECONDS" "$*" >&2; }
report() { REPORT+=("$*"); }

# --- processes ------------------------------------------------------------------------------------------

# bench_stop (lib.sh's stop_all runs it first): the load generators, the baseline and the watchdog, each by
# its pid.
bench_stop() {
	local p
	for p in "$WRK_PID" "$PGB_PID"; do
		[ -n "$p" ] && pid_alive "$p" && kill -TERM "$p" 2>/dev/null
	done
	baseline_stop >/dev/null 2>&1 || true
	[ -n "$WATCHDOG_PID" ] && kill "$WATCHDOG_PID" 2>/dev/null
	WATCHDOG_PID=
}
STOP_FIRST=bench_stop

# bench_nginx_conf: what lib.sh's nginx.conf (the shipped upstream and snippet verbatim on $NGINX_PORT) includes
# for the bench, on ports of its own: the snippet with fastcgi_keep_conn off and an upstream without a keepalive
# pool (a connection per request; the shipped setup keeps them), the baseline with and without keep_conn, and a
# bare `return 200`. nginx gets BENCH_NGINX_WORKERS workers and
# worker_connections for the most wrk connections of any load (each takes an upstream connection too).
bench_nginx_conf() {
	local d=$T/nginx c most=$BENCH_CONNS
	mkdir -p "$d"
	for c in $BENCH_SWEEP $BENCH_BIG_CONNS; do [ "$c" -le "$most" ] || most=$c; done
	NGINX_WORKERS=$BENCH_NGINX_WORKERS
	NGINX_WORKER_CONNECTIONS=$((2 * most + 64 > 1024 ? 2 * most + 64 : 1024))
	NGINX_HTTP_INCLUDE=$d/bench.conf
	sed -e 's/fastcgi_pass callhook;/fastcgi_pass callhook_nokeep;/' -e 's/^fastcgi_keep_conn on;/fastcgi_keep_conn off;/' \
		"$REPO/deploy/nginx/callhook.conf" >"$d/callhook-nokeep.conf"
	[ "$(grep -c -e '^fastcgi_pass callhook_nokeep;' -e '^fastcgi_keep_conn off;' "$d/callhook-nokeep.conf")" = 2 ] || {
		say "bench: deploy/nginx/callhook.conf has no 'fastcgi_pass callhook;' and 'fastcgi_keep_conn on;' to change"
		return 1
	}
	cat >"$d/bench.conf" <<-EOF
		# generated by tests/bench/run.sh, included at http level by tests/lib.sh's nginx.conf
		upstream callhook_nokeep { server unix:$T/callhook.sock; }
		upstream baseline { server unix:$T/baseline.sock; }
		upstream baseline_keep { server unix:$T/baseline.sock; keepalive $BENCH_KEEPALIVE; }
		server {
		    listen 127.0.0.1:$PORT_KEEP;
		    location /hooks/ { include $d/callhook-nokeep.conf; }
		}
		server {
		    listen 127.0.0.1:$PORT_BASE;
		    access_log off;
		    client_max_body_size 1m;
		    client_body_buffer_size 1m;
		    location / { include fastcgi_params; fastcgi_pass baseline; }
		}
		server {
		    listen 127.0.0.1:$PORT_BASE_KEEP;
		    access_log off;
		    client_max_body_size 1m;
		    client_body_buffer_size 1m;
		    location / { include fastcgi_params; fastcgi_keep_conn on; fastcgi_pass baseline_keep; }
		}
		server {
		    listen 127.0.0.1:$PORT_STATIC;
		    access_log off;
		    location / { return 200; }
		}
	EOF
}

# bench_pg_start [NAME=VALUE…]: lib.sh's cluster with PostgreSQL 15's defaults for what lib.sh shrinks
# (shared_buffers, max_connections), fsync and synchronous_commit on, plus the given settings (applied after
# the restart, so that settings of a preloaded library are known by then).
bench_pg_start() {
	local kv preload=
	pg_start || return 1
	for kv in "$@"; do
		[ "${kv%%=*}" = shared_preload_libraries ] && preload=${kv#*=}
	done
	_psql postgres -c "ALTER SYSTEM SET shared_buffers = '128MB'" -c "ALTER SYSTEM SET max_connections = 100" \
		-c "ALTER SYSTEM SET synchronous_commit = on" -c "ALTER SYSTEM SET fsync = on" \
		-c "$([ -n "$preload" ] && echo "ALTER SYSTEM SET shared_preload_libraries = '$preload'" ||
			echo "ALTER SYSTEM RESET shared_preload_libraries")" >/dev/null || return 1
	pg_stop && pg_start || return 1
	for kv in "$@"; do
		[ "${kv%%=*}" = shared_preload_libraries ] && continue
		_psql postgres -c "ALTER SYSTEM SET ${kv%%=*} = '${kv#*=}'" >/dev/null || return 1
	done
	[ $# -eq 0 ] || _psql postgres -c "SELECT pg_reload_conf()" >/dev/null
}

baseline_build() {
	mkdir -p "$T/bin"
	# shellcheck disable=SC2046
	cc -O2 -Wall -Wextra $(pkg-config --cflags libpq json-c fcgi 2>/dev/null) -o "$T/bin/baseline" \
		"$BENCH/baseline.c" -lfcgi -ljson-c -lpq >"$T/baseline-build.log" 2>&1 || {
		say "bench: baseline.c does not build:"; cat "$T/baseline-build.log" >&2; return 1; }
	chmod 0755 "$T/bin/baseline"
}

baseline_start() {
	local pre=()
	rm -f "$T/baseline.sock"
	[ "$IS_ROOT" = 1 ] && pre=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
	# one subshell that execs, so that $! is the baseline's parent itself (as lib.sh's callhook_start does)
	(cd "$T" && exec "${pre[@]}" "$T/bin/baseline" "$T/baseline.sock" "host=$T/pg dbname=callhook user=callhook_w" \
		"$BENCH_WORKERS" </dev/null >>"$T/baseline.log" 2>&1) &
	BASE_PID=$!
	wait_until "$WAIT_S" _baseline_up || { say "bench: baseline did not start: $(tail -n 5 "$T/baseline.log")"; return 1; }
}
_baseline_up() { pid_alive "$BASE_PID" || return 2; [ -S "$T/baseline.sock" ]; }
baseline_stop() {
	local pid=$BASE_PID
	BASE_PID=
	[ -n "$pid" ] || return 0
	stop_pid "$pid" TERM
}

# bench_callhook_start WORKERS: callhook_start with the environment the shipped systemd unit gives callhook.
bench_callhook_start() {
	GLIBC_TUNABLES=$(shipped_tunables) callhook_start "$@"
}

callhook_restart() {
	callhook_stop >/dev/null 2>&1 || true
	bench_callhook_start "$BENCH_CALLHOOK_WORKERS" || { say "bench: callhook did not restart"; return 1; }
}

# --- measuring ------------------------------------------------------------------------------------------

# cpu_snapshot PID...: one line: busy clock ticks of the machine (user, nice, system, irq, softirq), ticks
# stolen by the hypervisor, then for each PID the ticks of it (with its reaped children) and of its live
# children. A "+PID" counts that process only (wrk).
cpu_snapshot() {
	local busy roots
	busy=$(awk '/^cpu /{print $2 + $3 + $4 + $7 + $8, $9}' /proc/stat)
	roots=$(printf '%s ' "$@")
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v roots="$roots" -v busy="$busy" '
		BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) { t[i] = 0 } }
		{
			pid = $1; s = $0; sub(/^.*\) /, "", s); split(s, f, " ")
			for (i = 1; i <= n; i++) {
				root = r[i]; self = 0
				if (substr(root, 1, 1) == "+") { root = substr(root, 2); self = 1 }
				if (pid == root) t[i] += f[12] + f[13] + (self ? 0 : f[14] + f[15])
				else if (!self && f[2] == root) t[i] += f[12] + f[13]
			}
		}
		END { printf "%s", busy; for (i = 1; i <= n; i++) printf " %d", t[i]; printf "\n" }'
}

# kv KEY LINE: the value of KEY=value in LINE.
kv() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<" $2"; }

# median N...: the median (mean of the middle two for an even count); "-" for none.
median() {
	[ $# -gt 0 ] || { echo -; return; }
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# wrk_run NAME PORT SECONDS MAX CONNS THREADS MIX APP_PID: one load (run again when wrk dies without a result); the BENCH line of mix.lua in $LAST, the
# CPU ticks per component in $LAST_CPU ("busy app nginx pg wrk"). Stops sending after SECONDS or MAX
# responses; every wait is bounded (-d).
wrk_run() {
	local attempt
	for attempt in 1 2 3; do
		wrk_once "$@" && return 0
		[ "$attempt" -lt 3 ] || break
		say "bench: wrk ended without a result for $1 (wrk crashes now and then): running it again"
	done
	say "bench: wrk gave no result for $1:"
	tail -n 20 "$T/wrk.$1.out" >&2
	return 1
}

wrk_once() {
	local name=$1 port=$2 secs=$3 max=$4 conns=$5 threads=$6 mix=$7 app=${8:-} ddir bound before after
	ddir=$T/done.$name.$RANDOM
	mkdir -p "$ddir"
	ID_BASE=$((ID_BASE + 1000000000))
	if [ "$secs" -gt 0 ]; then bound=$((secs + 4)); else bound=$BENCH_RSS_MAX_SECONDS; fi
	wal_mark
	before=$(cpu_snapshot "${app:-x}" "$NGINX_PID" "$PG_PID")
	BENCH_FIXTURES=$FIXTURES BENCH_MIX=$mix BENCH_ID_BASE=$ID_BASE BENCH_SECONDS=$secs \
		BENCH_MAX=$(( max > 0 ? (max + threads - 1) / threads : 0 )) \
		BENCH_DONE_DIR=$ddir BENCH_BIG_BYTES=$((BENCH_BIG_KB * 1024)) \
		wrk -t"$threads" -c"$conns" -d"${bound}s" --timeout 10s -s "$BENCH/mix.lua" "http://127.0.0.1:$port/" \
		>"$T/wrk.$name.out" 2>&1 &
	WRK_PID=$!
	# wait for every thread to have stopped with nothing in flight (or for wrk's own bound), sampling
	# wrk's CPU time as we go: it may have exited by the end
	local wrk_ticks=0 ticks
	while pid_alive "$WRK_PID" && [ "$(find "$ddir" -name '*.done' | wc -l)" -lt "$threads" ]; do
		ticks=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$WRK_PID/stat" 2>/dev/null) && wrk_ticks=${ticks:-$wrk_ticks}
		sleep 0.05
	done
	ticks=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$WRK_PID/stat" 2>/dev/null) && wrk_ticks=${ticks:-$wrk_ticks}
	after="$(cpu_snapshot "${app:-x}" "$NGINX_PID" "$PG_PID") $wrk_ticks"
	kill -INT "$WRK_PID" 2>/dev/null
	wait "$WRK_PID" 2>/dev/null
	WRK_PID=
	LAST=$(grep '^BENCH ' "$T/wrk.$name.out" | tail -n 1)
	[ -n "$LAST" ] || return 1
	wal_since_mark
	# "busy app nginx postgres client steal"
	LAST_CPU=$(awk -v a="$before" -v b="$after" 'BEGIN { split(a, x, " "); split(b, y, " ");
		printf "%d %d %d %d %d %d\n", y[1] - x[1], y[3] - x[3], y[4] - x[4], y[5] - x[5], y[6], y[2] - x[2] }')
}

# wal_mark, then wal_since_mark: the WAL written in between, in bytes, in $LAST_WAL (read outside the CPU
# snapshots, so that these two queries do not count as the load's).
wal_mark() { WAL_MARK=$(sql "select pg_current_wal_lsn()" 2>/dev/null || echo); }
wal_since_mark() {
	LAST_WAL=
	[ -n "$WAL_MARK" ] && LAST_WAL=$(sql "select pg_wal_lsn_diff(pg_current_wal_lsn(), '$WAL_MARK')::bigint" 2>/dev/null)
	return 0
}

# cpu_us_per_req TICKS REQUESTS: microseconds of CPU per request.
cpu_us() { awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { v = 0; if (n > 0) v = t * 1e6 / hz / n; printf "%.0f", v }'; }

# pgbench_run NAME SCRIPT: pgbench for BENCH_SECONDS; $LAST = "BENCH tps=… p50_ms=… p99_ms=… xacts=… failed=…".
pgbench_run() { # pgbench_run NAME SCRIPT [PER]: PER deliveries per transaction (1 by default) are counted
	local name=$1 script=$2 per=${3:-1} args=() before after out
	out=$T/pgbench.$name.out
	mapfile -d '' -t args <"$T/pgbench.vars"
	rm -f "$T/pgb.$name".*
	wal_mark
	before=$(cpu_snapshot x x "$PG_PID")
	(cd "$T" && exec /usr/bin/time -f 'CLIENT_CPU %U %S' -o "$T/pgbench.$name.time" pgbench -n -M prepared \
		-c "$BENCH_CONNS" -j "$BENCH_THREADS" -T "$BENCH_SECONDS" -f "$script" "${args[@]}" \
		-l --log-prefix="$T/pgb.$name" -h "$T/pg" -U callhook_w callhook) >"$out" 2>&1 &
	PGB_PID=$!
	wait "$PGB_PID"
	PGB_PID=
	after=$(cpu_snapshot x x "$PG_PID")
	wal_since_mark
	local tps xacts failed lat client
	tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$out")
	xacts=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
	failed=$(grep -c 'aborted\|ERROR' "$out")
	if [ -z "$tps" ]; then
		say "bench: pgbench $name failed:"
		tail -n 20 "$out" >&2
		return 1
	fi
	lat=$(cat "$T/pgb.$name".* | awk '{ print $3 }' | sort -n | awk '{ v[NR] = $1 }
		END { printf "p50_ms=%.3f p99_ms=%.3f", v[int(NR * 0.5) + 1] / 1e3, v[int(NR * 0.99) + 1] / 1e3 }')
	client=$(awk '/^CLIENT_CPU/ { printf "%d", ($2 + $3) * 100 }' "$T/pgbench.$name.time")
	xacts=$((${xacts:-0} * per))
	LAST="BENCH rps=$(awk -v t="$tps" -v p="$per" 'BEGIN { printf "%.1f", t * p }') $lat responses=$xacts ok=$xacts failed=$failed"
	LAST_CPU=$(awk -v a="$before" -v b="$after" -v c="${client:-0}" -v hz="$(getconf CLK_TCK)" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		printf "%d 0 0 %d %d %d\n", y[1] - x[1], y[5] - x[5], c * hz / 100, y[2] - x[2] }')
}

# --- the database ---------------------------------------------------------------------------------------

# reset_tables: lib.sh's reset_db, the baseline's table too, then a CHECKPOINT (which fails when PostgreSQL
# does not answer).
reset_tables() {
	reset_db bench.baseline && sql_strict "checkpoint" >/dev/null
}

# capture_ingest_args: the arguments callhook passes to callhook.ingest() for one Call Tracker call.finished,
# read from the server log, as pgbench -D NAME=VALUE arguments in $T/pgbench.vars (NUL-separated).
capture_ingest_args() {
	local port=$1
	_psql postgres -c "ALTER SYSTEM SET log_min_duration_statement = 0" -c "SELECT pg_reload_conf()" >/dev/null
	sleep 0.5
	post POST "/hooks/ct?token=$TOKEN" -H 'Content-Type: application/json' \
		--data-binary "@$FIXTURES/calltracker/call_finished.body"
	_psql postgres -c "ALTER SYSTEM RESET log_min_duration_statement" -c "SELECT pg_reload_conf()" >/dev/null
	[ "$HTTP_STATUS" = 200 ] || { say "bench: capture request answered $HTTP_STATUS: $RESP_BODY"; return 1; }
	sleep 0.3
	python3 - "$T/pg/postgres.log" "$T/pgbench.vars" <<-'EOF'
		import re, sys
		log = open(sys.argv[1], encoding="utf-8", errors="replace").read().splitlines()
		params = None
		for i, line in enumerate(log):
		    if "execute ingest_one:" in line:  # a lone delivery: callhook.ingest()
		        for nxt in log[i + 1:i + 4]:
		            if "DETAIL:  parameters:" in nxt:
		                params = nxt.split("DETAIL:  parameters:", 1)[1]
		                break
		if params is None:
		    sys.exit("no 'execute ingest_one' with parameters in the server log")
		vals = {}
		for m in re.finditer(r"\$(\d+) = (NULL|'((?:[^']|'')*)')", params):
		    vals[int(m.group(1))] = None if m.group(2) == "NULL" else m.group(3).replace("''", "'")
		body = vals[8]
		if body.startswith("\\x"):
		    body = bytes.fromhex(body[2:]).decode("utf-8")
		names = {1: "source", 2: "vendor", 3: "event", 4: "method", 5: "ctype", 7: "headers", 10: "outcome",
		         12: "rows"}
		assert vals[6] == "", "the captured query is not empty"  # ingest.sql passes '' (pgbench -D cannot)
		out = ["%s=%s" % (n, vals[k] if vals[k] is not None else "") for k, n in names.items()]
		out += ["body=" + body, "id=59179"]
		assert "59179" in vals[12] and "59179" in body, "the call id is not in the captured rows and body"
		with open(sys.argv[2], "w") as f:
		    for o in out:
		        f.write("-D\0" + o + "\0")
		print("captured: rows %d bytes, body %d bytes" % (len(vals[12]), len(body)))
	EOF
}

# rows_script: $T/rows.sql, the pgbench script of pgb_rows. The delivery capture_ingest_args posted (the only
# one with the Call Tracker id 59179: the mix rewrites it) and the call row it made are kept in bench.proto_delivery and bench.proto_call; each transaction inserts ROWS_PER copies
# of both and their dedup keys with plain INSERTs, as new rows with new ids (the id in the body, the data and
# the key replaced, as ingest.sql does). Nothing else: no checks, merges, field times or notices. What that
# costs PostgreSQL is the floor under any way of writing these rows, set against callhook's own cost.
ROWS_PER=8

# copied_columns TABLE "NAME...": "p.a, p.b, …", TABLE's columns but the NAMEs and generated ones
copied_columns() {
	sql "select string_agg('p.' || quote_ident(attname), ', ' order by attnum) from pg_attribute
	      where attrelid = '$1'::regclass and attnum > 0 and not attisdropped and attgenerated = ''
	        and attname <> all (string_to_array('$2', ' '))"
}

rows_script() {
	local dcols ccols
	_psql callhook -v ON_ERROR_STOP=1 >/dev/null <<-'EOF' || return 1
		DROP TABLE IF EXISTS bench.proto_delivery, bench.proto_call;
		CREATE TABLE bench.proto_delivery AS SELECT * FROM callhook.deliveries
		 WHERE strpos(convert_from(body, 'UTF8'), '"id": 59179') > 0;
		CREATE TABLE bench.proto_call AS SELECT * FROM callhook.calls WHERE external_id = '59179';
		GRANT SELECT ON bench.proto_delivery, bench.proto_call TO callhook_w;
	EOF
	[ "$(sql "select (select count(*) from bench.proto_delivery) || ' ' || (select count(*) from bench.proto_call)")" = "1 1" ] ||
		{ say "bench: the captured delivery and its call are not in the tables"; return 1; }
	dcols=$(copied_columns callhook.deliveries "id received_at dedup_key body body_sha256") || return 1
	ccols=$(copied_columns callhook.calls "id external_id data first_seen_at last_event_at") || return 1
	cat >"$T/rows.sql" <<-EOF
		-- pgbench script (tests/bench/run.sh rows_script): $ROWS_PER copies of one delivery and its call, plain INSERTs
		\set n random(1, 900000000000000)
		WITH s AS (SELECT :n::bigint * $ROWS_PER + g AS k FROM generate_series(0, $((ROWS_PER - 1))) AS g),
		     d AS (INSERT INTO callhook.deliveries (id, received_at, dedup_key, body, body_sha256, ${dcols//p./})
		           SELECT nextval('callhook.deliveries_id_seq'), now(), p.event || ':' || s.k, b.body, sha256(b.body), $dcols
		             FROM s CROSS JOIN bench.proto_delivery AS p
		            CROSS JOIN LATERAL (SELECT convert_to(replace(convert_from(p.body, 'UTF8'), :id, s.k::text), 'UTF8')
		                                AS body) AS b
		           RETURNING id, source, dedup_key, received_at),
		     k AS (INSERT INTO callhook.delivery_keys (source, key_hash, delivery_id, received_at)
		           SELECT d.source, callhook.dedup_hash(d.dedup_key), d.id, d.received_at FROM d)
		INSERT INTO callhook.calls (external_id, data, first_seen_at, last_event_at, ${ccols//p./})
		SELECT s.k::text, replace(p.data::text, :id, s.k::text)::jsonb, now(), now(), $ccols
		  FROM s CROSS JOIN bench.proto_call AS p;
	EOF
}

# growth_write VACUUM TABLES PSQL_ARGS...: growth.sql with -v table=T for each T of TABLES in turn, in two
# sessions at once (parts 1 and 2 of 2), with PSQL_ARGS (more -v NAME=VALUE); then VACUUM (ANALYZE) the
# tables VACUUM and CHECKPOINT.
growth_write() {
	local vacuum=$1 tables=$2 part table pids=() rc=0
	shift 2
	for part in 1 2; do
		(for table in $tables; do
			_psql callhook -v table="$table" -v part=$part -v parts=2 "$@" -f "$BENCH/growth.sql" || exit 1
		done) &
		pids+=($!)
	done
	for part in "${pids[@]}"; do wait "$part" || rc=1; done
	[ "$rc" = 0 ] || return 1
	_psql callhook -c "VACUUM (ANALYZE) $vacuum" -c "CHECKPOINT"
}

# growth_fill ROWS: ROWS calls and ROWS deliveries (with their keys) with the Call Tracker call's body. All
# three tables are vacuumed, as autovacuum would have done long since on a database that grew that big:
# without it, autovacuum vacuumed the million new keys during the loads that followed.
growth_fill() {
	growth_write "callhook.calls, callhook.deliveries, callhook.delivery_keys" "calls deliveries" -v rows="$1" \
		-v ctbody="$(cat "$FIXTURES/calltracker/call_finished.body")"
}

# The size of callhook.deliveries (partitioned by month: the sum of its partitions), as SQL.
DELIVERIES_SIZE="(select sum(pg_total_relation_size(i.inhrelid)) from pg_inherits as i
	where i.inhparent = 'callhook.deliveries'::regclass)"

# growth_fill_lean FIRST LAST: deliveries FIRST..LAST with small bodies, and their keys.
growth_fill_lean() {
	growth_write "callhook.deliveries, callhook.delivery_keys" lean_deliveries -v first="$1" -v rows="$2"
}

# --- the run --------------------------------------------------------------------------------------------

declare -A RPS P50 P99 OKS CPU_APP CPU_NGX CPU_PG CPU_CLI CPU_BUSY CPU_OTHER BODY LOST FOREIGN STEAL WALB
REPEATED=0
TARGETS=(nginx200 baseline callhook nokeep baseline_keep pgb_ingest pgb_merge pgb_insert pgb_rows)
# shellcheck disable=SC2206
[ -n "${BENCH_TARGETS:-}" ] && TARGETS=($BENCH_TARGETS)
declare -A LABEL=(
	[nginx200]="nginx return 200 (same requests)"
	[baseline]="nginx → baseline.c (1 INSERT)"
	[callhook]="nginx → callhook"
	[nokeep]="nginx → callhook, keep_conn off"
	[baseline_keep]="nginx → baseline.c, keep_conn on"
	[pgb_ingest]="pgbench callhook.ingest()"
	[pgb_merge]="pgbench ingest(), known calls"
	[pgb_insert]="pgbench single INSERT"
	[pgb_rows]="pgbench plain INSERTs of its rows"
	[near]="nginx → callhook, empty, beside growth"
	[growth]="nginx → callhook, existing calls"
	[growth10]="nginx → callhook, 10 M deliveries"
	[big]="nginx → callhook, big bodies"
)
FAILED=0

record() { # record TARGET: append $LAST/$LAST_CPU to the target's lists
	local t=$1 rps resp cpu other
	rps=$(kv rps "$LAST")
	resp=$(kv responses "$LAST")
	RPS[$t]+="$rps "
	P50[$t]+="$(kv p50_ms "$LAST") "
	P99[$t]+="$(kv p99_ms "$LAST") "
	BODY[$t]=$(kv mean_body "$LAST")
	read -r -a cpu <<<"$LAST_CPU"
	CPU_BUSY[$t]+="$(cpu_us "${cpu[0]}" "$resp") "
	CPU_APP[$t]+="$(cpu_us "${cpu[1]}" "$resp") "
	CPU_NGX[$t]+="$(cpu_us "${cpu[2]}" "$resp") "
	CPU_PG[$t]+="$(cpu_us "${cpu[3]}" "$resp") "
	CPU_CLI[$t]+="$(cpu_us "${cpu[4]}" "$resp") "
	STEAL[$t]+="$(steal_pct) "
	WALB[$t]+="$(awk -v w="${LAST_WAL:-0}" -v n="$resp" 'BEGIN { v = 0; if (n > 0) v = w / n; printf "%.0f", v }') "
	other=$((cpu[0] - cpu[1] - cpu[2] - cpu[3] - cpu[4]))
	CPU_OTHER[$t]+="$(cpu_us "$((other > 0 ? other : 0))" "$resp") "
	# requests never answered before the load's time bound, and wrk's timeouts (keep_conn stalls)
	LOST[$t]+="$(( $(kv inflight "$LAST" || echo 0) + 0 ))/$(( $(kv timeouts "$LAST" || echo 0) + 0 )) "
}

# unanswered TARGET: the requests of TARGET's loads still without an answer when their time bound ended.
unanswered() {
	awk '{ n = 0; for (i = 1; i <= NF; i++) { split($i, a, "/"); n += a[1] } print n }' <<<"${LOST[$1]:-}"
}

# check_stored TARGET TABLE [BEFORE]: rows added to TABLE (since reset_tables, or since it held BEFORE rows) =
# 200 answers; fewer rows than answers fails the run.
check_stored() {
	local t=$1 table=$2 before=${3:-0} rows ok inflight
	rows=$(( $(sql "select count(*) from $table") - before ))
	ok=$(kv ok "$LAST")
	inflight=$(kv inflight "$LAST")
	OKS[$t]+="$rows/$ok "
	case $t in
	# pgbench does not count the transactions in flight at its deadline, but they commit
	pgb_*) [ "$rows" -ge "$ok" ] && [ "$rows" -le $((ok + BENCH_CONNS)) ] && return 0 ;;
	esac
	if [ "$rows" != "$ok" ]; then
		say "bench: $t: $table has $rows new rows for $ok acknowledged requests (unanswered at the end: ${inflight:-0})"
		# (more rows than answers is no loss: a wrk run that crashed and was run again left its own rows)
		if [ "$rows" -lt "$ok" ] 2>/dev/null; then FAILED=1; fi
	fi
	return 0
}

# foreign_pct: the share (%) of the CPU time during the last load that went to other processes on the machine
# or was stolen by the hypervisor.
foreign_pct() {
	local cpu
	read -r -a cpu <<<"$LAST_CPU"
	awk -v b="${cpu[0]}" -v o="$((cpu[0] - cpu[1] - cpu[2] - cpu[3] - cpu[4]))" -v st="${cpu[5]}" \
		'BEGIN { v = 0; if (o < 0) o = 0; if (b + st > 0) v = 100 * (o + st) / (b + st); printf "%.0f", v }'
}
steal_pct() {
	local cpu
	read -r -a cpu <<<"$LAST_CPU"
	awk -v b="${cpu[0]}" -v st="${cpu[5]}" 'BEGIN { v = 0; if (b + st > 0) v = 100 * st / (b + st); printf "%.0f", v }'
}

# retry_wanted FOREIGN_PCT TRY: whether a disturbed load should be measured again.
retry_wanted() {
	[ "$1" -gt "$BENCH_MAX_FOREIGN" ] && [ "$2" -lt "$BENCH_RETRIES" ] && [ "$SECONDS" -lt $((BENCH_TIMEOUT / 2)) ]
}

# retrying NAME COMMAND...: run COMMAND (one load) again while other jobs or the hypervisor disturbed it;
# the share they took of the last one is in $LOAD_FOREIGN.
retrying() {
	local name=$1 try
	shift
	for try in $(seq 0 "$BENCH_RETRIES"); do
		"$@" || return 1
		LOAD_FOREIGN=$(foreign_pct)
		retry_wanted "$LOAD_FOREIGN" "$try" || return 0
		say "  $name: other jobs or the hypervisor took ${LOAD_FOREIGN}% of the CPU time (steal $(steal_pct)%): measuring again"
		REPEATED=$((REPEATED + 1))
	done
}

# measure TARGET NAME COMMAND...: one load (COMMAND, measured again while other jobs disturbed it, NAME in
# the message), recorded as TARGET, its rows checked against its 200 answers.
measure() {
	local t=$1 name=$2
	shift 2
	retrying "$name" "$@" || return 1
	FOREIGN[$t]+="$LOAD_FOREIGN "
	record "$t"
	check_stored_of "$t"
}

# load_line WHAT LABEL: the progress line of the last load.
load_line() {
	say "$(printf '  %-11s %-34s %8.0f req/s  p50 %6.2f ms  p99 %7.2f ms  %s %s  foreign %s%%' "$1" "$2" \
		"$(kv rps "$LAST")" "$(kv p50_ms "$LAST")" "$(kv p99_ms "$LAST")" \
		"$(sed -n 's/.*\(codes=[^ ]*\).*/\1/p; s/.*\(failed=[^ ]*\).*/\1/p' <<<"$LAST")" \
		"$(sed -n 's/.*\(inflight=[^ ]*\).*/unanswered:\1/p' <<<"$LAST")" "$LOAD_FOREIGN")"
}

one() { # one TARGET ROUND: measure TARGET once, again when other jobs disturbed it
	local t=$1 round=$2
	measure "$t" "round $round  ${LABEL[$t]}" one_try "$t" "$round" || return 1
	load_line "round $round" "${LABEL[$t]}"
}

# check_stored_of TARGET: check_stored on TARGET's table (TARGET@N: a sweep point; the growth loads count from
# $before_rows).
check_stored_of() {
	case $1 in
	baseline | baseline@* | baseline_keep | pgb_insert) check_stored "$1" bench.baseline ;;
	callhook | callhook@* | nokeep | near | pgb_ingest | pgb_merge | pgb_rows | big) check_stored "$1" callhook.deliveries ;;
	growth | growth10) check_stored "$1" callhook.deliveries "$before_rows" ;;
	esac
}

# wrk_target TARGET NAME SECONDS CONNS [MIX]: one load of MIX (default all) through nginx to TARGET (nginx200,
# baseline, baseline_keep, callhook or nokeep) with CONNS connections and at most BENCH_THREADS threads.
wrk_target() {
	local port app
	case $1 in
	nginx200) port=$PORT_STATIC app= ;;
	baseline) port=$PORT_BASE app=$BASE_PID ;;
	baseline_keep) port=$PORT_BASE_KEEP app=$BASE_PID ;;
	callhook | near) port=$NGINX_PORT app=$CALLHOOK_PID ;;
	nokeep) port=$PORT_KEEP app=$CALLHOOK_PID ;;
	*) say "bench: no wrk target $1"; return 1 ;;
	esac
	wrk_run "$2" "$port" "$3" 0 "$4" "$(($4 < BENCH_THREADS ? $4 : BENCH_THREADS))" "${5:-all}" "$app"
}

one_try() { # one_try TARGET ROUND: one load of TARGET on empty tables
	local t=$1 round=$2
	reset_tables || return 1
	case $t in
	pgb_ingest) pgbench_run "$t.$round" "$BENCH/ingest.sql" ;;
	pgb_merge) pgbench_run "$t.$round" "$BENCH/merge.sql" ;;
	pgb_insert) pgbench_run "$t.$round" "$BENCH/insert.sql" ;;
	pgb_rows) pgbench_run "$t.$round" "$T/rows.sql" "$ROWS_PER" ;;
	*) wrk_target "$t" "$t.$round" "$BENCH_SECONDS" "$BENCH_CONNS" ;;
	esac || return 1
	# a keep_conn run of baseline.c can leave its workers pinned to idle connections: the next load starts afresh
	case $t in
	baseline_keep) baseline_stop && baseline_start ;;
	esac
}

# sweep_reuses CONNS: the rounds measured baseline.c and callhook at CONNS connections: the sweep takes their
# medians there.
sweep_reuses() {
	[ "$1" = "$BENCH_CONNS" ] && [ -n "${RPS[callhook]:-}" ] && [ -n "${RPS[baseline]:-}" ]
}

# sweep: for each connection count of BENCH_SWEEP, one load of baseline.c then one of callhook, each
# BENCH_SWEEP_SECONDS on empty tables, recorded as baseline@N and callhook@N.
sweep() {
	local c t
	for c in $BENCH_SWEEP; do
		sweep_reuses "$c" && continue
		for t in baseline callhook; do
			measure "$t@$c" "sweep -c$c  ${LABEL[$t]}" sweep_try "$t" "$c" || return 1
			load_line "sweep -c$c" "${LABEL[$t]}"
		done
	done
}
sweep_try() { reset_tables && wrk_target "$1" "sweep.$1.$2" "$BENCH_SWEEP_SECONDS" "$2"; }

# worker_rss PARENT: "pid:VmRSS_kB:RssAnon_kB ..." of PARENT's children.
worker_rss() {
	local p out=
	for p in $(children_of "$1"); do
		out+="$p:$(awk '/^VmRSS:/ { r = $2 } /^RssAnon:/ { a = $2 } END { print r ":" a }' "/proc/$p/status") "
	done
	echo "$out"
}
rss_max() { tr ' ' '\n' <<<"$1" | awk -F: 'NF == 3 && $2 > m { m = $2 } END { printf "%.1f", m / 1024 }'; }
rss_anon_max() { tr ' ' '\n' <<<"$1" | awk -F: 'NF == 3 && $3 > m { m = $3 } END { printf "%.1f", m / 1024 }'; }

# background_load: percent of the machine's CPU time busy over 2 s (before anything of ours runs).
background_load() {
	local a b
	a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
	sleep 2
	b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%.0f", 100 * (y[1] - x[1]) / (y[2] - x[2]) }'
}

machine_line() {
	local cpu pgv ngv
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	pgv=$(sql "show server_version" | awk '{ print $1 }')
	ngv=$(nginx -v 2>&1 | sed 's/.*nginx\///')
	echo "machine: $(nproc) CPUs ($cpu), $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo), $(uname -sr); PostgreSQL $pgv, nginx $ngv, $(wrk --version 2>&1 | head -n 1 | awk '{ print $1, $2 }')"
}

pg_settings_line() {
	echo "PostgreSQL: $(sql "select string_agg(name || '=' || setting || coalesce(unit, ''), ', ' order by name) from pg_settings
		where name in ('fsync', 'synchronous_commit', 'shared_buffers', 'wal_sync_method', 'max_wal_size', 'full_page_writes')")"
}

fmt_row() { # fmt_row LABEL RPS P50 P99 EXTRA
	printf '%-36s %9s %8s %8s  %s' "$1" "$2" "$3" "$4" "$5"
}

# stored_sum "R/A R/A …": "ΣR/ΣA", or n/a.
stored_sum() {
	[ -n "$1" ] || { echo n/a; return; }
	tr ' ' '\n' <<<"$1" | awk -F/ 'NF == 2 { r += $1; a += $2 } END { printf "%d/%d", r, a }'
}

median_all() { # median_all ARRAY: the median of all values of an associative array of lists
	local -n arr=$1
	# shellcheck disable=SC2046
	f0 "$(median $(printf '%s ' "${arr[@]}"))"
}
f0() { [ "$1" = - ] && echo - || printf '%.0f' "$1"; }
f2() { [ "$1" = - ] && echo - || printf '%.2f' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
meets() { # meets VALUE OP LIMIT: "met" or "MISSED"
	awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { if (v == "-") { print "n/a"; exit }
		ok = (op == ">=") ? v >= l : v <= l; print ok ? "met" : "MISSED" }'
}

start_everything() {
	setup_tmp
	(
		end=$((SECONDS + BENCH_TIMEOUT))
		while [ "$SECONDS" -lt "$end" ]; do sleep 1; done
		say "bench: BENCH_TIMEOUT ($BENCH_TIMEOUT s) reached: stopping"
		kill -TERM $$
	) &
	WATCHDOG_PID=$!
	PORT_KEEP=$(pick_port) && PORT_BASE=$(pick_port) && PORT_BASE_KEEP=$(pick_port) && PORT_STATIC=$(pick_port) ||
		{ say "bench: no free ports"; exit 1; }
	bench_pg_start "$@" || { say "bench: PostgreSQL did not start"; exit 1; }
	write_config
	config_append "$BENCH/sources.conf"
	[ -z "$BENCH_IN_FLIGHT" ] || sed -i "/^\[server\]/a requests_in_flight = $BENCH_IN_FLIGHT" "$T/callhook.conf"
	callhook_migrate || { say "bench: migrate failed"; exit 1; }
	_psql callhook -f "$BENCH/schema.sql" >/dev/null || exit 1
	baseline_build || exit 1
	bench_callhook_start "$BENCH_CALLHOOK_WORKERS" || { say "bench: callhook did not start"; exit 1; }
	baseline_start || exit 1
	bench_nginx_conf || exit 1
	nginx_start || { say "bench: nginx did not start"; exit 1; }
}

# smoke: one request of every template through callhook answers "stored".
smoke() {
	wrk_run smoke "$NGINX_PORT" 0 12 1 1 all "$CALLHOOK_PID" || return 1
	if [ "$(kv stored "$LAST")" != 12 ]; then
		say "bench: the mix is not stored by callhook: $LAST"
		say "$(tail -n 12 "$T/callhook.log")"
		return 1
	fi
}

# big_load: one load of big bodies on empty tables.
big_load() {
	reset_tables && wrk_target callhook big "$BENCH_BIG_SECONDS" "$BENCH_BIG_CONNS" big
}

# growth_load NAME: one load of the mix on the grown tables; $before_rows is the deliveries it started with.
growth_load() {
	before_rows=$(sql "select count(*) from callhook.deliveries")
	sql_strict "checkpoint" >/dev/null && wrk_target callhook "$1" "$BENCH_SECONDS" "$BENCH_CONNS"
}

# growth_rounds TARGET: BENCH_GROWTH_ROUNDS loads of the mix on the grown tables, recorded as TARGET.
growth_rounds() {
	local t=$1 r
	for r in $(seq 1 "$BENCH_GROWTH_ROUNDS"); do
		measure "$t" "$t round $r" growth_load "$t.$r" || return 1
		say "  $t round $r: $(kv rps "$LAST") req/s, p99 $(kv p99_ms "$LAST") ms, postgres $(awk '{ print $NF }' <<<"${CPU_PG[$t]}") µs/req"
	done
}

main_bench() {
	local round t
	BG_LOAD=$(background_load)
	start_everything
	say "bench: $MODE run, $BENCH_ROUNDS round(s) of ${BENCH_SECONDS}s per target, wrk -t$BENCH_THREADS -c$BENCH_CONNS, sweep -c ${BENCH_SWEEP:-(none)} (${BENCH_SWEEP_SECONDS}s), $BENCH_WORKERS workers, temp dir $T"
	smoke || exit 1
	capture_ingest_args "$NGINX_PORT" >&2 || { say "bench: could not capture callhook.ingest() arguments"; exit 1; }
	rows_script || { say "bench: could not write the pgbench script of the plain rows"; exit 1; }

	# 1. Interleaved rounds.
	for round in $(seq 1 "$BENCH_ROUNDS"); do
		for t in "${TARGETS[@]}"; do
			# the two reference figures are measured once, in the last round
			case $t in pgb_insert | baseline_keep) [ "$round" = "$BENCH_ROUNDS" ] || continue ;; esac
			one "$t" "$round" || { say "bench: $t failed"; exit 1; }
		done
	done
	# 1b. The concurrency sweep: baseline.c and callhook at each connection count of BENCH_SWEEP.
	sweep || { say "bench: sweep failed"; exit 1; }

	# keep_conn with a single connection: is the next request on a kept connection served at all?
	callhook_restart || exit 1
	wrk_run probe-keep "$NGINX_PORT" 3 0 1 1 all "$CALLHOOK_PID" || exit 1
	PROBE_CH=$LAST
	callhook_restart || exit 1
	baseline_stop && baseline_start || exit 1
	wrk_run probe-bkeep "$PORT_BASE_KEEP" 3 0 1 1 all "$BASE_PID" || exit 1
	PROBE_BASE=$LAST
	baseline_stop && baseline_start || exit 1
	say "  keep_conn probe, 1 connection for 3 s: callhook $(kv responses "$PROBE_CH") answered, $(kv inflight "$PROBE_CH") unanswered; baseline.c $(kv responses "$PROBE_BASE") answered, $(kv inflight "$PROBE_BASE") unanswered"

	# 2. Worker RSS: fresh workers, warm-up, then BENCH_RSS_REQUESTS more.
	callhook_restart || exit 1
	reset_tables
	wrk_run rss-warm "$NGINX_PORT" 0 2000 "$BENCH_CONNS" "$BENCH_THREADS" all "$CALLHOOK_PID" || exit 1
	RSS0=$(worker_rss "$CALLHOOK_PID")
	wrk_run rss "$NGINX_PORT" 0 "$BENCH_RSS_REQUESTS" "$BENCH_CONNS" "$BENCH_THREADS" all "$CALLHOOK_PID" || exit 1
	RSS1=$(worker_rss "$CALLHOOK_PID")
	RSS_N=$(kv responses "$LAST")
	RSS_RPS=$(kv rps "$LAST")
	BASE_RSS=$(worker_rss "$BASE_PID")
	say "  rss: before $(rss_max "$RSS0") MB, after $RSS_N requests $(rss_max "$RSS1") MB ($RSS0 → $RSS1)"

	# 3. Big bodies: CallScaler post-call with a BENCH_BIG_KB transcription, at lower concurrency.
	measure big "big bodies" big_load || exit 1
	BIG=$LAST
	BIG_SIZE=$(sql "select pg_size_pretty($DELIVERIES_SIZE) || ' deliveries, ' ||
		pg_size_pretty(pg_total_relation_size('callhook.calls')) || ' calls'")
	say "  big: $(kv rps "$BIG") req/s, p99 $(kv p99_ms "$BIG") ms, mean body $(kv mean_body "$BIG") B"

	# 4. Growth: BENCH_GROWTH_ROWS existing calls and deliveries, then callhook again. The growth figures
	# are compared with callhook on empty tables measured just before the fill and again after the growth
	# loads ("near"): the machine's speed drifts over the minutes between the rounds above and these.
	measure near "empty, before the growth fill" one_try near before || exit 1
	load_line before "${LABEL[near]}"
	reset_tables
	local t0=$SECONDS
	say "  growth: inserting $BENCH_GROWTH_ROWS calls and deliveries in SQL…"
	growth_fill "$BENCH_GROWTH_ROWS" >/dev/null || { say "bench: growth fill failed"; exit 1; }
	GROWTH_FILL_S=$((SECONDS - t0))
	GROWTH_SIZE=$(sql "select pg_size_pretty(pg_total_relation_size('callhook.calls')) || ' calls, ' ||
		pg_size_pretty($DELIVERIES_SIZE) || ' deliveries'")
	growth_rounds growth || exit 1
	# 5. Growth to BENCH_GROWTH_DELIVERIES deliveries in all, then callhook again.
	if [ "$BENCH_GROWTH_DELIVERIES" -gt "$BENCH_GROWTH_ROWS" ]; then
		t0=$SECONDS
		say "  growth: inserting deliveries up to $BENCH_GROWTH_DELIVERIES in SQL…"
		growth_fill_lean "$((BENCH_GROWTH_ROWS + 1))" "$BENCH_GROWTH_DELIVERIES" >/dev/null ||
			{ say "bench: growth fill failed"; exit 1; }
		GROWTH10_FILL_S=$((SECONDS - t0))
		GROWTH10_SIZE=$(sql "select pg_size_pretty($DELIVERIES_SIZE) || ' deliveries, ' ||
			pg_size_pretty(pg_total_relation_size('callhook.delivery_keys')) || ' keys'")
		LABEL[growth10]="nginx → callhook, $(awk -v n="$BENCH_GROWTH_DELIVERIES" \
			'BEGIN { if (n >= 1000000) printf "%g M", n / 1e6; else printf "%d", n }') deliveries"
		growth_rounds growth10 || exit 1
	fi
	measure near "empty, after the growth loads" one_try near after || exit 1
	load_line after "${LABEL[near]}"
	ENV_LINE=$(machine_line)
	PG_LINE=$(pg_settings_line)
	stop_all
	make_report
}

# sweep_figures TARGET CONNS: "req/s p50_ms p99_ms stored/acked" of TARGET (callhook or baseline) at CONNS
# connections in the sweep, or the rounds' medians where the sweep took those; "-" where nothing was measured.
sweep_figures() {
	local k=$1@$2
	sweep_reuses "$2" && k=$1
	# shellcheck disable=SC2086
	echo "$(f0 "$(median ${RPS[$k]:-})") $(f2 "$(median ${P50[$k]:-})") $(f2 "$(median ${P99[$k]:-})") $(stored_sum "${OKS[$k]:-}")"
}

sweep_line() { printf '%-5s %5s  %14s %7s %7s  %14s %7s %7s  %6s  %s' "$@"; }

# sweep_report: the sweep's section of the report, one line per connection count.
sweep_report() {
	local c ch base
	report ""
	report "concurrency sweep: wrk -cN -t(N, at most $BENCH_THREADS), the same mix; per count one ${BENCH_SWEEP_SECONDS}s load of baseline.c, then one of callhook, on empty tables ('rounds': the rounds' medians at -c$BENCH_CONNS)"
	report "$(sweep_line sweep conns "callhook req/s" "p50 ms" "p99 ms" "baseline req/s" "p50 ms" "p99 ms" ratio \
		"stored/acked: callhook, baseline")"
	for c in $BENCH_SWEEP; do
		read -r -a ch <<<"$(sweep_figures callhook "$c")"
		read -r -a base <<<"$(sweep_figures baseline "$c")"
		report "$(sweep_line sweep "$c" "${ch[0]}" "${ch[1]}" "${ch[2]}" "${base[0]}" "${base[1]}" "${base[2]}" \
			"$(ratio "${ch[0]}" "${base[0]}")" "${ch[3]}, ${base[3]}$(sweep_reuses "$c" && echo "  rounds")")"
	done
}

make_report() {
	local t rps p50 p99 ch base pgi pgins nokeep ratio_pg ratio_base g
	report "callhook benchmark ($MODE), $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)$(git -C "$REPO" diff --quiet HEAD -- common fcgi sql deploy 2>/dev/null || echo ' + local changes')"
	report "$ENV_LINE; CPU busy before the run: ${BG_LOAD}% (other jobs on the machine distort every figure: see 'foreign')"
	report "$PG_LINE"
	report "load: wrk -t$BENCH_THREADS -c$BENCH_CONNS on 127.0.0.1, every request a new delivery, mix of 6 fixture bodies (Call Tracker call + message, Salpre call_ended, CallScaler post-call, CallRail post_call signed, Fone Dynamics), mean body ${BODY[callhook]:-?} B; pgbench -M prepared -c$BENCH_CONNS -j$BENCH_THREADS; callhook with $BENCH_CALLHOOK_WORKERS workers, baseline.c with $BENCH_WORKERS, nginx worker_processes $BENCH_NGINX_WORKERS"
	report "$BENCH_ROUNDS interleaved round(s) of ${BENCH_SECONDS}s per target (the single INSERT and baseline.c keep_conn: last round only); medians; tables emptied before each run"
	report ""
	report "$(printf '%-34s %7s %7s %8s  %-24s %-11s %s' target req/s "p50 ms" "p99 ms" "stored/acked (all rounds)" "unanswered" \
		"CPU µs/request: app nginx postgres client | foreign %")"
	for t in "${TARGETS[@]}" near growth ${RPS[growth10]:+growth10} big; do
		# shellcheck disable=SC2086
		rps=$(median ${RPS[$t]:-}); p50=$(median ${P50[$t]:-}); p99=$(median ${P99[$t]:-})
		# shellcheck disable=SC2086
		report "$(printf '%-34s %7s %7s %8s  %-24s %-11s %s %s %s %s | %s' "${LABEL[$t]}" "$(f0 "$rps")" "$(f2 "$p50")" \
			"$(f2 "$p99")" "$(stored_sum "${OKS[$t]:-}")" "$(unanswered "$t")" \
			"$(f0 "$(median ${CPU_APP[$t]})")" "$(f0 "$(median ${CPU_NGX[$t]})")" "$(f0 "$(median ${CPU_PG[$t]})")" \
			"$(f0 "$(median ${CPU_CLI[$t]})")" "$(f0 "$(median ${FOREIGN[$t]})")")"
	done
	report "(stored/acked: rows added to deliveries or bench.baseline / 200 answers; pgbench does not count the transactions in"
	report " flight at its deadline, which commit all the same; unanswered: requests still without an answer when the load's time bound ended, summed over rounds; foreign: the share"
	report " of the CPU time during the load that went to other processes than the measured ones or was stolen by the hypervisor"
	report " (of which steal: $(median_all STEAL)%, median over all loads); $REPEATED load(s) were repeated because it exceeded ${BENCH_MAX_FOREIGN}%)"
	local walline=
	for t in "${TARGETS[@]}" near growth ${RPS[growth10]:+growth10} big; do
		# shellcheck disable=SC2086
		[ -n "${WALB[$t]:-}" ] && walline+="${LABEL[$t]} $(f0 "$(median ${WALB[$t]})"); "
	done
	report "WAL per request (bytes, each load starting just after a CHECKPOINT): ${walline%; }"
	[ -z "$BENCH_SWEEP" ] || sweep_report
	# shellcheck disable=SC2086
	{
		ch=$(median ${RPS[callhook]:-}); base=$(median ${RPS[baseline]:-}); pgi=$(median ${RPS[pgb_ingest]:-})
		pgins=$(median ${RPS[pgb_insert]:-}); nokeep=$(median ${RPS[nokeep]:-}); p99=$(median ${P99[callhook]:-})
	}
	ratio_pg=$(ratio "$ch" "$pgi")
	ratio_base=$(ratio "$ch" "$base")
	report ""
	report "ratios: callhook/pgbench-ingest = $ratio_pg, callhook/baseline = $ratio_base, callhook/pgbench-insert = $(ratio "$ch" "$pgins"), callhook/nginx-return-200 = $(ratio "$ch" "$(median ${RPS[nginx200]:-})")"
	# shellcheck disable=SC2086
	if [ -n "${CPU_PG[pgb_rows]:-}" ] && [ -n "${CPU_PG[callhook]:-}" ]; then
		# shellcheck disable=SC2086
		local pg_ch pg_rows
		pg_ch=$(median ${CPU_PG[callhook]})
		pg_rows=$(median ${CPU_PG[pgb_rows]})
		report "PostgreSQL CPU per delivery: callhook $(f0 "$pg_ch") µs; the rows it writes for one delivery (the delivery, its key, its call) inserted plainly, $ROWS_PER per transaction, $(f0 "$pg_rows") µs, $(ratio "$pg_rows" "$pg_ch") of it: the floor under any SQL that writes these rows"
	fi
	report "keep_conn: callhook $(f0 "$ch") req/s, p99 $(f2 "$p99") ms as shipped (fastcgi_keep_conn on, keepalive 4) vs $(f0 "$nokeep") req/s, p99 $(f2 "$(median ${P99[nokeep]:-})") ms with a connection per request: ratio $(ratio "$ch" "$nokeep") ($(awk -v a="$ch" -v b="$nokeep" 'BEGIN { w = "no difference"; if (a > b * 1.02) w = "keep_conn is faster"; if (a < b * 0.98) w = "keep_conn is slower"; print w }')); baseline.c $(f0 "$(median ${RPS[baseline_keep]:-})") vs $(f0 "$base") req/s (ratio $(ratio "$(median ${RPS[baseline_keep]:-})" "$base"))$([ "$(unanswered baseline_keep)" = 0 ] || echo ", with $(unanswered baseline_keep) requests left unanswered: each baseline.c worker serves one connection until nginx closes it, so kept connections idle in nginx's pool hold workers that waiting requests need")"
	report "keep_conn with one connection for 3 s: callhook answered $(kv responses "$PROBE_CH") requests, $(kv inflight "$PROBE_CH") left unanswered (max latency $(f2 "$(kv max_ms "$PROBE_CH")") ms); baseline.c answered $(kv responses "$PROBE_BASE"), $(kv inflight "$PROBE_BASE") unanswered"
	report "worker RSS (callhook, $BENCH_CALLHOOK_WORKERS workers, pid:VmRSS kB:RssAnon kB): after 2,000 requests: $RSS0"
	report "                                        after $RSS_N more ($(f0 "$RSS_RPS") req/s): $RSS1"
	report "                                 baseline.c workers for comparison: $BASE_RSS"
	report "growth: $BENCH_GROWTH_ROWS existing calls and deliveries ($GROWTH_SIZE, written in SQL in ${GROWTH_FILL_S}s), $BENCH_GROWTH_ROUNDS round(s)"
	[ -z "${RPS[growth10]:-}" ] || report "growth to $BENCH_GROWTH_DELIVERIES deliveries in all ($GROWTH10_SIZE; the ones past $BENCH_GROWTH_ROWS with ~60-byte bodies, written in SQL in ${GROWTH10_FILL_S}s), $BENCH_GROWTH_ROUNDS round(s)"
	report "big bodies: CallScaler post-call with a $BENCH_BIG_KB KB transcription (body $(kv mean_body "$BIG") B), wrk -c$BENCH_BIG_CONNS, $(awk -v r="$(kv rps "$BIG")" -v b="$(kv mean_body "$BIG")" 'BEGIN { printf "%.1f", r * b / 1048576 }') MB/s of bodies; tables after it: $BIG_SIZE"
	report ""
	report "targets (reported, not asserted):"
	report "  callhook/baseline >= 1.0 (synchronous commit on): $ratio_base  $(meets "$ratio_base" '>=' 1.0)"
	report "  callhook/pgbench-ingest >= 1.0:                   $ratio_pg  $(meets "$ratio_pg" '>=' 1.0)"
	report "  p99 <= 15 ms at $BENCH_CONNS connections:                $(f2 "$p99") ms  $(meets "$p99" '<=' 15)"
	if [[ " $BENCH_SWEEP " = *" 1 "* ]]; then
		local one_ch one_base
		read -r _ one_ch _ <<<"$(sweep_figures callhook 1)"
		read -r _ one_base _ <<<"$(sweep_figures baseline 1)"
		report "  p50 at 1 connection no worse than before:         $one_ch ms  (baseline.c $one_base ms; compare with earlier reports)"
	else
		report "  p50 at 1 connection no worse than before:         not measured (BENCH_SWEEP has no 1)"
	fi
	local rmax growth_mb
	rmax=$(rss_max "$RSS1")
	growth_mb=$(awk -v a="$(rss_max "$RSS0")" -v b="$rmax" 'BEGIN { printf "%+.1f", b - a }')
	report "  worker RSS <= 8 MB and flat over $RSS_N requests:  max $rmax MB (RssAnon max $(rss_anon_max "$RSS1") MB), change $growth_mb MB  $(meets "$rmax" '<=' 8)$(awk -v g="$growth_mb" 'BEGIN { if (g > 0.5) print ", NOT flat" }')"
	# shellcheck disable=SC2086
	# against callhook on empty tables just before and after the growth loads (near), not the rounds above
	local near
	near=$(median ${RPS[near]:-})
	g=$(median ${RPS[growth]:-})
	report "  $BENCH_GROWTH_ROWS existing calls >= 90% of empty:        $(ratio "$g" "$near")  $(meets "$(ratio "$g" "$near")" '>=' 0.9)  (empty beside it: $(f0 "$near") req/s, runs ${RPS[near]% }; postgres CPU per request $(f0 "$(median ${CPU_PG[growth]})") µs vs $(f0 "$(median ${CPU_PG[near]})") µs empty)"
	if [ -n "${RPS[growth10]:-}" ]; then
		# shellcheck disable=SC2086
		g=$(median ${RPS[growth10]:-})
		report "  $BENCH_GROWTH_DELIVERIES existing deliveries >= 90% of empty:  $(ratio "$g" "$near")  $(meets "$(ratio "$g" "$near")" '>=' 0.9)  (postgres CPU per request $(f0 "$(median ${CPU_PG[growth10]})") µs)"
	fi
	[ "$FAILED" = 0 ] || report "FAILED: some acknowledged requests are missing from the database (see above)"
	mkdir -p "$(dirname "$BENCH_OUT")"
	printf '%s\n' "${REPORT[@]}" | tee "$BENCH_OUT"
	say "bench: written to $BENCH_OUT; logs were in $T (CALLHOOK_KEEP_TMP=1 keeps them)"
}

# --- profile mode ---------------------------------------------------------------------------------------

# cg_lines N: callgrind_annotate lines → "Ir per request<TAB>percent<TAB>function<TAB>object" (N requests).
cg_lines() {
	awk -v n="$1" '
		match($0, /^ *[0-9,]+ \( *[0-9.]+%\)  /) {
			head = substr($0, 1, RLENGTH); rest = substr($0, RLENGTH + 1)
			ir = head; sub(/ *\(.*/, "", ir); gsub(/[ ,]/, "", ir)
			pct = head; sub(/^[^(]*\( */, "", pct); sub(/%.*/, "", pct)
			obj = "?"
			if (match(rest, / \[[^]]*\]$/)) { obj = substr(rest, RSTART + 2, RLENGTH - 3); rest = substr(rest, 1, RSTART - 1) }
			sub(/ \([0-9,]+x\)$/, "", rest)
			k = split(obj, o, "/"); obj = o[k]; sub(/\.so[.0-9]*$/, "", obj); if (obj == "?") obj = "object not named"
			fn = rest; sub(/^.*:/, "", fn)
			if (fn == "PROGRAM TOTALS" || rest == "PROGRAM TOTALS") next
			printf "%.0f\t%s\t%s\t%s\n", ir / n, pct, fn, obj
		}'
}

profile() {
	local n=$BENCH_PROFILE_REQUESTS worker cg total ir
	say "bench: profile, $n requests through one callhook worker under callgrind, then PostgreSQL's statement times"
	WAIT_S=60
	CALLHOOK_WORKERS_SAVED=$BENCH_CALLHOOK_WORKERS
	BENCH_WORKERS=1
	BENCH_CALLHOOK_WORKERS=1
	start_everything shared_preload_libraries=pg_stat_statements pg_stat_statements.track=all \
		pg_stat_statements.track_planning=on track_functions=pl
	_psql callhook -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
	# 1. callgrind: restart callhook's single worker under valgrind
	callhook_stop
	CALLHOOK_WRAPPER="valgrind --tool=callgrind --callgrind-out-file=$T/callgrind.out.%p --dump-instr=no" \
		callhook_start 1 || { say "bench: callhook under valgrind did not start"; exit 1; }
	wrk_run cg-warm "$NGINX_PORT" 0 60 1 1 all "$CALLHOOK_PID" || exit 1
	worker=$(children_of "$CALLHOOK_PID" | head -n 1)
	if callgrind_control -z "$worker" >"$T/cgctl.log" 2>&1; then
		ZEROED=1
	else
		ZEROED=0
		say "bench: callgrind_control -z failed ($(tail -n 1 "$T/cgctl.log")): counts include start-up and warm-up"
	fi
	wrk_run cg "$NGINX_PORT" 0 "$n" "$BENCH_PROFILE_CONNS" 1 all "$CALLHOOK_PID" || exit 1
	local served=$(( $(kv responses "$LAST") + (ZEROED ? 0 : 60) ))
	callhook_stop
	cg=$T/callgrind.out.$worker
	[ -s "$cg" ] || { say "bench: no callgrind output $cg"; exit 1; }
	total=$(sed -n 's/^totals: \([0-9]*\).*/\1/p; s/^summary: \([0-9]*\).*/\1/p' "$cg" | tail -n 1)
	ir=$(awk -v t="$total" -v n="$served" 'BEGIN { printf "%.0f", t / n }')
	report "callhook benchmark: profile, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)"
	report "$(machine_line)"
	report ""
	report "callgrind, one callhook worker, $served requests of the mix (every vendor, bodies ~1 KB) over $BENCH_PROFILE_CONNS connection(s)$([ "$ZEROED" = 1 ] && echo ', counted after a 60-request warm-up'):"
	report "  total Ir $total = $ir instructions per request"
	report ""
	report "instructions per request by library (self cost):"
	while IFS= read -r line; do report "  $line"; done < <(callgrind_annotate --auto=no --inclusive=no --threshold=100 "$cg" 2>/dev/null |
		cg_lines "$served" | awk -F'\t' '{ ir[$4] += $1; t += $1 } END { for (o in ir) printf "%9.0f  %5.1f%%  %s\n", ir[o], 100 * ir[o] / t, o }' | sort -rn)
	report ""
	report "top functions by self cost (Ir per request, % of the worker's total):"
	while IFS= read -r line; do report "  $line"; done < <(callgrind_annotate --auto=no --inclusive=no "$cg" 2>/dev/null |
		cg_lines "$served" | awk -F'\t' '!seen[$3]++ { printf "%9.0f  %5.1f%%  %s (%s)\n", $1, $2, $3, $4 }' | head -n 20)
	report ""
	report "top functions by inclusive cost (Ir per request; process and loop frames left out):"
	while IFS= read -r line; do report "  $line"; done < <(callgrind_annotate --auto=no --inclusive=yes "$cg" 2>/dev/null |
		cg_lines "$served" | awk -F'\t' '$3 !~ /^(main|serve|spawn|worker|run_pool|\(below main\)|__libc_start_main.*|__libc_start_call_main|0x[0-9a-f]+)$/ && !seen[$3]++ {
			printf "%9.0f  %5.1f%%  %s (%s)\n", $1, $2, $3, $4 }' | head -n 25)
	report ""
	report "callers of snprintf (Ir per request):"
	while IFS= read -r line; do report "  $line"; done < <(callgrind_annotate --auto=no --tree=caller --inclusive=yes "$cg" 2>/dev/null |
		awk '/\*  .*snprintf\.c:snprintf / { exit } /^ *[0-9,]+ \( *[0-9.]+%\)  < / { buf[++n] = $0 } /^$/ { n = 0 }
			END { for (i = 1; i <= n; i++) print buf[i] }' | sed 's/  < /  /' | cg_lines "$served" |
		awk -F'\t' '{ printf "%9.0f  %s\n", $1, $3 }' | head -n 6)

	# 2. PostgreSQL: statement and function times for a normal run.
	BENCH_CALLHOOK_WORKERS=$CALLHOOK_WORKERS_SAVED
	bench_callhook_start "$BENCH_CALLHOOK_WORKERS" || exit 1
	reset_tables
	_psql callhook -c "SELECT pg_stat_statements_reset()" -c "SELECT pg_stat_reset()" >/dev/null
	wrk_run pgprof "$NGINX_PORT" "$BENCH_SECONDS" 0 "$BENCH_CONNS" "$BENCH_THREADS" all "$CALLHOOK_PID" || exit 1
	local reqs
	reqs=$(kv responses "$LAST")
	read -r -a cpu <<<"$LAST_CPU"
	report ""
	report "one ${BENCH_SECONDS}s run of the mix with track_functions=pl and pg_stat_statements.track=all: $(f0 "$(kv rps "$LAST")") req/s, $reqs requests"
	report "  CPU µs per request: machine $(cpu_us "${cpu[0]}" "$reqs"), callhook $(cpu_us "${cpu[1]}" "$reqs"), nginx $(cpu_us "${cpu[2]}" "$reqs"), postgres $(cpu_us "${cpu[3]}" "$reqs"), wrk $(cpu_us "${cpu[4]}" "$reqs")"
	report ""
	report "PostgreSQL functions (µs per request = total time / requests):"
	while IFS= read -r line; do report "  $line"; done < <(sql "select rpad(schemaname || '.' || funcname, 28) || lpad(calls::text, 9) || ' calls'
		|| lpad(round((total_time * 1000 / $reqs)::numeric, 1)::text, 9) || ' µs total' || lpad(round((self_time * 1000 / $reqs)::numeric, 1)::text, 9) || ' µs self'
		from pg_stat_user_functions order by total_time desc")
	report ""
	report "PostgreSQL statements by total time (µs per request: executing + planning; nested statements of the plpgsql"
	report "functions included, so the outer ones contain the inner ones; a dynamic statement shows once per distinct text):"
	while IFS= read -r line; do report "  $line"; done < <(sql "select lpad(round((total_exec_time * 1000 / $reqs)::numeric, 1)::text, 8) || ' + '
		|| lpad(round((total_plan_time * 1000 / $reqs)::numeric, 1)::text, 6) || ' µs ' || lpad(calls::text, 7) || ' calls  '
		|| left(regexp_replace(query, '\s+', ' ', 'g'), 130)
		from pg_stat_statements where dbid = (select oid from pg_database where datname = 'callhook')
		order by total_exec_time + total_plan_time desc limit 18")
	report ""
	report "statements planned again on (nearly) every execution (plans/calls >= 0.5), by planning time:"
	while IFS= read -r line; do report "  $line"; done < <(sql "select lpad(round((total_plan_time * 1000 / $reqs)::numeric, 1)::text, 8)
		|| ' µs planning per request, ' || plans || ' plans / ' || calls || ' calls  ' || left(regexp_replace(query, '\s+', ' ', 'g'), 110)
		from pg_stat_statements where calls > 100 and plans >= calls * 0.5
		and dbid = (select oid from pg_database where datname = 'callhook') order by total_plan_time desc limit 8")
	report ""
	report "WAL per request: $(sql "select pg_size_pretty((sum(wal_bytes) / $reqs)::bigint) || ' (' || (sum(wal_records) / $reqs)::int || ' records, ' || round(sum(wal_fpi) / $reqs, 2) || ' full-page images)' from pg_stat_statements where toplevel")"
	stop_all
	mkdir -p "$(dirname "$BENCH_OUT")"
	printf '%s\n' "${REPORT[@]}" | tee "$BENCH_OUT"
	say "bench: written to $BENCH_OUT"
}

if [ "$MODE" = profile ]; then
	profile
else
	main_bench
fi
_TAP_DONE=1
[ "$FAILED" = 0 ]
