-- wrk script for tests/bench/run.sh: posts a mix of real vendor fixture bodies (tests/fixtures/<vendor>), each
-- with its call id and delivery id rewritten from a counter so that every request is a new delivery, with
-- the credentials of tests/bench/sources.conf (CallRail bodies are signed with HMAC-SHA1 through libcrypto,
-- which wrk links, via LuaJIT's FFI). Counts answers by status and "stored", and stops sending cleanly (no
-- request left in flight) after BENCH_SECONDS or BENCH_MAX responses, so stored rows can be compared with
-- acknowledged requests exactly.
--
-- Environment:
--   BENCH_FIXTURES  tests/fixtures directory (required)
--   BENCH_MIX       all (default): the six templates below in turn; ct: the Call Tracker call only;
--                   big: CallScaler post-call with a BENCH_BIG_BYTES transcription
--   BENCH_ID_BASE   first id of this run (thread n uses BENCH_ID_BASE + n * 10^8 upwards)
--   BENCH_SECONDS   stop sending this many seconds after the thread's first request (0: never)
--   BENCH_MAX       stop sending after this many responses per thread (0: never)
--   BENCH_DONE_DIR  each thread creates <dir>/<n>.done once it has stopped and nothing is in flight
-- Stopping: once a thread is past its limit, delay() holds back every connection's next request, and the thread
-- is done when every request it sent has its answer and no request that delay() let through is still to be
-- sent. (wrk calls request() once more on the first thread, before it starts, to verify the script: that call
-- is not counted.)
-- done() prints one line: "BENCH key=value ...".

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk, bench_timespec *ts);
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha1(void);
unsigned char *HMAC(const EVP_MD *md, const void *key, int key_len, const void *d, size_t n,
                    unsigned char *out, unsigned int *out_len);
int EVP_EncodeBlock(unsigned char *t, const unsigned char *f, int n);
]]

threads = {}
nthreads = 0 -- in the setup environment; each thread gets its own copy with thread:set

function setup(thread)
	nthreads = nthreads + 1
	thread:set("tid", nthreads - 1)
	table.insert(threads, thread)
	for _, t in ipairs(threads) do
		t:set("nthreads", nthreads)
	end
end

-- --- per thread ---------------------------------------------------------------------------------

local ts = ffi.new("bench_timespec")
local function now()
	ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
	return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local crypto
local function hmac_sha1_b64(key, msg)
	local md = ffi.new("unsigned char[64]")
	local mdlen = ffi.new("unsigned int[1]")
	local b64 = ffi.new("unsigned char[64]")
	crypto.HMAC(crypto.EVP_sha1(), key, #key, msg, #msg, md, mdlen)
	local n = crypto.EVP_EncodeBlock(b64, md, mdlen[0])
	return ffi.string(b64, n)
end

local function read_file(path)
	local f = assert(io.open(path, "rb"), "cannot read " .. path)
	local s = f:read("*a")
	f:close()
	return s
end

-- A template: the fixture split at each literal of `subs` into constant parts; fill() puts the id in.
local function template(spec, fixtures)
	local body = spec.body or read_file(fixtures .. "/" .. spec.file)
	local parts, fmts = {}, {}
	for _, sub in ipairs(spec.subs) do
		local i, j = body:find(sub[1], 1, true)
		assert(i, spec.file .. ": no " .. sub[1])
		table.insert(parts, body:sub(1, i - 1))
		table.insert(fmts, sub[2])
		body = body:sub(j + 1)
		assert(not body:find(sub[1], 1, true), spec.file .. ": " .. sub[1] .. " twice")
	end
	table.insert(parts, body)
	spec.parts, spec.fmts = parts, fmts
	return spec
end

local function fill(t, id)
	local out = {}
	for i = 1, #t.fmts do
		out[#out + 1] = t.parts[i]
		out[#out + 1] = (t.fmts[i]:gsub("#", id))
	end
	out[#out + 1] = t.parts[#t.parts]
	return table.concat(out)
end

local CALLRAIL_KEY = "072e77e426f92738a72fe23c4d1953b4"
local JSON = "application/json"

local function mix_all()
	return {
		{ file = "calltracker/call_finished.body", path = "/hooks/ct?token=s3cret-token",
		  subs = { { '"id": 59179', '"id": #' } } },
		{ file = "calltracker/message_received.body", path = "/hooks/ct?token=s3cret-token",
		  subs = { { '"id": 139', '"id": #' } } },
		{ file = "salpre/call_ended.body", path = "/hooks/acme-salpre", headers = { ["X-Api-Key"] = "salpre-key" },
		  subs = { { '"call_id": 1,', '"call_id": #,' } } },
		{ file = "callscaler/call_completed.body", path = "/hooks/acme-cs?token=cs-token",
		  subs = { { '"call_id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890"', '"call_id": "cs-#"' },
		           { '"delivery_id": "uuid"', '"delivery_id": "d-#"' } } },
		{ file = "callrail/post_call_answered.body", path = "/hooks/acme-callrail/post_call", sign = true,
		  subs = { { '"id":1018350876', '"id":#' },
		           { '"resource_id":"CAL8154748ae6bd4e278a7cddd38a662f4f"', '"resource_id":"CALb#"' } } },
		{ file = "fonedynamics/post_json_busy.body", path = "/hooks/acme-fd",
		  headers = { Authorization = "Bearer fd-token" },
		  subs = { { '"Call.Sid":"CA4d5e6f708192a3b4c5d6e7f8091a2b3c"', '"Call.Sid":"CAb#"' } } },
	}
end

-- CallScaler post-call with a long transcription made of words, compressible like real speech.
local function mix_big(fixtures, bytes)
	local words = { "the", "customer", "said", "that", "their", "air", "conditioner", "stopped", "working",
		"yesterday", "evening", "and", "they", "need", "a", "technician", "tomorrow", "morning", "agent",
		"asked", "about", "the", "model", "number", "warranty", "address", "is", "on", "Maple", "Street",
		"price", "quote", "for", "installation", "okay", "thanks", "please", "call", "back", "at", "noon" }
	local out, n, seed = {}, 0, 12345
	while n < bytes do
		seed = (seed * 1103515245 + 12345) % 2147483648
		local w = words[seed % #words + 1]
		out[#out + 1] = w
		n = n + #w + 1
	end
	local body = read_file(fixtures .. "/callscaler/call_completed.body")
	body = body:gsub('"transcription": "[^"]*"', '"transcription": "' .. table.concat(out, " ") .. '"', 1)
	return {
		{ body = body, file = "callscaler/call_completed.body (big)", path = "/hooks/acme-cs?token=cs-token",
		  subs = { { '"call_id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890"', '"call_id": "big-#"' },
		           { '"delivery_id": "uuid"', '"delivery_id": "big-d-#"' } } },
	}
end

-- Globals, so that done() can read them with thread:get().
local templates, next_id, step, k
local stop_at, max_per_thread, done_dir
t_first, t_last, t_stop = nil, nil, nil
sent, received, n200, nstored, nother, statuses, bytes_sent = 0, 0, 0, 0, 0, {}, 0
local marked, verifying = false, false
stopping, pending = false, 0

function init(args)
	local fixtures = assert(os.getenv("BENCH_FIXTURES"), "BENCH_FIXTURES is not set")
	local mix = os.getenv("BENCH_MIX") or "all"
	local specs
	if mix == "big" then
		specs = mix_big(fixtures, tonumber(os.getenv("BENCH_BIG_BYTES") or "512000"))
	else
		specs = mix_all()
		if mix == "ct" then specs = { specs[1] } end
	end
	templates = {}
	for _, s in ipairs(specs) do
		s.headers = s.headers or {}
		s.headers["Content-Type"] = JSON
		table.insert(templates, template(s, fixtures))
		if s.sign and crypto == nil then
			local ok
			ok, crypto = pcall(function() local _ = ffi.C.HMAC; return ffi.C end)
			if not ok then crypto = ffi.load("libcrypto.so.3") end
		end
	end
	-- init() of thread 1 runs before setup() of thread 2, so the thread count is not known here
	step = 1
	next_id = tonumber(os.getenv("BENCH_ID_BASE") or "1000000000") + (tid or 0) * 1e8
	verifying = (tid or 0) == 0
	k = (tid or 0) % #templates
	local secs = tonumber(os.getenv("BENCH_SECONDS") or "0")
	stop_at = secs > 0 and secs or nil
	local max = tonumber(os.getenv("BENCH_MAX") or "0")
	max_per_thread = max > 0 and max or nil
	done_dir = os.getenv("BENCH_DONE_DIR")
end

function request()
	local now_s = now()
	if verifying then
		verifying = false
		return wrk.format("POST", templates[1].path, templates[1].headers, fill(templates[1], "0"))
	end
	if pending > 0 then pending = pending - 1 end
	if t_first == nil then
		t_first = now_s
		if stop_at then stop_at = t_first + stop_at end
	end
	local t = templates[k + 1]
	k = (k + 1) % #templates
	local id = string.format("%.0f", next_id)
	next_id = next_id + step
	local body = fill(t, id)
	local headers = t.headers
	if t.sign then
		headers = { ["Content-Type"] = JSON, Signature = hmac_sha1_b64(CALLRAIL_KEY, body) }
	end
	sent = sent + 1
	bytes_sent = bytes_sent + #body
	return wrk.format("POST", t.path, headers, body)
end

local function mark_done()
	if marked or done_dir == nil then return end
	marked = true
	local f = io.open(done_dir .. "/" .. tostring(tid or 0) .. ".done", "w")
	if f then f:close() end
end

function response(status, headers, body)
	received = received + 1
	t_last = now()
	statuses[status] = (statuses[status] or 0) + 1
	if status == 200 then
		n200 = n200 + 1
		if body:find('"stored"', 1, true) then nstored = nstored + 1 end
	else
		nother = nother + 1
	end
	if not stopping and ((stop_at and t_last >= stop_at) or (max_per_thread and received >= max_per_thread)) then
		stopping = true
		t_stop = t_last
	end
	if stopping and sent == received and pending == 0 then mark_done() end
end

function delay()
	if stopping then
		if sent == received and pending == 0 then mark_done() end
		return 3600000
	end
	pending = pending + 1
	return 0
end

-- --- done (its own environment) -----------------------------------------------------------------

function done(summary, latency, requests)
	local resp, ok, stored, other, sent_all, bytes, active, nact = 0, 0, 0, 0, 0, 0, 0, 0
	local codes = {}
	for _, t in ipairs(threads) do
		resp = resp + (t:get("received") or 0)
		ok = ok + (t:get("n200") or 0)
		stored = stored + (t:get("nstored") or 0)
		other = other + (t:get("nother") or 0)
		sent_all = sent_all + (t:get("sent") or 0)
		bytes = bytes + (t:get("bytes_sent") or 0)
		-- a thread that never reached its limit (stalled, or stopped by wrk's -d) was active all along
		local first, stop = t:get("t_first"), t:get("t_stop")
		if first and stop then
			active = active + (stop - first)
			nact = nact + 1
		elseif first then
			local secs = tonumber(os.getenv("BENCH_SECONDS") or "0")
			active = active + (secs > 0 and secs or summary.duration / 1e6)
			nact = nact + 1
		end
		for code, n in pairs(t:get("statuses") or {}) do
			codes[code] = (codes[code] or 0) + n
		end
	end
	local list, thr = {}, {}
	for code, n in pairs(codes) do list[#list + 1] = code .. ":" .. n end
	for i, t in ipairs(threads) do
		thr[#thr + 1] = (i - 1) .. ":" .. (t:get("sent") or 0) - (t:get("received") or 0) .. ":" .. (t:get("pending") or 0)
	end
	table.sort(list)
	active = nact > 0 and active / nact or summary.duration / 1e6
	local e = summary.errors
	io.write(string.format(
		"BENCH responses=%d ok=%d stored=%d other=%d sent=%d inflight=%d active_s=%.3f rps=%.1f " ..
		"p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f mean_body=%.0f errors=%d timeouts=%d codes=%s " ..
		"threads=%s\n",
		resp, ok, stored, other, sent_all, sent_all - resp, active, active > 0 and resp / active or 0,
		latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
		latency.max / 1e3, sent_all > 0 and bytes / sent_all or 0,
		e.connect + e.read + e.write, e.timeout, table.concat(list, ","), table.concat(thr, ",")))
end
