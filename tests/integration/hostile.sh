#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2317  # ok takes code in single quotes; functions called through ok
# Hostile input through a real nginx: malformed and oversized bodies, nesting bombs, lying Content-Length,
# invalid UTF-8, NUL bytes, huge integers, wrong content types and methods, odd paths, header injection,
# SQL-looking strings, non-object and duplicate-key JSON. Each bad request gets the status and JSON error of
# the README's table ("What callhook answers") (400 after auth keeps the raw delivery as rejected, byte for byte), and a good request
# after it is still stored. At the end no worker has died. Raw HTTP goes through nc (netcat-openbsd).
# Prints TAP and "# bad-input cases: N".
set -euo pipefail
shopt -s lastpipe # `… | raw_http` sets raw_http's variables in this shell
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

# psql straight from PG_BIN: Debian's perl wrapper costs ~0.1 s a call, and this test makes hundreds
[ ! -x "$PG_BIN/psql" ] || PATH=$PG_BIN:$PATH

JSON=(-H 'Content-Type: application/json')
CASES=0
GOOD_ID=900000

setup_tmp
prepare_callhook
command -v nc >/dev/null 2>&1 || bail_out "nc is installed (apt-get install netcat-openbsd)"
pg_start || bail_out "PostgreSQL starts"
write_config max_body=64k
callhook_migrate || bail_out "callhook migrate succeeds"
callhook_start 2 || bail_out "callhook serve starts"
nginx_start || bail_out "nginx starts"

# --- helpers ------------------------------------------------------------------------------------------

count() { sql "select count(*) from deliveries${1:+ where $1}"; }
reqs() { grep -c 'request: ' "$T/callhook.log" || true; } # requests callhook has answered
sha() { sha256sum "$1" | cut -d' ' -f1; }

# mk NAME TEXT: write TEXT (no newline added) to $T/NAME; prints the path.
mk() {
	printf '%s' "$2" >"$T/$1"
	printf '%s' "$T/$1"
}

# call_body ID [MEMBERS]: a Call Tracker call.received with data.id ID and more data members.
call_body() {
	printf '{"type":"call.received","object":"call","data":{"id":%s,"caller_number":"+18558871739",' "$1"
	printf '"status":"ringing","timestamp":"2019-03-09T09:09:51Z"%s},"timestamp":"2019-03-09T09:09:52.010"}' \
		"${2:+,$2}"
}

# bad LABEL: count one hostile request; remembers the deliveries and requests so far.
bad() {
	CASES=$((CASES + 1))
	BEFORE=$(count)
	REQS_BEFORE=$(reqs)
}

# send FILE [CURL ARGS...]: POST FILE as JSON to /hooks/ct with the right token.
send() {
	local f=$1
	shift
	post POST "/hooks/ct?token=$TOKEN" "${JSON[@]}" "$@" --data-binary "@$f"
}

# alive LABEL: a good request (a new call) is answered 200 stored and its row exists.
alive() {
	GOOD_ID=$((GOOD_ID + 1))
	call_body "$GOOD_ID" >"$T/good.json"
	send "$T/good.json"
	is "$HTTP_STATUS:$(resp_field status):$(sql "select count(*) from calls where source = 'ct' and external_id = '$GOOD_ID'")" \
		"200:stored:1" "$1: then a good request is stored (callhook keeps serving)"
}

# rejected LABEL ERROR FILE: 400, the "error" exactly ERROR (as sent, JSON escapes kept), the delivery kept as
# rejected with FILE's bytes; alive. Byte offsets in ERROR count from 0.
rejected() {
	local d
	is "$HTTP_STATUS" 400 "$1: 400"
	is "$(resp_field error)" "$2" "$1: the error says what is wrong"
	d=$(resp_field delivery)
	[[ $d =~ ^[0-9]+$ ]] || d=0
	is "$(sql "select outcome, encode(body_sha256, 'hex') = '$(sha "$3")' from deliveries where id = $d")" \
		"rejected|t" "$1: the raw delivery is kept as rejected, byte for byte"
	alive "$1"
}

# refused LABEL STATUS: answered STATUS, nothing stored; alive.
refused() {
	is "$HTTP_STATUS" "$2" "$1: $2"
	is "$(count)" "$BEFORE" "$1: nothing stored"
	alive "$1"
}

# by_nginx LABEL STATUSES: the raw exchange got STATUSES (space-separated), callhook saw no request and
# nothing was stored; alive.
by_nginx() {
	is "$RAW_STATUSES" "$2" "$1: nginx answers $2 itself"
	is "$(reqs)" "$REQS_BEFORE" "$1: callhook never sees it"
	is "$(count)" "$BEFORE" "$1: nothing stored"
	alive "$1"
}

# raw_http [SECONDS [half-close]] < BYTES: send BYTES on one connection to nginx and keep the answer:
# $RAW_OUT (CRs removed), $RAW_STATUSES (the status codes in order), $RAW_DELIVERY (the first "delivery").
# The connection stays open for nginx to close (Connection: close) unless half-close is given: nginx takes a
# half-closed connection for an aborted request. Bounded by nc -w SECONDS (default 5) and timeout.
raw_http() {
	local secs=${1:-5} half=()
	[ "${2:-}" != half-close ] || half=(-N)
	timeout $((secs + 5)) nc "${half[@]}" -w "$secs" 127.0.0.1 "$NGINX_PORT" >"$T/raw.out" 2>/dev/null || true
	RAW_OUT=$(tr -d '\r' <"$T/raw.out")
	RAW_STATUSES=$(grep -aoE '^HTTP/1\.[01] [0-9]{3}' <<<"$RAW_OUT" | cut -d' ' -f2 | paste -sd' ') || true
	RAW_DELIVERY=$(grep -aoE '"delivery":[0-9]+' <<<"$RAW_OUT" | head -n 1 | cut -d: -f2) || true
	[[ $RAW_DELIVERY =~ ^[0-9]+$ ]] || RAW_DELIVERY=0
}

# request_head METHOD TARGET [EXTRA HEADER LINES, each ending in \r\n]: an HTTP/1.1 request head.
request_head() {
	printf '%s %s HTTP/1.1\r\nHost: localhost\r\n%sConnection: close\r\n\r\n' "$1" "$2" "${3:-}"
}

WORKERS_START=$(children_of "$CALLHOOK_PID" | sort | paste -sd' ')

# --- 1. invalid JSON ----------------------------------------------------------------------------------
f=$(mk trunc.json '{"type":"call.received","object":"call","data":{"id":1001,"caller_name":"Al')
bad; send "$f"; rejected "truncated JSON" 'body: invalid JSON at byte 75: unexpected end of data' "$f"
f=$(mk trailing.json "$(call_body 1002)garbage")
bad; send "$f"; rejected "JSON with trailing garbage" 'body: invalid JSON at byte 182: unexpected character' "$f"
f=$(mk two.json "$(call_body 1003)$(call_body 1003)")
bad; send "$f"; rejected "two JSON documents in one body" 'body: invalid JSON at byte 182: unexpected character' "$f"
f=$(mk squote.json "{'type':'call.received','data':{'id':1004}}")
bad; send "$f"; rejected "single-quoted JSON" 'body: invalid JSON at byte 8: unexpected character' "$f"
f=$(mk comment.json '{"type":"call.received",/* c */"data":{"id":1005}}')
bad; send "$f"; rejected "JSON with a comment" 'body: invalid JSON at byte 24: quoted object property name expected' "$f"
f=$(mk nan.json "$(call_body 1006 '"call_duration":NaN')")
bad; send "$f"; rejected "NaN as call_duration" 'field \"data.call_duration\": not a finite number' "$f"
for lit in NaN Infinity -Infinity; do
	f=$(mk "lit$lit.json" "$(call_body "10$((${#lit} + 60))" "\"extra\":$lit")")
	bad; send "$f"; rejected "$lit in an unmapped field" 'field \"data.extra\": not a finite number' "$f"
done
f=$(mk bare.json '1e400')
bad; send "$f"; rejected "a bare out-of-range number as the whole body" 'body: not a finite number' "$f"
f=$(mk tcomma.json '{"type":"call.received","data":{"id":1007},}')
bad; send "$f"; rejected "trailing comma" 'body: invalid JSON at byte 43: unexpected character' "$f"
# json-c accepts raw control characters inside strings (RFC 8259 wants them escaped): kept as sent
f=$(mk ctrl.json "$(call_body 1008 $'"caller_name":"line\none\ttab"')")
bad; send "$f"
is "$HTTP_STATUS:$(sql "select caller_name = e'line\\none\\ttab' from calls where external_id = '1008'")" "200:t" \
	"a raw newline and tab inside a string (json-c is lenient here): stored exactly as sent"
alive "raw newline inside a string"
f=$(mk nulbyte.json "$(call_body 1009)")
printf '\0' >>"$f"
bad; send "$f"; rejected "a NUL byte after the document" 'body: invalid JSON: unexpected data at byte 182' "$f"
f=$(mk nulinside.json '{"type":"call.received","data":{"id":1010,"caller_name":"a')
printf '\0b"}}' >>"$f"
bad; send "$f"; rejected "a raw NUL byte inside a string" 'body: invalid JSON at byte 59: unexpected end of data' "$f"

# --- 2. nesting bombs ---------------------------------------------------------------------------------
head -c 60000 /dev/zero | tr '\0' '[' >"$T/bomb60k.json"
bad; send "$T/bomb60k.json"; rejected "nesting bomb: 60,000 '['" 'body: invalid JSON at byte 32: nesting too deep' "$T/bomb60k.json"
for _ in $(seq 10000); do printf '{"a":'; done >"$T/bombobj.json"
bad; send "$T/bombobj.json"; rejected "nesting bomb: 10,000 '{\"a\":'" 'body: invalid JSON at byte 160: nesting too deep' "$T/bombobj.json"
deep=$(printf '%0.s[' $(seq 40))1$(printf '%0.s]' $(seq 40))
f=$(mk deep40.json "$(call_body 1011 "\"extra\":$deep")")
bad; send "$f"; rejected "a closed nesting 42 deep (limit 32)" 'body: invalid JSON at byte 181: nesting too deep' "$f"
deep=$(printf '%0.s[' $(seq 20))1$(printf '%0.s]' $(seq 20))
f=$(mk deep20.json "$(call_body 1012 "\"extra\":$deep")")
send "$f"
is "$HTTP_STATUS:$(resp_field status)" "200:stored" "a nesting 22 deep (under the limit) is stored"

# --- 3. bodies over max_body (64k here; nginx allows 1m) ---------------------------------------------
base=$(call_body 1013 '"pad":""' | wc -c)
{
	call_body 1013 "\"pad\":\"$(head -c $((65536 - base)) /dev/zero | tr '\0' x)\""
} >"$T/exact.json"
is "$(wc -c <"$T/exact.json")" 65536 "the boundary body is exactly 64k"
send "$T/exact.json"
is "$HTTP_STATUS:$(resp_field status)" "200:stored" "a body of exactly max_body is stored"
printf ' ' >>"$T/exact.json"
bad; send "$T/exact.json"; refused "a body of max_body + 1" 413
like "$(resp_header Content-Type)" 'application/json' "max_body + 1: the 413 is callhook's (JSON), not nginx's"

{
	printf '{"type":"call.received","data":{"id":1014,"pad":"'
	head -c 102400 /dev/zero | tr '\0' y
	printf '"}}'
} >"$T/big.json"
call_body 1018 >"$T/chunked.json"
send "$T/chunked.json" -H 'Transfer-Encoding: chunked'
is "$HTTP_STATUS:$(resp_field status)" "200:stored" "a small body sent chunked is stored (nginx passes its length)"
bad; send "$T/big.json" -H 'Transfer-Encoding: chunked'; refused "100 KB sent chunked (no Content-Length from the client)" 413
bad
{
	request_head POST "/hooks/ct?token=$TOKEN" $'Content-Type: application/json\r\nContent-Length: '"$(wc -c <"$T/big.json")"$'\r\n'
	for i in $(seq 0 10); do
		dd if="$T/big.json" bs=10240 skip="$i" count=1 status=none
		sleep 0.05
	done
} | raw_http 10
is "$RAW_STATUSES" 413 "a slow client streaming 100 KB with Content-Length: 413"
like "$RAW_OUT" '^Content-Type: application/json' "slow client: the 413 is callhook's (JSON), decided on CONTENT_LENGTH"
is "$(reqs)" "$((REQS_BEFORE + 1))" "slow client: callhook answered it"
is "$(count)" "$BEFORE" "slow client: nothing stored"
alive "slow client"

bad
request_head POST "/hooks/ct?token=$TOKEN" $'Content-Type: application/json\r\nContent-Length: 2000000\r\n' | raw_http 5 half-close
by_nginx "Content-Length: 2000000 (over nginx's 1m)" 413

# --- 4. Content-Length that lies ------------------------------------------------------------------------
call_body 1015 '"caller_name":"Longer"' >"$T/lie.json"
bad
{ request_head POST "/hooks/ct?token=$TOKEN" $'Content-Type: application/json\r\nContent-Length: 1000\r\n'; cat "$T/lie.json"; } |
	raw_http 5 half-close
ok '[[ " 400 408 " == *" ${RAW_STATUSES:-none} "* || -z $RAW_STATUSES ]]' \
	"Content-Length larger than the body, then half-close: nginx answers 400/408 or closes (got '${RAW_STATUSES}')"
is "$(reqs)" "$REQS_BEFORE" "Content-Length too large: callhook never sees it"
is "$(count)" "$BEFORE" "Content-Length too large: nothing stored"
is "$(sql "select count(*) from calls where external_id = '1015'")" 0 "Content-Length too large: no call row"
alive "Content-Length too large"

call_body 1016 '"caller_name":"Smuggled"' >"$T/lie2.json"
head -c 40 "$T/lie2.json" >"$T/lie2.head"
bad
{ request_head POST "/hooks/ct?token=$TOKEN" $'Content-Type: application/json\r\nContent-Length: 40\r\n' |
	sed 's/^Connection: close\r$/Connection: keep-alive\r/'; cat "$T/lie2.json"; } | raw_http
is "$RAW_STATUSES" "400 400" "Content-Length smaller than the body: callhook's 400 for the 40 bytes, nginx's 400 for the rest"
like "$RAW_OUT" "^\\{\"error\":\"body: invalid JSON at byte 40: unexpected end of data\",\"delivery\":$RAW_DELIVERY\\}\$" \
	"Content-Length too small: callhook saw only the declared bytes (invalid JSON)"
is "$(sql "select outcome, encode(body_sha256, 'hex') = '$(sha "$T/lie2.head")' from deliveries where id = $RAW_DELIVERY")" \
	"rejected|t" "Content-Length too small: the 40 declared bytes are kept as rejected"
is "$(($(count) - BEFORE))" 1 "Content-Length too small: nothing else stored"
is "$(sql "select count(*) from calls where external_id = '1016'")" 0 "Content-Length too small: no call row"
alive "Content-Length too small"

call_body 1017 >"$T/lie3.json"
printf 'POST /hooks/nope?token=%s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' \
	"$TOKEN" >"$T/smuggled.req"
bad
{
	request_head POST "/hooks/ct?token=$TOKEN" $'Content-Type: application/json\r\nContent-Length: '"$(wc -c <"$T/lie3.json")"$'\r\n' |
		sed 's/^Connection: close\r$/Connection: keep-alive\r/'
	cat "$T/lie3.json" "$T/smuggled.req"
} | raw_http
is "$RAW_STATUSES" "200 404" "a second request after the declared body is answered on its own (pipelining: 200, then 404)"
is "$(($(count) - BEFORE))" 1 "pipelined request to an unknown source: only the first delivery stored"

bad
request_head POST "/hooks/ct?token=$TOKEN" $'Content-Type: application/json\r\nContent-Length: 12x\r\n' | raw_http
by_nginx "Content-Length: 12x" 400
bad
request_head POST "/hooks/ct?token=$TOKEN" $'Content-Type: application/json\r\nContent-Length: -1\r\n' | raw_http
by_nginx "Content-Length: -1" 400
bad
{ request_head POST "/hooks/ct?token=$TOKEN" $'Content-Type: application/json\r\nContent-Length: 5\r\nContent-Length: 500\r\n'; printf '12345'; } |
	raw_http
by_nginx "two Content-Length headers" 400
bad
{ request_head POST "/hooks/ct?token=$TOKEN" $'Content-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n'; printf '0\r\n\r\n'; } |
	raw_http
by_nginx "Content-Length with Transfer-Encoding: chunked" 400

# --- 5. invalid UTF-8 inside JSON strings ---------------------------------------------------------------
utf8_case() { # LABEL ID BYTES ERROR
	local f
	f=$(mk "utf8-$2.json" "$(call_body "$2" "\"caller_name\":\"a$3b\"")")
	bad
	send "$f"
	rejected "invalid UTF-8 ($1)" "$4" "$f"
}
utf8_case "byte ff" 1101 $'\xff' 'body: invalid JSON at byte 159: invalid utf-8 string'
utf8_case "truncated sequence" 1102 $'\xe2\x82' 'body: invalid JSON at byte 161: invalid utf-8 string'
utf8_case "overlong slash" 1103 $'\xc0\xaf' 'field \"data.caller_name\": is not valid UTF-8'
utf8_case "UTF-16 surrogate encoded" 1104 $'\xed\xa0\x80' 'field \"data.caller_name\": is not valid UTF-8'
utf8_case "beyond U+10FFFF" 1105 $'\xf4\x90\x80\x80' 'field \"data.caller_name\": is not valid UTF-8'
utf8_case "lone continuation byte" 1106 $'\x80' 'body: invalid JSON at byte 159: invalid utf-8 string'
f=$(mk utf8key.json "$(call_body 1107 $'"k\xfe":1')")
bad; send "$f"; rejected "invalid UTF-8 in a key" 'body: invalid JSON at byte 145: invalid utf-8 string' "$f"
f=$(mk lonesur.json "$(call_body 1108 '"caller_name":"a\ud800b"')")
bad; send "$f"; rejected "a lone surrogate escape \\ud800" 'field \"data.caller_name\": contains an unpaired UTF-16 surrogate escape' "$f"
is "$(sql "select count(*) from calls where external_id = '1108'")" 0 "a lone surrogate escape: no call stored"
f=$(mk utf8ok.json "$(call_body 1109 '"caller_name":"Zoë Ünïcödé 日本 😀"')")
send "$f"
is "$HTTP_STATUS:$(sql "select caller_name from calls where external_id = '1109'")" "200:Zoë Ünïcödé 日本 😀" \
	"valid multi-byte UTF-8 is stored as sent"

# --- 6. NUL escapes -------------------------------------------------------------------------------------
f=$(mk nul1.json "$(call_body 1201 '"caller_name":"Jane\u0000Doe"')")
bad; send "$f"; rejected "\\u0000 in data.caller_name" 'field \"data.caller_name\": contains a NUL byte' "$f"
f=$(mk nul2.json "$(call_body 1202 '"pages_visited":["https://a.example/","x\u0000"]')")
bad; send "$f"; rejected "\\u0000 in an array element" 'field \"data.pages_visited[1]\": contains a NUL byte' "$f"
f=$(mk nul3.json "$(call_body 1203 '"webhook_meta":{"inner":{"deep":"\u0000"}}')")
bad; send "$f"; rejected "\\u0000 in a nested unmapped field" 'field \"data.webhook_meta.inner.deep\": contains a NUL byte' "$f"
f=$(mk nul4.json "$(call_body 1204 '"caller_name\u0000x":"Mallory"')")
bad; send "$f"; rejected "\\u0000 in a key" 'field \"data.caller_name\\u0000x\": member name contains a NUL byte' "$f"
is "$(sql "select count(*) from calls where external_id = '1204'")" 0 "a key with \\u0000 is not read as the key before it"

# --- 7. integers beyond 64 bits -----------------------------------------------------------------------
f=$(mk big1.json "$(call_body 1301 '"call_duration":99999999999999999999')")
bad; send "$f"; rejected "integer beyond 64 bits" 'field \"data.call_duration\": integer out of range' "$f"
f=$(mk big2.json "$(call_body 1302 '"call_duration":-99999999999999999999')")
bad; send "$f"; rejected "negative integer beyond 64 bits" 'field \"data.call_duration\": integer out of range' "$f"
f=$(mk big3.json "$(call_body 1303 '"extra":{"n":[1,18446744073709551616]}')")
bad; send "$f"; rejected "2^64 in an unmapped array" 'field \"data.extra.n[1]\": integer out of range' "$f"
f=$(mk big4.json '{"type":"call.received","data":{"id":99999999999999999999,"status":"ringing"}}')
bad; send "$f"; rejected "data.id beyond 64 bits" 'field \"data.id\": integer out of range' "$f"
f=$(mk big5.json "$(call_body 1305 '"call_duration":3000000000')")
bad; send "$f"; rejected "call_duration beyond the int column" 'field \"data.call_duration\": integer out of range' "$f"
f=$(mk big6.json "$(call_body 1306 '"call_duration":"99999999999999999999"')")
bad; send "$f"; rejected "integer beyond 64 bits as a string" 'field \"data.call_duration\": integer out of range' "$f"
f=$(mk big7.json "$(call_body 1307 '"extra":1e400')")
bad; send "$f"
like "$HTTP_STATUS" '^(200|400)$' "a number beyond double range (1e400): 200 or 400, never a server error"
[ "$HTTP_STATUS" != 400 ] || is "$(resp_field error)" 'field \"data.extra\": not a finite number' "1e400: the error names the field"
alive "1e400"

# --- 8. content types (nothing stored) ------------------------------------------------------------------
call_body 1401 >"$T/ct.json"
bad; post POST "/hooks/ct?token=$TOKEN" -H 'Content-Type:' --data-binary "@$T/ct.json"
refused "no Content-Type" 415
bad; post POST "/hooks/ct?token=$TOKEN" -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "@$T/ct.json"
refused "form content type to a JSON-only vendor" 415
bad; post POST "/hooks/ct?token=$TOKEN" -H 'Content-Type: multipart/form-data; boundary=x' --data-binary "@$T/ct.json"
refused "multipart/form-data" 415
bad; post POST "/hooks/ct?token=$TOKEN" -H 'Content-Type: application/jsonx' --data-binary "@$T/ct.json"
refused "application/jsonx" 415
bad; post POST "/hooks/ct?token=$TOKEN" -H "Content-Type: application/json$(printf '%0.sx' $(seq 200))" --data-binary "@$T/ct.json"
refused "application/json followed by 200 more letters" 415
bad; post POST "/hooks/ct?token=wrong" -H 'Content-Type: text/html' --data-binary "@$T/ct.json"
like "$HTTP_STATUS" '^(401|415)$' "wrong content type and wrong token: 401 or 415"
is "$(count)" "$BEFORE" "wrong content type and wrong token: nothing stored"
post POST "/hooks/ct?token=$TOKEN" -H 'Content-Type: Application/JSON; charset=utf-8' --data-binary "@$T/ct.json"
is "$HTTP_STATUS:$(resp_field status)" "200:stored" "Application/JSON; charset=utf-8 is JSON (case-insensitive, parameters ignored)"

# --- 9. methods (nothing stored) ------------------------------------------------------------------------
for m in PUT PATCH OPTIONS PROPFIND; do
	bad; post "$m" "/hooks/ct?token=$TOKEN" "${JSON[@]}" --data-binary "@$T/ct.json"
	is "$(resp_header Allow)" POST "$m: Allow: POST"
	refused "$m to a POST-only vendor" 405
done
bad; post HEAD "/hooks/ct?token=$TOKEN" --head
is "$(resp_header Allow)" POST "HEAD: Allow: POST"
refused "HEAD" 405
bad; post POST /hooks/-/health "${JSON[@]}" --data-binary "@$T/ct.json"
is "$(resp_header Allow)" GET "POST to health: Allow: GET"
refused "POST to /hooks/-/health" 405

# --- 10. unknown sources and odd paths --------------------------------------------------------------------
call_body 1501 >"$T/path.json"
path_case() { # PATH STATUS LABEL
	bad
	post POST "$1" "${JSON[@]}" --path-as-is --data-binary "@$T/path.json"
	refused "$3" "$2"
}
path_case "/hooks/../x?token=$TOKEN" 404 "/hooks/../x (nginx resolves it outside /hooks/)"
path_case "/hooks/%2e%2e/x?token=$TOKEN" 404 "/hooks/%2e%2e/x"
path_case "/hooks/%2e%2e/hooks/nope?token=$TOKEN" 404 "/hooks/%2e%2e/hooks/nope"
path_case "/hooks//?token=$TOKEN" 404 "/hooks// (no source)"
path_case "/hooks/-/nothing?token=$TOKEN" 404 "/hooks/-/nothing"
path_case "/hooks/-?token=$TOKEN" 301 "/hooks/- (nginx redirects to the loopback-only location /hooks/-/)"
path_case "/hooks/-/?token=$TOKEN" 404 "/hooks/-/ (the reserved source, no name)"
path_case "/hooks/ct/extra/segments?token=$TOKEN" 404 "/hooks/ct/extra/segments"
path_case "/hooks/ct/call.received?token=$TOKEN" 404 "/hooks/ct/call.received (Call Tracker takes no event in the URL)"
path_case "/hooks/ct/.hidden?token=$TOKEN" 404 "/hooks/ct/.hidden"
path_case "/hooks/.ct?token=$TOKEN" 404 "/hooks/.ct"
path_case "/hooks/$(printf '%0.sa' $(seq 4000))?token=$TOKEN" 404 "a 4,000-character source name"
path_case "/hooks/ct/$(printf '%0.sb' $(seq 4000))?token=$TOKEN" 404 "a 4,000-character event"
bad
post POST "/hooks/ct%00?token=$TOKEN" "${JSON[@]}" --path-as-is --data-binary "@$T/path.json"
is "$HTTP_STATUS" 400 "/hooks/ct%00: nginx refuses a NUL in the path"
is "$(count)" "$BEFORE" "/hooks/ct%00: nothing stored"

# what nginx decodes and resolves is the path callhook routes on: these reach source ct
call_body 1502 >"$T/p1.json"
post POST "/hooks/ct/../ct?token=$TOKEN" "${JSON[@]}" --path-as-is --data-binary "@$T/p1.json"
is "$HTTP_STATUS:$(resp_field status):$(sql "select source from deliveries where id = 0$(resp_field delivery)")" \
	"200:stored:ct" "/hooks/ct/../ct resolves to /hooks/ct (stored for ct)"
call_body 1503 >"$T/p2.json"
post POST "/hooks/%63t?token=$TOKEN" "${JSON[@]}" --path-as-is --data-binary "@$T/p2.json"
is "$HTTP_STATUS:$(resp_field status):$(sql "select source from deliveries where id = 0$(resp_field delivery)")" \
	"200:stored:ct" "/hooks/%63t is /hooks/ct (nginx decodes the path)"
call_body 1504 >"$T/p3.json"
post POST "/hooks/ct/?token=$TOKEN" "${JSON[@]}" --data-binary "@$T/p3.json"
is "$HTTP_STATUS:$(resp_field status)" "200:stored" "/hooks/ct/ (trailing slash, as callhook check lists it) is stored"

# --- 11. header injection --------------------------------------------------------------------------------
call_body 1601 >"$T/h1.json"
bad
{ request_head POST "/hooks/ct?token=wrong" $'Content-Type: application/json\r\nX-Evil: a\r\nStatus: 200\r\nX-Accel-Redirect: /x\r\nContent-Length: '"$(wc -c <"$T/h1.json")"$'\r\n'; cat "$T/h1.json"; } |
	raw_http
is "$RAW_STATUSES" 401 "\"X-Evil: a CRLF Status: 200\" with a wrong token: still 401"
unlike "$RAW_OUT" '^(X-Evil|X-Accel-Redirect):' "injected request headers are not echoed in the response"
is "$(count)" "$BEFORE" "header injection with a wrong token: nothing stored"
alive "header injection with a wrong token"

call_body 1602 >"$T/h2.json"
bad
{ request_head POST "/hooks/ct?token=$TOKEN" $'Content-Type: application/json\r\nUser-Agent: evil\r\nStatus: 500\r\nX-Injected: yes\r\nX-Request-Id: r1", "injected": "1\r\nContent-Length: '"$(wc -c <"$T/h2.json")"$'\r\n'; cat "$T/h2.json"; } |
	raw_http
is "$RAW_STATUSES" 200 "\"User-Agent: evil CRLF Status: 500\" with a right token: 200"
is "$(sql "select headers->>'user-agent', headers->>'x-request-id', headers ? 'x-injected', headers ? 'status', headers ? 'injected' from deliveries where id = $RAW_DELIVERY")" \
	'evil|r1", "injected": "1|f|f|f' "stored headers: user-agent and x-request-id verbatim, nothing injected"

call_body 1603 >"$T/h3.json"
bad
{ request_head POST "/hooks/ct?token=$TOKEN" $'Content-Type: application/json\r\nUser-Agent: a\rStatus: 200\r\nContent-Length: '"$(wc -c <"$T/h3.json")"$'\r\n'; cat "$T/h3.json"; } |
	raw_http
by_nginx "a bare CR inside a header value" 400

call_body 1604 >"$T/h4.json"
bad
{ request_head POST "/hooks/ct?token=$TOKEN" $'Content-Type: application/json\r\nUser-Agent: a\x01\x7f\r\nContent-Length: '"$(wc -c <"$T/h4.json")"$'\r\n'; cat "$T/h4.json"; } |
	raw_http
like "$RAW_STATUSES" '^(200|400)$' "control characters in a header value: 200 or nginx's 400"
[ "$RAW_STATUSES" != 200 ] ||
	is "$(sql "select headers->>'user-agent' = e'a\\x01\\x7f' from deliveries where id = $RAW_DELIVERY")" t \
		"control characters in a header value are stored as sent, inside JSON"
alive "control characters in a header value"

call_body 1605 >"$T/h5.json"
bad
{ request_head POST "/hooks/ct?token=$TOKEN" $'Content-Type: application/json\r\nUser-Agent: caf\xe9\xff\r\nContent-Length: '"$(wc -c <"$T/h5.json")"$'\r\n'; cat "$T/h5.json"; } |
	raw_http
is "$RAW_STATUSES" 200 "a header value that is not UTF-8: 200"
is "$(sql "select headers ? 'user-agent' from deliveries where id = $RAW_DELIVERY")" f \
	"a header value that is not UTF-8 is left out of the stored headers"

call_body 1606 >"$T/h6.json"
bad
{ request_head POST "/hooks/nope?token=$TOKEN" $'Content-Type: application/json\r\nDocument-Uri: /hooks/ct\r\nPath-Info: /ct\r\nScript-Name: /hooks/ct\r\nContent-Length: '"$(wc -c <"$T/h6.json")"$'\r\n'; cat "$T/h6.json"; } |
	raw_http
is "$RAW_STATUSES" 404 "Document-Uri/Path-Info/Script-Name request headers do not reroute /hooks/nope (404)"
is "$(count)" "$BEFORE" "rerouting headers: nothing stored"
alive "rerouting headers"

call_body 1607 >"$T/h7.json"
long=$(printf '%0.sL' $(seq 7000))
bad; send "$T/h7.json" -H "User-Agent: $long" -H "X-Long: $long"
is "$HTTP_STATUS:$(resp_field status)" "200:stored" "a 7,000-byte header (within nginx's 8k buffers): stored"
is "$(sql "select coalesce(length(headers->>'user-agent'), 0) in (0, 7000) from deliveries where id = 0$(resp_field delivery)")" t \
	"a 7,000-byte User-Agent is stored whole or not at all"
alive "7,000-byte header"

# --- 12. strings that look like SQL --------------------------------------------------------------------
DROP="'; DROP TABLE callhook.calls; --"
DROP_Q='%27%3B%20DROP%20TABLE%20callhook.calls%3B%20--'
call_body 1701 "\"caller_name\":\"$DROP\"" >"$T/sql1.json"
bad; send "$T/sql1.json"
is "$HTTP_STATUS:$(resp_field status)" "200:stored" "caller_name \"$DROP\": stored"
is "$(sql "select caller_name from calls where external_id = '1701'")" "$DROP" "caller_name: stored verbatim"
bad; post POST "/hooks/$DROP_Q?token=$TOKEN" "${JSON[@]}" --data-binary "@$T/sql1.json"
refused "the SQL string as the source name" 404
bad; post POST "/hooks/ct/$DROP_Q?token=$TOKEN" "${JSON[@]}" --data-binary "@$T/sql1.json"
refused "the SQL string as the event" 404
call_body 1702 >"$T/sql2.json"
bad; post POST "/hooks/ct?note=$DROP_Q&token=$TOKEN&raw=';--" "${JSON[@]}" --data-binary "@$T/sql2.json"
is "$HTTP_STATUS:$(resp_field status)" "200:stored" "the SQL string as a query parameter: stored"
is "$(sql "select query from deliveries where id = 0$(resp_field delivery)")" "note=$DROP_Q&raw=';--" \
	"the query is stored as sent, without the token"
f=$(mk sql3.json "{\"type\":\"call.received$DROP\",\"data\":{\"id\":1703}}")
bad; send "$f"
is "$HTTP_STATUS:$(resp_field status)" "200:ignored" "the SQL string in the event type: ignored"
is "$(sql "select event from deliveries where id = 0$(resp_field delivery)")" "call.received$DROP" \
	"the event type is stored verbatim"
alive "SQL-looking strings"
is "$(sql "select count(*) from pg_tables where schemaname = 'callhook' and tablename in ('calls', 'deliveries')")" 2 \
	"callhook.calls and callhook.deliveries still exist"
ok '[ "$(sql "select count(*) from calls")" -gt 10 ]' "callhook.calls still holds its rows"

# --- 13. bodies that are not an object ---------------------------------------------------------------------
n=0
for body in '[]' '42' '"call.received"' 'null' 'true' '[{"type":"call.received","data":{"id":1801}}]'; do
	n=$((n + 1))
	f=$(mk "notobj$n.json" "$body")
	bad; send "$f"; rejected "a body that is $body" 'body: expected a JSON object' "$f"
done

# --- 14. duplicate keys (ambiguous: json-c keeps the last, other parsers the first; I-JSON) -----------------
f=$(mk dup1.json '{"type":"call.finished","object":"call","type":"call.received","data":{"id":1901,"status":"ringing","timestamp":"2019-03-09T09:09:51Z"}}')
bad; send "$f"; rejected 'duplicate "type"' 'field \"type\": duplicate member name' "$f"
f=$(mk dup2.json '{"type":"call.received","data":{"id":1902,"caller_name":"First"},"data":{"id":1903,"caller_name":"Second","timestamp":"2019-03-09T09:09:51Z"}}')
bad; send "$f"; rejected 'duplicate "data"' 'field \"data\": duplicate member name' "$f"
f=$(mk dup3.json '{"type":"call.received","data":{"id":1904,"id":1905,"caller_name":"A","caller_name":"B","timestamp":"2019-03-09T09:09:51Z"}}')
bad; send "$f"; rejected 'duplicate keys inside data' 'field \"data.id\": duplicate member name' "$f"
is "$(sql "select count(*) from calls where external_id in ('1901', '1902', '1903', '1904', '1905')")" 0 \
	"duplicate keys: no call stored from any of them"

# --- 15. empty and 1-byte bodies --------------------------------------------------------------------------
: >"$T/empty.json"
bad; send "$T/empty.json"; rejected "an empty body" 'body: empty' "$T/empty.json"
f=$(mk blank.json $' \n\t ')
bad; send "$f"; rejected "a body of whitespace" 'body: invalid JSON at byte 4: unexpected end of data' "$f"
for b in '{' '1' 'x' '}'; do
	n=$((n + 1))
	f=$(mk "one-$n.json" "$b")
	case $b in
	'{') e='body: invalid JSON at byte 1: unexpected end of data' ;;
	1) e='body: expected a JSON object' ;;
	*) e='body: invalid JSON at byte 0: unexpected character' ;;
	esac
	bad; send "$f"; rejected "a 1-byte body '$b'" "$e" "$f"
done
f=$(mk one-ff.json $'\xff')
bad; send "$f"; rejected "a 1-byte body 0xff" 'body: invalid JSON at byte 0: invalid utf-8 string' "$f"

# --- workers after phase 1 ------------------------------------------------------------------------------
ok 'pid_alive "$CALLHOOK_PID"' "the callhook parent is still running"
is "$(children_of "$CALLHOOK_PID" | wc -l)" 2 "it still has 2 workers"
is "$(children_of "$CALLHOOK_PID" | sort | paste -sd' ')" "$WORKERS_START" "they are the original workers"

# --- 16. max_body 1M: very long values and a bigger bomb -------------------------------------------------
callhook_stop || true
write_config max_body=1M
callhook_start 2 || bail_out "callhook serve starts again with max_body = 1M"
WORKERS_START=$(children_of "$CALLHOOK_PID" | sort | paste -sd' ')

{
	call_body 2001 "\"caller_name\":\"$(head -c 921600 /dev/zero | tr '\0' n)\""
} >"$T/long.json"
bad; send "$T/long.json"
is "$HTTP_STATUS:$(resp_field status)" "200:stored" "a 900 KB caller_name (max_body 1M): stored"
is "$(sql "select length(caller_name), length(data->>'caller_name') from calls where external_id = '2001'")" \
	"921600|921600" "the 900 KB caller_name is stored whole"
{
	printf '{"type":"message.received","object":"message","data":{"id":2002,"from_number":"+18558871739","body":"'
	head -c 450000 /dev/zero | tr '\0' x | sed 's/x/é/g'
	printf '","timestamp":"2019-03-09T09:09:51Z"}}'
} >"$T/longmsg.json"
bad; send "$T/longmsg.json"
is "$HTTP_STATUS:$(resp_field status):$(sql "select octet_length(body) from messages where external_id = '2002'")" \
	"200:stored:900000" "a 900 KB multi-byte message body: stored whole"
{
	printf '{"type":"call.received","data":{"id":2003,"timestamp":"2019-03-09T09:09:51Z","pages_visited":['
	seq -f '"p%g"' 1 100000 | paste -sd,
	printf ']}}'
} >"$T/longarr.json"
bad; send "$T/longarr.json"
is "$HTTP_STATUS:$(sql "select jsonb_array_length(data->'pages_visited') from calls where external_id = '2003'")" \
	"200:100000" "an array of 100,000 strings: stored"
head -c 100000 /dev/zero | tr '\0' '[' >"$T/bomb100k.json"
bad; send "$T/bomb100k.json"; rejected "nesting bomb: 100,000 '['" 'body: invalid JSON at byte 32: nesting too deep' "$T/bomb100k.json"
head -c 1000000 /dev/zero | tr '\0' '{' >"$T/bomb1m.json"
bad; send "$T/bomb1m.json"; rejected "nesting bomb: 1,000,000 '{'" 'body: invalid JSON at byte 1: quoted object property name expected' "$T/bomb1m.json"

# --- no worker died ---------------------------------------------------------------------------------------
ok 'pid_alive "$CALLHOOK_PID"' "the callhook parent is still running"
is "$(children_of "$CALLHOOK_PID" | sort | paste -sd' ')" "$WORKERS_START" "it still has its original 2 workers"
is "$(grep -c 'was terminated by signal' "$T/callhook.log" || true)" 0 "no worker was terminated by a signal"
is "$(grep -c 'exited with status' "$T/callhook.log" || true)" 0 "no worker exited with an error"
is "$(count "outcome = 'error'")" 0 "no delivery ended as an error"

diag "bad-input cases: $CASES"
done_testing
