#!/usr/bin/env python3
"""Bounded webhook load for the fault tests: posts N Call Tracker deliveries through nginx on 127.0.0.1
with C keep-alive connections, and writes one TSV line per request: body sha256, table, external id,
HTTP status, answer status. Every 10th request resends an earlier body (a redelivery)."""
import argparse
import hashlib
import http.client
import json
import sys
import threading
import time


def body_for(i):
    """The i-th delivery: calls (received then finished), messages and voicemails, each unique."""
    kind = i % 4
    ts = "2026-11-%02dT%02d:%02d:%02d.000" % (1 + i % 28, i % 24, i % 60, i % 60)
    if kind in (0, 1):
        call = "L%d" % (i // 4)
        data = {"id": call, "caller_number": "+1855%07d" % (i // 4), "tracking_number": "+12702822733",
                "status": "ringing" if kind == 0 else "answered", "call_duration": 0 if kind == 0 else 30 + i % 300,
                "timestamp": ts + "Z"}
        return "calls", call, {"type": "call.received" if kind == 0 else "call.finished", "object": "call",
                               "data": data, "timestamp": ts if kind == 0 else ts.replace(".000", ".500")}
    if kind == 2:
        mid = "M%d" % i
        return "messages", mid, {"type": "message.received", "object": "message", "timestamp": ts,
                                 "data": {"id": mid, "direction": "incoming", "body": "load %d" % i,
                                          "from_number": "+18558871739", "to_number": "+18556000724",
                                          "timestamp": ts + "Z"}}
    vid = "V%d" % i
    return "voicemails", vid, {"type": "voicemail.received", "object": "voicemail", "timestamp": ts,
                               "data": {"id": vid, "call_id": "L%d" % (i // 4), "recording_duration": 14,
                                        "caller_number": "+18128787987", "transcription": "hello %d" % i}}


def worker(args, jobs, lock, out, stop_at):
    conn = None
    while True:
        with lock:
            if not jobs or time.time() > stop_at:
                return
            table, ext, raw = jobs.pop()
        status, answer = 0, "-"
        for attempt in range(2):
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=15)
                conn.request("POST", "/hooks/%s?token=%s" % (args.source, args.token), body=raw,
                             headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                text = resp.read()
                status = resp.status
                try:
                    answer = json.loads(text).get("status", "error")
                except ValueError:
                    answer = "-"
                break
            except (OSError, http.client.HTTPException):
                conn = None
                status, answer = 0, "-"
        with lock:
            out.append("%s\t%s\t%s\t%d\t%s" % (hashlib.sha256(raw).hexdigest(), table, ext, status, answer))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--source", default="ct")
    p.add_argument("--token", required=True)
    p.add_argument("-n", type=int, default=5000)
    p.add_argument("-c", type=int, default=8)
    p.add_argument("--seconds", type=float, default=120, help="stop sending after this long")
    p.add_argument("--out", required=True)
    args = p.parse_args()

    bodies = []
    for i in range(args.n):
        if i % 10 == 9:
            bodies.append(bodies[i - 5])
        else:
            table, ext, doc = body_for(i)
            bodies.append((table, ext, json.dumps(doc).encode()))
    jobs = list(reversed(bodies))
    lock = threading.Lock()
    out = []
    t0 = time.time()
    threads = [threading.Thread(target=worker, args=(args, jobs, lock, out, t0 + args.seconds)) for _ in range(args.c)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - t0
    with open(args.out, "w") as f:
        f.write("\n".join(out) + "\n")
    print("# load: %d requests in %.1f s (%.0f/s)" % (len(out), elapsed, len(out) / elapsed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
