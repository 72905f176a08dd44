# shellcheck shell=bash
# Shared helpers for callhook's integration tests: a temporary directory, a real PostgreSQL cluster, callhook
# and nginx, all started and stopped by pid; HTTP requests through nginx; SQL; TAP output.
#
# Use from a test script:   . "$(dirname "$0")/../lib.sh"; setup_tmp; pg_start; write_config; ...; done_testing
# Every wait is bounded by $WAIT_S seconds, and the EXIT trap stops whatever is still running.
# When run as root, PostgreSQL and callhook run as nobody (callhook refuses root; initdb does too) and the
# nginx master runs as root with workers as nobody. Otherwise everything runs as the calling user. What those
# nobody processes read or write lives in $T under /tmp (the binary is copied there), never in the clone,
# which may be in a directory nobody cannot enter (tests/integration/clone.sh).
#
# Environment: CALLHOOK (binary, default ./callhook of the repo), CALLHOOK_WRAPPER (e.g. "valgrind -q
# --error-exitcode=99", put before the binary for serve), CALLHOOK_KEEP_TMP=1 (keep the temp dir),
# CALLHOOK_TEST_WAIT (seconds for each bounded wait, default 10), PG_BIN (default /usr/lib/postgresql/15/bin).
# A test with processes of its own names the function that stops them in STOP_FIRST; stop_all (and so the
# EXIT trap) runs it before stopping callhook, nginx and PostgreSQL.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CALLHOOK=${CALLHOOK:-$REPO/callhook}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
WAIT_S=${CALLHOOK_TEST_WAIT:-10}
TOKEN=s3cret-token             # the token of source "ct" in write_config
IS_ROOT=0
[ "$(id -u)" -eq 0 ] && IS_ROOT=1
umask 022

T=${T:-}                       # the working directory of this test (or of the demo)
CH=                            # the callhook binary to run (a copy in $T when root, so nobody can run it)
CALLHOOK_PID=
NGINX_PID=
NGINX_PORT=${NGINX_PORT:-}
LIB_DETACH=${LIB_DETACH:-0}    # 1: start servers in their own session (deploy/demo.sh leaves them running)
STOP_FIRST=${STOP_FIRST:-}     # a function stop_all runs first (a test's own processes)
HTTP_STATUS=
RESP_BODY=
TAP_N=0
TAP_FAILED=0
_TAP_DONE=0
_ERR_AT=

# --- TAP ----------------------------------------------------------------------------------------------

# diag TEXT...: print each line of TEXT as a TAP comment.
diag() {
	local line
	while IFS= read -r line; do
		printf '# %s\n' "$line"
	done <<<"$*"
}

_tap() { # _tap "ok"|"not ok" DESCRIPTION
	TAP_N=$((TAP_N + 1))
	[ "$1" = ok ] || TAP_FAILED=$((TAP_FAILED + 1))
	printf '%s %d - %s\n' "$1" "$TAP_N" "$2"
}

# ok CONDITION DESCRIPTION: CONDITION is shell code, evaluated; exit status 0 passes. Inside it $1, $2…
# are ok's own arguments: use named variables.
ok() {
	local cond=$1
	shift
	if eval "$cond"; then
		_tap ok "$*"
	else
		_tap "not ok" "$*"
		diag "  failed: $cond"
	fi
}

# is GOT WANT DESCRIPTION: exact string comparison; on failure prints got and want lines as comments.
is() {
	if [ "$1" = "$2" ]; then
		_tap ok "$3"
	else
		_tap "not ok" "$3"
		_got_want "$1" "$2"
	fi
}

# like GOT ERE DESCRIPTION: GOT matches the extended regular expression ERE (grep -E, anywhere in GOT).
like() {
	if grep -Eq -- "$2" <<<"$1"; then
		_tap ok "$3"
	else
		_tap "not ok" "$3"
		_got_want "$1" "(matching) $2"
	fi
}

# unlike GOT ERE DESCRIPTION: GOT does not match ERE.
unlike() {
	if grep -Eq -- "$2" <<<"$1"; then
		_tap "not ok" "$3"
		_got_want "$1" "(not matching) $2"
	else
		_tap ok "$3"
	fi
}

_got_want() {
	local line
	printf '#   got:\n'
	while IFS= read -r line; do printf '#     %s\n' "$line"; done <<<"$1"
	printf '#   want:\n'
	while IFS= read -r line; do printf '#     %s\n' "$line"; done <<<"$2"
}

# bail_out MESSAGE: a failed check that makes the rest of the test pointless; stops everything.
bail_out() {
	_tap "not ok" "$*"
	printf 'Bail out! %s\n' "$*"
	dump_logs
	_TAP_DONE=1
	printf '1..%d\n' "$TAP_N"
	exit 1
}

# done_testing: print the plan and exit non-zero if any check failed.
done_testing() {
	_TAP_DONE=1
	printf '1..%d\n' "$TAP_N"
	if [ "$TAP_FAILED" -gt 0 ]; then
		diag "$TAP_FAILED of $TAP_N checks failed"
		dump_logs
		exit 1
	fi
	exit 0
}

# dump_logs: the last lines of each server log, as comments; also of the files in $EXTRA_LOGS (paths,
# space-separated: a test's other callhook instances).
dump_logs() {
	local f
	[ -n "$T" ] || return 0
	for f in "$T/callhook.log" ${EXTRA_LOGS:-} "$T/nginx/error.log" "$T/pg/postgres.log"; do
		[ -s "$f" ] || continue
		diag "--- last lines of ${f#"$T"/}:"
		diag "$(tail -n 25 "$f")"
	done
}

# --- processes ----------------------------------------------------------------------------------------

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
	local stat
	[ -n "${1:-}" ] || return 1
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# wait_until SECONDS COMMAND...: run COMMAND every 0.1 s until it succeeds (0). Gives up with 1 when time
# runs out, or at once with 2 when COMMAND returns 2 (what it waits for can no longer happen).
wait_until() {
	local limit=$((SECONDS + $1)) rc
	shift
	while :; do
		if "$@"; then return 0; else rc=$?; fi
		[ "$rc" -ne 2 ] || return 2
		[ "$SECONDS" -lt "$limit" ] || return 1
		sleep 0.1
	done
}

# stop_pid PID SIGNAL: send SIGNAL, wait up to WAIT_S for the process to go, then SIGKILL it.
# Returns 0 if it went by itself. Reaps it when it is our child ($STOPPED_STATUS = its exit status).
stop_pid() {
	local pid=$1 sig=$2 rc=0
	STOPPED_STATUS=
	[ -n "$pid" ] || return 0
	if pid_alive "$pid"; then
		kill "-$sig" "$pid" 2>/dev/null || true
		if ! wait_until "$WAIT_S" _not_alive "$pid"; then
			diag "pid $pid did not stop within ${WAIT_S}s after SIG$sig: killing it"
			kill -KILL "$pid" 2>/dev/null || true
			wait_until 5 _not_alive "$pid" || true
			rc=1
		fi
	fi
	if wait "$pid" 2>/dev/null; then STOPPED_STATUS=0; else STOPPED_STATUS=$?; fi
	return "$rc"
}
_not_alive() { ! pid_alive "$1"; }

# children_of PID: pids whose parent is PID.
children_of() {
	local d stat state ppid
	for d in /proc/[0-9]*; do
		stat=$(cat "$d/stat" 2>/dev/null) || continue
		read -r state ppid _ <<<"${stat##*) }"
		[ "$ppid" = "$1" ] && [ "$state" != Z ] && printf '%s\n' "${d#/proc/}"
	done
	return 0
}

# as_user COMMAND...: run COMMAND in $T as nobody when root, else as ourselves.
as_user() {
	(
		cd "$T" || exit 1
		if [ "$IS_ROOT" = 1 ]; then
			exec setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
		fi
		exec "$@"
	)
}

# own PATH...: give PATH to nobody when root (so PostgreSQL and callhook can write there).
own() {
	[ "$IS_ROOT" = 1 ] || return 0
	chown nobody:nogroup "$@"
}

# --- temporary directory and cleanup --------------------------------------------------------------

# setup_tmp: make $T (owned by nobody when root) and install the cleanup trap.
setup_tmp() {
	T=$(mktemp -d /tmp/callhook-test.XXXXXX)
	chmod 0755 "$T"
	own "$T"
	set -E
	trap '_ERR_AT="line $LINENO: $BASH_COMMAND"' ERR
	trap _cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

_cleanup() {
	local rc=$?
	set +e
	trap - ERR
	if [ "$_TAP_DONE" = 0 ] && [ "$rc" -ne 0 ]; then
		_tap "not ok" "$(basename "$0") stopped early (exit status $rc${_ERR_AT:+, at $_ERR_AT})"
		dump_logs
		printf '1..%d\n' "$TAP_N"
	fi
	stop_all
	if [ "${CALLHOOK_KEEP_TMP:-0}" = 1 ]; then
		diag "kept $T"
	elif [ -n "$T" ] && [ -d "$T" ]; then
		chmod -R u+rwX "$T" 2>/dev/null
		rm -rf "$T"
	fi
	exit "$rc"
}

# stop_all: $STOP_FIRST (when set), then callhook, nginx, PostgreSQL, each by its pid.
stop_all() {
	[ -z "$STOP_FIRST" ] || "$STOP_FIRST" >/dev/null 2>&1 || true
	callhook_stop >/dev/null 2>&1 || true
	nginx_stop >/dev/null 2>&1 || true
	pg_stop >/dev/null 2>&1 || true
}

# --- PostgreSQL -------------------------------------------------------------------------------------

PG_PID=

_psql() { # _psql DB ARGS...: psql as the superuser, errors fatal
	local db=$1
	shift
	PGOPTIONS='-c client_min_messages=warning' \
		psql -X -q -v ON_ERROR_STOP=1 -h "$T/pg" -U postgres -d "$db" "$@"
}

# pg_start: initdb (once) a trust-auth cluster listening only on the socket $T/pg, start it, and create the
# database callhook and the login role callhook_w. Safe to call again after pg_stop.
pg_start() {
	local data=$T/pg/data
	mkdir -p "$T/pg"
	own "$T/pg"
	if [ ! -f "$data/PG_VERSION" ]; then
		if ! as_user "$PG_BIN/initdb" -D "$data" -A trust -U postgres -E UTF8 --locale=C --no-sync \
			>"$T/pg/initdb.log" 2>&1; then
			diag "initdb failed:" "$(cat "$T/pg/initdb.log")"
			return 1
		fi
		cat >>"$data/postgresql.conf" <<-EOF
			listen_addresses = ''
			unix_socket_directories = '$T/pg'
			max_connections = 40
			shared_buffers = 32MB
			log_min_messages = warning
			log_line_prefix = '%m [%p] %q%u@%d '
		EOF
	fi
	if ! as_user "$PG_BIN/pg_ctl" -D "$data" -l "$T/pg/postgres.log" -w -t "$WAIT_S" start >/dev/null 2>&1; then
		diag "pg_ctl start failed:" "$(tail -n 20 "$T/pg/postgres.log" 2>/dev/null)"
		return 1
	fi
	PG_PID=$(head -n 1 "$data/postmaster.pid")
	if [ "$(_psql postgres -At -c "select count(*) from pg_database where datname = 'callhook'")" = 0 ]; then
		_psql postgres -c "create database callhook" || return 1
	fi
	_psql postgres -c "do \$\$ begin
		if not exists (select from pg_roles where rolname = 'callhook_w') then create role callhook_w login; end if;
		end \$\$" || return 1
}

# pg_stop: stop the cluster (pg_ctl stop -m fast), killing the postmaster by pid if that fails.
pg_stop() {
	local data=$T/pg/data
	[ -f "$data/postmaster.pid" ] || return 0
	[ -n "$PG_PID" ] || PG_PID=$(head -n 1 "$data/postmaster.pid")
	if ! as_user "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t "$WAIT_S" stop >/dev/null 2>&1; then
		if pid_alive "$PG_PID"; then
			kill -KILL "$PG_PID" 2>/dev/null || true
			wait_until 5 _not_alive "$PG_PID" || true
		fi
		rm -f "$data/postmaster.pid"
	fi
	PG_PID=
}

# pg_grant_writer: after migrate, let the login role callhook_w act as callhook_writer.
pg_grant_writer() {
	_psql callhook -c "grant callhook_writer to callhook_w"
}

# sql QUERY: run QUERY on the test database as the superuser (search_path callhook, time zone UTC) and print
# the psql -At output; errors are printed too, and the status is always 0 (the output is what gets checked).
sql() {
	PGOPTIONS='-c search_path=callhook,public -c timezone=UTC -c client_min_messages=warning' \
		psql -X -q -At -v ON_ERROR_STOP=1 -h "$T/pg" -U postgres -d "${SQL_DB:-callhook}" -c "$1" 2>&1 || true
}

# sql_strict QUERY: like sql, but errors go to stderr and fail.
sql_strict() {
	PGOPTIONS='-c search_path=callhook,public -c timezone=UTC -c client_min_messages=warning' \
		psql -X -q -At -v ON_ERROR_STOP=1 -h "$T/pg" -U postgres -d "${SQL_DB:-callhook}" -c "$1"
}

# --- callhook -----------------------------------------------------------------------------------------

# shipped_tunables: the GLIBC_TUNABLES that deploy/systemd/callhook.service gives callhook (for the bench and the
# demo, which run it as shipped: GLIBC_TUNABLES=$(shipped_tunables) callhook_start N).
shipped_tunables() {
	sed -n 's/^Environment=GLIBC_TUNABLES=//p' "$REPO/deploy/systemd/callhook.service"
}

# prepare_callhook: check that the binary is built and set $CH (a copy nobody can execute when root).
prepare_callhook() {
	[ -x "$CALLHOOK" ] || bail_out "callhook is built ($CALLHOOK missing: run make)"
	if [ "$IS_ROOT" = 1 ]; then
		mkdir -p "$T/bin"
		install -m 0755 "$CALLHOOK" "$T/bin/callhook"
		CH=$T/bin/callhook
	else
		CH=$CALLHOOK
	fi
}

# callhook_run ARGS...: run callhook with ARGS as nobody (when root) in $T.
callhook_run() {
	[ -n "$CH" ] || prepare_callhook
	as_user "$CH" "$@"
}

# write_config [max_body=SIZE]: write $T/callhook.conf with the test database, the spool $T/spool and the
# Call Tracker sources "ct" (token $TOKEN) and "ct-open" (allow_unauthenticated). config_append adds more.
write_config() {
	local kv max_body=1M
	for kv in "$@"; do
		case $kv in
		max_body=*) max_body=${kv#*=} ;;
		*) bail_out "write_config: unknown argument $kv" ;;
		esac
	done
	mkdir -p "$T/spool"
	chmod 0700 "$T/spool"
	own "$T/spool"
	cat >"$T/callhook.conf" <<-EOF
		[database]
		conninfo = host=$T/pg dbname=callhook user=callhook_w
		migrate_conninfo = host=$T/pg dbname=callhook user=postgres

		[server]
		max_body = $max_body
		spool_dir = $T/spool

		[source ct]
		vendor = calltracker
		token = $TOKEN

		[source ct-open]
		vendor = calltracker
		allow_unauthenticated = yes
	EOF
}

# config_append FILE...: append INI text (more [source …] sections) to $T/callhook.conf.
config_append() {
	local f
	for f in "$@"; do
		printf '\n' >>"$T/callhook.conf"
		cat "$f" >>"$T/callhook.conf"
	done
}

# callhook_migrate: `callhook migrate` with $T/callhook.conf, then pg_grant_writer. Output in $T/migrate.log.
callhook_migrate() {
	if ! callhook_run -c "$T/callhook.conf" migrate >>"$T/migrate.log" 2>&1; then
		diag "callhook migrate failed:" "$(tail -n 20 "$T/migrate.log")"
		return 1
	fi
	pg_grant_writer >/dev/null
}

# callhook_start N: serve on unix:$T/callhook.sock with N workers, stderr to $T/callhook.log; waits for the
# socket. $CALLHOOK_PID is the pid.
callhook_start() {
	callhook_start_at "$T/callhook.conf" "$T/callhook.sock" "$T/callhook.log" "${1:-2}"
}

# callhook_start_at CONF SOCKET LOG N: serve with config CONF on unix:SOCKET with N workers (N "default": no -w),
# stderr appended to LOG; waits for the socket. $CALLHOOK_PID is the pid: a test that runs several instances keeps each one's
# pid itself and sets CALLHOOK_PID back before callhook_stop.
callhook_start_at() {
	local conf=$1 sock=$2 log=$3 n=$4 wrap=() pre=() workers=(-w "$4")
	[ "$n" = default ] && workers=()
	[ -n "$CH" ] || prepare_callhook
	read -ra wrap <<<"${CALLHOOK_WRAPPER:-}"
	[ "$LIB_DETACH" = 1 ] && pre=(setsid)
	[ "$IS_ROOT" = 1 ] && pre+=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
	rm -f "$sock"
	(cd "$T" && exec "${pre[@]}" "${wrap[@]}" "$CH" -c "$conf" serve \
		-s "unix:$sock" "${workers[@]}" </dev/null >>"$log" 2>&1) &
	CALLHOOK_PID=$!
	if ! wait_until "$WAIT_S" _callhook_up "$sock"; then
		diag "callhook did not create $sock within ${WAIT_S}s:" "$(tail -n 20 "$log")"
		callhook_stop >/dev/null 2>&1 || true
		return 1
	fi
}
_callhook_up() { # _callhook_up SOCKET
	pid_alive "$CALLHOOK_PID" || return 2
	[ -S "$1" ]
}

# callhook_stop: SIGTERM, bounded wait; returns callhook's exit status (1 if it had to be killed).
callhook_stop() {
	local pid=$CALLHOOK_PID
	CALLHOOK_PID=
	[ -n "$pid" ] || return 0
	stop_pid "$pid" TERM || return 1
	return "${STOPPED_STATUS:-0}"
}

# --- nginx --------------------------------------------------------------------------------------------

_port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pick_port: a TCP port on 127.0.0.1 that nothing listens on (50 tries), below the kernel's range of
# ephemeral ports (32768 and up by default): a port there can be the local end of a client connection,
# even one in TIME_WAIT, which a probe does not see but which makes bind() fail.
pick_port() {
	local p try
	for try in $(seq 1 50); do
		p=$((10000 + RANDOM % 22000))
		_port_free "$p" && { echo "$p"; return 0; }
	done
	return 1
}

# nginx_write_conf PORT: $T/nginx/nginx.conf with deploy/nginx/callhook-upstream.conf copied in, its socket
# path replaced by $T/callhook.sock and nothing else changed, and location /hooks/ including
# deploy/nginx/callhook.conf verbatim: the tests run what ships. With NGINX_SOCKETS set (socket paths,
# space-separated), each line of the shipped file that names the socket is written once per path instead,
# in that order: several callhook instances, each listed as the shipped file lists one. NGINX_WORKERS (1)
# and NGINX_WORKER_CONNECTIONS (64) set worker_processes and worker_connections; NGINX_HTTP_INCLUDE names a
# file of more http-level text (upstreams, servers) to include.
nginx_write_conf() {
	local port=$1 d=$T/nginx user_line= include_line= upstream sock socks snippet=$REPO/deploy/nginx/callhook.conf
	[ "$IS_ROOT" = 1 ] && user_line="user nobody nogroup;"
	if [ "${NGINX_KEEP_CONN:-on}" = off ]; then # a connection per request, for tests that need requests spread
		sed 's/^fastcgi_keep_conn on;/fastcgi_keep_conn off;/' "$snippet" >"$d/callhook.conf"
		grep -q '^fastcgi_keep_conn off;' "$d/callhook.conf" || bail_out "the snippet has no 'fastcgi_keep_conn on;' to turn off"
		snippet=$d/callhook.conf
	fi
	[ -z "${NGINX_HTTP_INCLUDE:-}" ] || include_line="include $NGINX_HTTP_INCLUDE;"
	read -ra socks <<<"${NGINX_SOCKETS:-$T/callhook.sock}"
	upstream=$(_upstream_for "${socks[@]}")
	for sock in "${socks[@]}"; do
		grep -q "unix:$sock" <<<"$upstream" ||
			bail_out "deploy/nginx/callhook-upstream.conf names no unix:/run/callhook/callhook.sock to replace"
	done
	cat >"$d/nginx.conf" <<-EOF
		# generated by tests/lib.sh
		$user_line
		daemon off;
		worker_processes ${NGINX_WORKERS:-1};
		pid $d/nginx.pid;
		error_log $d/error.log warn;
		events { worker_connections ${NGINX_WORKER_CONNECTIONS:-64}; }
		http {
		    client_body_temp_path $d/tmp/body;
		    fastcgi_temp_path $d/tmp/fastcgi;
		    proxy_temp_path $d/tmp/proxy;
		    scgi_temp_path $d/tmp/scgi;
		    uwsgi_temp_path $d/tmp/uwsgi;
		    default_type application/octet-stream;
		    access_log $d/access.log combined;
		$upstream
		    server {
		        listen 127.0.0.1:$port;
		        server_name localhost;
		        location = / { return 204; }
		        location /hooks/ {
		            include $snippet;
		        }
		    }
		    $include_line
		}
	EOF
}

# _upstream_for SOCKET...: deploy/nginx/callhook-upstream.conf, each line naming unix:/run/callhook/callhook.sock
# written once per SOCKET with that path in its place.
_upstream_for() {
	local line sock shipped=unix:/run/callhook/callhook.sock
	while IFS= read -r line || [ -n "$line" ]; do
		if [[ $line != *"$shipped"* ]]; then
			printf '%s\n' "$line"
			continue
		fi
		for sock in "$@"; do printf '%s\n' "${line//"$shipped"/"unix:$sock"}"; done
	done <"$REPO/deploy/nginx/callhook-upstream.conf"
}

# start_stack WORKERS: a temp dir, PostgreSQL, the default config, the schema, callhook with WORKERS workers
# and nginx in front of it; bails out at the first that does not start.
start_stack() {
	setup_tmp
	pg_start || bail_out "PostgreSQL did not start"
	write_config
	callhook_migrate || bail_out "migrate failed"
	callhook_start "$1" || bail_out "callhook did not start"
	nginx_start || bail_out "nginx did not start"
}

# nginx_start: nginx in the foreground (daemon off) in the background, on 127.0.0.1:$NGINX_PORT (a free
# port unless NGINX_PORT is set); waits until it answers. $NGINX_PID is the master's pid. The shipped upstream
# and snippet go in verbatim, except with NGINX_KEEP_CONN=off: then a connection per request.
nginx_start() {
	local d=$T/nginx try port fixed=${NGINX_PORT:-} pre=()
	mkdir -p "$d/tmp"
	cp /etc/nginx/fastcgi_params "$d/fastcgi_params"
	[ "$LIB_DETACH" = 1 ] && pre=(setsid)
	for try in 1 2 3 4 5; do
		port=${fixed:-$(pick_port)} || continue
		nginx_write_conf "$port"
		: >"$d/error.log"
		"${pre[@]}" nginx -p "$d/" -c "$d/nginx.conf" -e "$d/error.log" </dev/null >>"$d/nginx.out" 2>&1 &
		NGINX_PID=$!
		NGINX_PORT=$port
		if wait_until "$WAIT_S" _nginx_up; then
			return 0
		fi
		stop_pid "$NGINX_PID" TERM || true
		NGINX_PID=
		if [ -z "$fixed" ] && [ "$try" -lt 5 ] && cat "$d/error.log" "$d/nginx.out" 2>/dev/null | grep -q 'Address already in use'; then
			continue
		fi
		diag "nginx did not start on 127.0.0.1:$port:" "$(tail -n 20 "$d/error.log")"
		return 1
	done
	return 1
}
_nginx_up() {
	pid_alive "$NGINX_PID" || return 2
	curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$NGINX_PORT/" 2>/dev/null
}

# nginx_stop: graceful stop (SIGQUIT) by pid, bounded; workers killed by pid if the master had to be.
nginx_stop() {
	local pid=$NGINX_PID workers
	NGINX_PID=
	[ -n "$pid" ] || return 0
	workers=$(children_of "$pid")
	if ! stop_pid "$pid" QUIT; then
		# shellcheck disable=SC2086
		[ -z "$workers" ] || kill -KILL $workers 2>/dev/null || true
		return 1
	fi
}

# --- HTTP ---------------------------------------------------------------------------------------------

# post METHOD PATH [CURL ARGS...]: request http://127.0.0.1:$NGINX_PORT$PATH through nginx.
# Sets HTTP_STATUS (000 when there was no answer) and RESP_BODY; the body is also in $T/resp.body and the
# response headers in $T/resp.headers.
post() {
	local method=$1 path=$2
	shift 2
	rm -f "$T/resp.body" "$T/resp.headers"
	HTTP_STATUS=$(curl -sS -X "$method" -H 'Expect:' --max-time 20 -o "$T/resp.body" -D "$T/resp.headers" \
		-w '%{http_code}' "$@" "http://127.0.0.1:$NGINX_PORT$path" 2>"$T/curl.err") || true
	[ -n "$HTTP_STATUS" ] || HTTP_STATUS=000
	RESP_BODY=$(cat "$T/resp.body" 2>/dev/null) || RESP_BODY=
}

# resp_field KEY: the value of "KEY" in the JSON response body: a string (unquoted, escapes left as they
# are) or a number/literal; empty when absent.
resp_field() {
	local m
	m=$(grep -oE "\"$1\"[[:space:]]*:[[:space:]]*(\"([^\"\\\\]|\\\\.)*\"|[-+.0-9a-zA-Z]+)" <<<"$RESP_BODY" |
		head -n 1) || true
	m=${m#*:}
	m=${m#"${m%%[![:space:]]*}"}
	m=${m#\"}
	printf '%s' "${m%\"}"
}

# resp_header NAME: the value of response header NAME (case-insensitive), CR stripped.
resp_header() {
	local line name value
	[ -f "$T/resp.headers" ] || return 0
	while IFS= read -r line; do
		line=${line%$'\r'}
		name=${line%%:*}
		value=${line#*:}
		if [ "${name,,}" = "${1,,}" ] && [ "$name" != "$line" ]; then
			printf '%s' "${value# }"
			return 0
		fi
	done <"$T/resp.headers"
}

# --- load -------------------------------------------------------------------------------------------

# load_run NAME [CONCURRENCY]: $N requests (tests/load/load.py, CONCURRENCY connections, default 8, at most
# 150 s) through nginx in the background; their results in $T/NAME.tsv, the load's pid in $LOAD_PID.
load_run() {
	python3 "$REPO/tests/load/load.py" --port "$NGINX_PORT" --token "$TOKEN" -n "$N" -c "${2:-8}" --seconds 150 \
		--out "$T/$1.tsv" >"$T/$1.out" 2>&1 &
	LOAD_PID=$!
}

# under_way COUNT: at least COUNT deliveries stored; 2 (give up) once the load ($LOAD_PID) has ended.
under_way() {
	[ "$(sql "select count(*) from callhook.deliveries")" -ge "$1" ] && return 0
	pid_alive "$LOAD_PID" || return 2
	return 1
}

_has_child() { [ -n "$(children_of "$1")" ]; }
# workers_are N: the callhook parent $CALLHOOK_PID has N workers now (for wait_until).
workers_are() { [ "$(children_of "$CALLHOOK_PID" | wc -l)" -eq "$1" ]; }

# kill_workers_under_load PARENT: while the load ($LOAD_PID, $N requests) runs, SIGKILL one worker of the
# callhook parent PARENT each time another 3/20 of the load is stored (5 times at most), whatever the
# machine's speed; waits for the load to end. $KILLS is how many were killed.
kill_workers_under_load() {
	local i victim
	KILLS=0
	for i in 1 4 7 10 13; do
		wait_until 30 under_way $((N * i / 20)) || break
		pid_alive "$LOAD_PID" || break
		# (with one worker, the parent may not have restarted the last one killed yet: wait for it)
		wait_until 10 _has_child "$1" || break
		victim=$(children_of "$1" | head -n 1)
		# when root, the parent's pid is setpriv's exec'd callhook parent itself
		[ -n "$victim" ] && kill -KILL "$victim" 2>/dev/null && KILLS=$((KILLS + 1))
	done
	wait "$LOAD_PID"
}

# reset_db [TABLE...]: empty the deliveries, their dedup keys (callhook.delivery_keys: a key left behind would
# make its body's next post a duplicate of a delivery that is gone), every normalized table and the TABLEs
# (a test's own); ids restart.
reset_db() {
	local t extra=
	for t in "$@"; do extra+=", $t"; done
	sql "truncate callhook.deliveries, callhook.delivery_keys, callhook.calls, callhook.messages, callhook.trackers,
		callhook.usage, callhook.voicemails, callhook.form_submissions, callhook.transcript_segments,
		callhook.call_events$extra restart identity cascade" >/dev/null
}
