# shellcheck shell=bash
# Checks for the tests that run tests/load/load.py through nginx (tests/lib.sh's load_run) and then check
# that nothing was lost or stored twice (faults.sh, batch.sh). Source after tests/lib.sh; the stack must be
# running. N is the number of requests of each load.

# statuses TSV: the HTTP statuses answered in TSV and how many times each, e.g. "200=4995 502=5" (0: none).
statuses() {
	awk -F'\t' '{ n[$4]++ } END { for (s in n) printf "%s=%d\n", s, n[s] }' "$1" | sort | tr '\n' ' ' | sed 's/ $//'
}

# verify NAME: every request was answered 200, every acknowledged request has its delivery and its row,
# every body posted is stored exactly once; print the figures.
verify() {
	local name=$1 tsv=$T/$1.tsv
	sql "create table if not exists public.acked (sha text, tbl text, ext text, status int, answer text)" >/dev/null
	sql "truncate public.acked" >/dev/null
	as_user cat "$tsv" | _psql callhook -c "copy public.acked from stdin" >/dev/null
	local total acked spooled dups missing_d missing_r twice stored not_once
	total=$(sql "select count(*) from public.acked")
	acked=$(sql "select count(*) from public.acked where status = 200")
	spooled=$(sql "select count(*) from public.acked where answer = 'spooled'")
	dups=$(sql "select count(*) from public.acked where answer = 'duplicate'")
	missing_d=$(sql "select count(*) from public.acked a where status = 200 and not exists
		(select 1 from callhook.deliveries d where d.source = 'ct' and encode(d.body_sha256, 'hex') = a.sha)")
	missing_r=$(sql "select count(*) from public.acked a where status = 200 and not exists (
		select 1 from callhook.calls c where a.tbl = 'calls' and c.source = 'ct' and c.external_id = a.ext
		union all select 1 from callhook.messages m where a.tbl = 'messages' and m.source = 'ct' and m.external_id = a.ext
		union all select 1 from callhook.voicemails v where a.tbl = 'voicemails' and v.source = 'ct' and v.external_id = a.ext)")
	twice=$(sql "select count(*) - count(distinct (source, body_sha256)) from callhook.deliveries")
	stored=$(sql "select count(*) from callhook.deliveries where outcome = 'stored'")
	not_once=$(sql "select count(*) from (select distinct sha from public.acked) a where (select count(*)
		from callhook.deliveries d where d.source = 'ct' and encode(d.body_sha256, 'hex') = a.sha) <> 1")
	diag "$name: requests $total, acknowledged $acked (spooled $spooled, duplicate $dups), other answers $((total - acked)), deliveries stored $stored"
	diag "$name: answers by HTTP status (0: no answer): $(statuses "$tsv")"
	is "$total" "$N" "$name: every request was answered or failed visibly"
	is "$(awk -F'\t' '$4 == 502' "$tsv" | wc -l | tr -d ' ')" 0 "$name: no request was answered 502"
	is "$((total - acked))" 0 "$name: every request was answered 200"
	is "$not_once" 0 "$name: every body posted is stored exactly once"
	is "$missing_d" 0 "$name: every request answered 200 has its delivery"
	is "$missing_r" 0 "$name: every request answered 200 has its row"
	is "$twice" 0 "$name: no delivery is stored twice"
	is "$(sql "select count(*) from callhook.deliveries d where outcome = 'stored' and event like 'call.%' and not exists
		(select 1 from callhook.calls c where c.source = d.source and c.external_id = convert_from(d.body, 'UTF8')::jsonb->'data'->>'id')")" 0 \
		"$name: no stored call delivery lacks its row (no partial transaction)"
}
