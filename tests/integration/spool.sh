#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2317  # ok takes code in single quotes; functions called through ok/wait_until
# The spool trusts nothing it reads. With PostgreSQL stopped, deliveries are spooled through nginx; some
# spool files are then tampered with (body_len larger than the file, body_len negative, a file cut short,
# random bytes, a required field removed, a source the config does not have). Each of those ends in
# <spool_dir>/quarantine/, unchanged, with a logged reason naming it; the valid files wait while the
# database is down and are stored exactly once when it returns (a CallScaler in-call hit among them);
# nothing else is left in the spool; a quarantined file fixed and moved back is stored; a file put back
# after its commit is a duplicate; the workers still answer. Prints TAP.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

JSON=(-H 'Content-Type: application/json')
BEARER=(-H "Authorization: Bearer $TOKEN")
BODY_LEN=245            # the length of every msg body below (three-digit ids)

setup_tmp
pg_start || bail_out "PostgreSQL did not start"
write_config
config_append "$REPO/tests/fixtures/callscaler/sources.conf"
callhook_migrate || bail_out "migrate failed"
callhook_start 2 || bail_out "callhook did not start"
nginx_start || bail_out "nginx did not start"
S=$T/spool
Q=$S/quarantine
mkdir -p "$T/orig" "$T/tampered"

# msg ID: a Call Tracker message.received body with the message id ID (three digits).
msg() {
	printf '{"type":"message.received","object":"message","data":{"id":%d,"direction":"incoming","from_number":"+18558871739","to_number":"+18556000724","body":"spool check %d","timestamp":"2019-03-09T07:30:00.942Z"},"timestamp":"2019-03-09T07:30:01.084"}' "$1" "$1"
}
requests() { find "$S" -maxdepth 1 -name '*.req' -printf '%f\n' | sort; }
no_requests() { [ -z "$(requests)" ]; }

# spooled KEY: after a request answered "spooled", the spool file it made (the newest) is NAME[KEY], and a
# copy of it is kept in $T/orig/KEY.
declare -A NAME
spooled() {
	if [ "$1" = in_call ]; then    # the caller is on the line: the routing answer, empty
		is "$HTTP_STATUS $RESP_BODY" "200 {}" "$1: answered 200 {} (spooled) while PostgreSQL is down"
	else
		is "$HTTP_STATUS $(resp_field status)" "200 spooled" "$1: answered 200 spooled while PostgreSQL is down"
	fi
	NAME[$1]=$(requests | tail -n 1)
	cp "$S/${NAME[$1]}" "$T/orig/$1"
}

# put KEY FILE: replace the spool file of KEY by FILE in one rename, as the callhook user would own it.
put() {
	cp "$2" "$S/.put.tmp"
	chmod 0600 "$S/.put.tmp"
	own "$S/.put.tmp"
	mv -f "$S/.put.tmp" "$S/${NAME[$1]}"
}

# tamper KEY SED-EXPRESSION: rewrite KEY's metadata line (line 2) with sed; the copy is $T/tampered/KEY.
tamper() {
	sed "2$2" "$T/orig/$1" >"$T/tampered/$1"
	put "$1" "$T/tampered/$1"
}

pg_stop
for id in 901 902 903 904 905 906 907 908; do
	post POST /hooks/ct "${JSON[@]}" "${BEARER[@]}" --data-binary "$(msg "$id")"
	spooled "$id"
done
post POST "/hooks/acme-cs/in_call?token=cs-token" -H 'Content-Type: application/x-www-form-urlencoded' \
	--data-raw 'From=+13055551212&To=%2B18005551234&CallSid=CA901'
spooled in_call
is "$(requests | wc -l)" 9 "nine files wait in the spool"
is "$(msg 901 | wc -c)" "$BODY_LEN" "each message body is $BODY_LEN bytes"

tamper 901 "s/\"body_len\":$BODY_LEN}/\"body_len\":1245}/"     # (a) body_len larger than the file
tamper 902 "s/\"body_len\":$BODY_LEN}/\"body_len\":-5}/"       # (b) body_len negative
head -c 60 "$T/orig/903" >"$T/tampered/903"                    # (c) cut inside the metadata line
put 903 "$T/tampered/903"
head -c 512 /dev/urandom >"$T/tampered/904"                    # (d) random bytes, no magic line
put 904 "$T/tampered/904"
tamper 905 's/"method":"POST",//'                             # (e) a required field missing
tamper 906 's/"source":"ct"/"source":"gone"/'                 # a source the config does not have
ok "! cmp -s '$T/orig/901' '$T/tampered/901' && ! cmp -s '$T/orig/905' '$T/tampered/905' && ! cmp -s '$T/orig/906' '$T/tampered/906'" \
	"the sed edits changed the files they were meant to change"

declare -A WHY=(
	[901]="metadata: field \"body_len\": 1245 but $BODY_LEN bytes follow the metadata"
	[902]='metadata: field "body_len": negative (-5)'
	[903]='metadata: the file ends inside the metadata line'
	[904]='not a spool file: it does not start with "callhook-spool 1"'
	[905]='metadata: field "method" missing'
	[906]='unknown source: gone'
)
quarantined() { [ "$(find "$Q" -maxdepth 1 -type f 2>/dev/null | wc -l)" -ge 6 ]; }
wait_until 15 quarantined || diag "quarantine holds: $(ls -A "$Q" 2>&1)"
# The parent drains every second: the tampered files are found before the database is needed.
is "$(requests | tr '\n' ' ')" "${NAME[907]} ${NAME[908]} ${NAME[in_call]} " \
	"database down: the valid files stay in the spool (the tampered ones are moved out without it)"
is "$(stat -c %a "$Q")" 700 "the quarantine folder is made 0700"

pg_start || bail_out "PostgreSQL starts again"
wait_until 20 no_requests || diag "spool still holds: $(requests)"
ok no_requests "the spool is drained once PostgreSQL is back"

# logged KEY: the log has KEY's quarantine line, with quotes escaped as callhook escapes them in logs.
logged() {
	grep -qF -- "spool file quarantined: $Q/${NAME[$1]}: ${WHY[$1]//\"/\\x22}" "$T/callhook.log"
}
for k in 901 902 903 904 905 906; do
	ok "cmp -s '$T/tampered/$k' '$Q/${NAME[$k]}'" "$k: in quarantine under its own name, unchanged"
	ok "logged $k" "$k: logged with its path and the reason: ${WHY[$k]}"
done
is "$(ls -A "$Q" | sort | tr '\n' ' ')" "$(printf '%s\n' "${NAME[901]}" "${NAME[902]}" "${NAME[903]}" \
	"${NAME[904]}" "${NAME[905]}" "${NAME[906]}" | sort | tr '\n' ' ')" "the quarantine holds exactly the six tampered files"
is "$(ls -A "$S" | tr '\n' ' ')" ".lock quarantine " "the spool holds nothing else: its lock and the quarantine"

is "$(sql "select string_agg(source || ':' || outcome, ',' order by id) from deliveries")" \
	"ct:stored,ct:stored,acme-cs:stored" "the three valid files are stored, once each"
is "$(sql "select string_agg(external_id, ',' order by external_id) from messages")" "907,908" \
	"the messages of the valid files, and none of the tampered ones"
is "$(sql "select status, caller_number from calls where source = 'acme-cs' and external_id = 'CA901'")" \
	"in_progress|+13055551212" "the spooled in-call hit is stored"
unlike "$(cat "$T/callhook.log")" 'spool check 90|s3cret|terminated by signal' \
	"the log holds no body, no token, and no process died"

# The README's fix: restore a quarantined file and move it back.
cp "$T/orig/901" "$Q/${NAME[901]}"
mv "$Q/${NAME[901]}" "$S/${NAME[901]}"
wait_until 10 no_requests || true
is "$(sql "select string_agg(external_id, ',' order by external_id) from messages")" "901,907,908" \
	"a quarantined file fixed and moved back is stored"

# A file that comes back after its commit (a crash between the commit and the unlink) is a duplicate.
NAME[again]=${NAME[907]}
put again "$T/orig/907"
wait_until 10 no_requests || true
ok no_requests "a file replayed a second time is removed"
is "$(sql "select count(*) from deliveries")|$(ls -A "$Q" | wc -l)" "4|5" \
	"a file replayed a second time is a duplicate: nothing stored, nothing quarantined"

pids=$(children_of "$CALLHOOK_PID" | wc -l)
ok "pid_alive '$CALLHOOK_PID'" "the serve parent is alive"
is "$pids" 2 "both workers are alive"
post POST /hooks/ct "${JSON[@]}" "${BEARER[@]}" --data-binary "$(msg 910)"
is "$HTTP_STATUS $(resp_field status)" "200 stored" "the workers still answer: a new delivery is stored"
is "$(sql "select count(*) from messages where external_id = '910'")" 1 "its row is there"

done_testing
