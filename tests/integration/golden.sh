#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2119  # ok takes code in single quotes; write_config takes optional arguments
# Golden tests: post each vendor fixture through nginx to callhook and compare the rows with what the fixture
# says (written from the vendor's page and the README's contract before anything ran). Usage: golden.sh [VENDOR...]
# (default: every directory under tests/fixtures). Prints TAP, one line per check, named <vendor>/<case>.
#
# Fixture format, in tests/fixtures/<vendor>/:
#   <case>.body     the raw request body (bytes as sent; no trailing newline unless the case wants one)
#   <case>.meta     key=value lines ('#' comments): method (POST), path (/hooks/<source>[/<event>]),
#                   query (without '?'), content_type (default application/json; an empty value sends no
#                   Content-Type), header (repeatable, "Name: value"), status (expected HTTP status),
#                   result (for 2xx the expected JSON "status"; otherwise a case-insensitive substring of
#                   the JSON "error"), repeat (post N times: the later answers must be "duplicate" with the
#                   same "delivery" id)
#                   body (the exact expected response body, compared byte for byte)
#   <case>.expect   blocks of "-- query [label]", SQL (one statement, may span lines), "-- expect", then the
#                   expected `psql -At` output lines (columns joined by '|', NULL prints as nothing).
#                   Lines before the first "-- query" are comments. Queries run as the superuser with
#                   search_path callhook and TimeZone UTC.
#   Multi-step cases: <case>.1.body, <case>.2.body, … posted in order with <case>.meta, each optionally
#   overridden by <case>.N.meta (a header line there replaces all inherited headers) and checked after its
#   step by <case>.N.expect; <case>.expect is checked at the end.
#   <vendor>/sources.conf, if present, is appended to the config ([source …] sections the cases post to);
#   the Call Tracker sources "ct" (token s3cret-token) and "ct-open" are always there (tests/lib.sh).
# Before each case the data tables (deliveries and the normalized tables) are emptied and their ids restarted;
# what migrate wrote stays, so ingest() checks every column a decoder emits, as in production.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

FIX=$REPO/tests/fixtures
vendors=("$@")
if [ ${#vendors[@]} -eq 0 ]; then
	# every directory named after a vendor (others, such as reports/, hold data for other tests)
	for d in "$FIX"/*/; do
		case $(basename "$d") in
		callrail | calltracker | salpre | callscaler | fonedynamics) vendors+=("$(basename "$d")") ;;
		esac
	done
fi
[ ${#vendors[@]} -gt 0 ] || bail_out "fixtures found under $FIX"

setup_tmp
prepare_callhook
pg_start || bail_out "PostgreSQL starts"
write_config
for v in "${vendors[@]}"; do
	[ -d "$FIX/$v" ] || bail_out "fixture directory $FIX/$v exists"
	[ ! -f "$FIX/$v/sources.conf" ] || config_append "$FIX/$v/sources.conf"
done
callhook_migrate || bail_out "callhook migrate succeeds"
check_out=$(callhook_run -c "$T/callhook.conf" check 2>&1) && rc=0 || rc=$?
is "$rc" 0 "callhook check accepts the golden test config"
[ "$rc" = 0 ] || diag "$check_out"
callhook_start 2 || bail_out "callhook serve starts"
nginx_start || bail_out "nginx starts"

# reset_data: empty the tables that hold what deliveries brought (deliveries and every table with a
# "source" column: the normalized ones), restarting their ids. What migrate wrote stays: the migrations
# bookkeeping and callhook._row_columns, the columns ingest() accepts (emptied, it would accept any).
reset_data() {
	local tables
	tables=$(sql_strict "select string_agg(format('%I.%I', c.table_schema, c.table_name), ', ')
		from information_schema.columns as c
		join information_schema.tables as t using (table_schema, table_name)
		where c.table_schema = 'callhook' and c.column_name = 'source' and t.table_type = 'BASE TABLE'")
	[ -n "$tables" ] || bail_out "schema callhook has tables with a source column"
	sql_strict "truncate $tables restart identity" >/dev/null
}

# sql_error QUERY: the first line psql prints for QUERY with VERBOSITY verbose: "ERROR:  SQLSTATE: message"
# when it fails (empty when it succeeds).
sql_error() {
	PGOPTIONS='-c search_path=callhook,public -c timezone=UTC -c client_min_messages=warning' \
		psql -X -q -At -v VERBOSITY=verbose -h "$T/pg" -U postgres -d callhook -c "$1" 2>&1 >/dev/null |
		head -n 1
}

# load_meta FILE [inherit]: read a .meta file into M_* variables (inherit: keep values not mentioned).
load_meta() {
	local line key value headers_reset=0
	if [ "${2:-}" != inherit ]; then
		M_method=POST M_path='' M_query='' M_ct=application/json M_status='' M_result='' M_repeat=1
		M_body='' M_body_set=0
		M_headers=()
	fi
	[ -f "$1" ] || return 0
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%$'\r'}
		case $line in '' | '#'*) continue ;; esac
		key=${line%%=*}
		value=${line#*=}
		case $key in
		method) M_method=$value ;;
		path) M_path=$value ;;
		query) M_query=$value ;;
		content_type) M_ct=$value ;;
		status) M_status=$value ;;
		result) M_result=$value ;;
		repeat) M_repeat=$value ;;
		body) M_body=$value M_body_set=1 ;;
		header)
			if [ "$headers_reset" = 0 ]; then
				M_headers=()
				headers_reset=1
			fi
			M_headers+=("$value")
			;;
		*) bail_out "$1: unknown key '$key'" ;;
		esac
	done <"$1"
}

# run_expect FILE LABEL: run each query block of FILE and compare its output.
run_expect() {
	local file=$1 label=$2 line mode='' qlabel='' query='' want='' n=0
	[ -f "$file" ] || return 0
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in
		'-- query' | '-- query '*)
			[ "$mode" != expect ] || _expect_block
			mode=query query='' want=''
			qlabel=${line#-- query}
			qlabel=${qlabel# }
			;;
		'-- expect')
			mode=expect
			;;
		*)
			case $mode in
			query) query+="$line"$'\n' ;;
			expect) want+="$line"$'\n' ;;
			esac
			;;
		esac
	done <"$file"
	[ "$mode" != expect ] || _expect_block
	[ "$n" -gt 0 ] || bail_out "$file has no '-- query' / '-- expect' block"
}
_expect_block() { # uses run_expect's locals
	local got
	n=$((n + 1))
	got=$(sql "$query")
	want=$(printf '%s' "$want")
	is "$got" "$want" "$label: ${qlabel:-query $n}"
	[ "$got" = "$want" ] || diag "  query: $query"
}

# post_step CASE_LABEL BODY_FILE: post once per M_repeat and check status, result and delivery ids.
post_step() {
	local label=$1 body=$2 i url args=() first_id='' id st h
	url=$M_path${M_query:+?$M_query}
	[ -z "$body" ] || args+=(--data-binary "@$body")
	if [ -n "$M_ct" ]; then args+=(-H "Content-Type: $M_ct"); else args+=(-H 'Content-Type:'); fi
	for h in ${M_headers[@]+"${M_headers[@]}"}; do args+=(-H "$h"); done
	for ((i = 1; i <= M_repeat; i++)); do
		post "$M_method" "$url" "${args[@]}"
		local what=$label
		[ "$M_repeat" -eq 1 ] || what="$label (post $i of $M_repeat)"
		[ -z "$M_status" ] || is "$HTTP_STATUS" "$M_status" "$what: HTTP status"
		[ "$M_body_set" = 0 ] || is "$RESP_BODY" "$M_body" "$what: body is exactly $M_body"
		[ -n "$M_result" ] || continue
		if [[ $M_status == 2* ]]; then
			st=$M_result
			[ "$i" -eq 1 ] || st=duplicate
			is "$(resp_field status)" "$st" "$what: \"status\":\"$st\""
			[ "$(resp_field status)" = "$st" ] || diag "  body: $RESP_BODY"
			if [ "$st" = stored ] || [ "$st" = duplicate ]; then
				id=$(resp_field delivery)
				if [ "$i" -eq 1 ]; then
					first_id=$id
					like "$id" '^[0-9]+$' "$what: \"delivery\" is an id"
				else
					is "$id" "$first_id" "$what: same \"delivery\" id as the first post"
				fi
			fi
		else
			local err
			err=$(resp_field error)
			ok 'grep -qiF -- "$M_result" <<<"$err"' "$what: \"error\" mentions '$M_result'"
			grep -qiF -- "$M_result" <<<"$err" || diag "  body: $RESP_BODY"
		fi
	done
}

# run_case VENDOR CASE
run_case() {
	local case=$2 dir=$FIX/$1 name="$1/$2" steps=() n step_label failed_before=$TAP_FAILED
	local log_lines
	log_lines=$(wc -l <"$T/callhook.log")
	reset_data
	load_meta "$dir/$case.meta"
	[ -n "$M_path" ] || bail_out "$dir/$case.meta has a path"
	if [ -f "$dir/$case.body" ]; then
		post_step "$name" "$dir/$case.body"
	else
		mapfile -t steps < <(find "$dir" -maxdepth 1 \( -name "$case.[0-9]*.body" -o -name "$case.[0-9]*.meta" \) \
			-printf '%f\n' | sed -n "s/^$case\.\([0-9][0-9]*\)\.\(body\|meta\)\$/\1/p" | sort -n -u)
		if [ ${#steps[@]} -eq 0 ]; then
			post_step "$name" ""
		fi
		for n in ${steps[@]+"${steps[@]}"}; do
			load_meta "$dir/$case.meta"
			load_meta "$dir/$case.$n.meta" inherit
			step_label="$name step $n"
			if [ -f "$dir/$case.$n.body" ]; then
				post_step "$step_label" "$dir/$case.$n.body"
			else
				post_step "$step_label" ""
			fi
			run_expect "$dir/$case.$n.expect" "$step_label"
		done
	fi
	run_expect "$dir/$case.expect" "$name"
	sql "select vendor || '|' || coalesce(status, '') from calls" >>"$T/statuses"
	if [ "$TAP_FAILED" -gt "$failed_before" ]; then
		FAILED_CASES+=("$name")
		diag "callhook log during $name:" "$(tail -n +"$((log_lines + 1))" "$T/callhook.log" | head -n 20)"
	fi
}

FAILED_CASES=()
ncases=0
for v in "${vendors[@]}"; do
	mapfile -t cases < <(find "$FIX/$v" -maxdepth 1 -name '*.meta' ! -name '*.[0-9]*.meta' -printf '%f\n' |
		sed 's/\.meta$//' | sort)
	[ ${#cases[@]} -gt 0 ] || bail_out "$FIX/$v has cases"
	for c in "${cases[@]}"; do
		run_case "$v" "$c"
		ncases=$((ncases + 1))
	done
done

# After the resets, ingest() still knows the accepted columns: a decoder's misspelled column fails, as it
# would in production (22023, a 500), instead of passing unnoticed. calls has 45 columns a row may set (54 in
# sql/001_schema.sql less the 9 every normalized table has).
reset_data
is "$(sql "select count(*) from _row_columns")" 8 "after the resets, _row_columns still lists the 8 normalized tables"
is "$(sql "select count(*) from _row_columns, jsonb_object_keys(cols) where tbl = 'calls'")|$(sql "select count(*) - 9
	from pg_attribute where attrelid = 'callhook.calls'::regclass and attnum > 0 and not attisdropped")" "45|45" \
	"after the resets, _row_columns still holds the 45 columns of calls a row may set, as the schema has them"
is "$(sql_error "select * from callhook.ingest('ct', 'calltracker', 'call_completed', 'POST', 'application/json',
	'', '{}', 'x', 'golden-misspelled', 'stored', null,
	'[{\"table\": \"calls\", \"external_id\": \"C1\", \"cols\": {\"status\": \"completed\", \"caller_numbr\": \"+15555550100\"}}]',
	'2026-01-01T00:00:00Z')")" \
	'ERROR:  22023: callhook.ingest: row 1: "caller_numbr" is not a column callhook.calls accepts' \
	"after the resets, a row naming a misspelled column fails with 22023 naming the column"
is "$(sql "select count(*) from deliveries")|$(sql "select count(*) from calls")" "0|0" \
	"the failed ingest() stored neither the delivery nor the call"

if [ ${#FAILED_CASES[@]} -gt 0 ]; then
	diag "${#FAILED_CASES[@]} of $ncases cases failed: ${FAILED_CASES[*]}"
else
	diag "all $ncases cases passed"
fi
# Over every fixture, calls.status holds only the README's status vocabulary (or nothing yet).
diag "calls by vendor and status over all fixtures:" "$(sort "$T/statuses" | uniq -c)"
is "$(cut -d'|' -f2 "$T/statuses" | grep -cvE '^(initiated|ringing|in_progress|completed|missed|voicemail|busy|failed|)$')" 0 \
	"over all fixtures, calls.status uses only the contract's vocabulary"
callhook_stop && rc=0 || rc=$?
is "$rc" 0 "callhook exits 0 on SIGTERM"
done_testing
