#!/usr/bin/env python3
"""Posts every permutation of a call's events through nginx, each permutation as its own call: the
bodies are the fixtures with the call id replaced by "<prefix><n>". Prints "<n> <order> <statuses>"."""
import argparse
import http.client
import itertools
import re
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--id-pattern", required=True, help="regex whose group 1 is the call id")
    p.add_argument("--header", action="append", default=[])
    p.add_argument("events", nargs="+", help="PATH@BODYFILE for each event")
    a = p.parse_args()
    events = []
    for e in a.events:
        path, f = e.rsplit("@", 1)
        events.append((path, open(f, "rb").read()))
    headers = {"Content-Type": "application/json"}
    for h in a.header:
        k, v = h.split(":", 1)
        headers[k.strip()] = v.strip()
    conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=15)
    pat = re.compile(a.id_pattern.encode())
    for n, order in enumerate(itertools.permutations(range(len(events)))):
        cid = ("%s%d" % (a.prefix, n)).encode()
        statuses = []
        for i in order:
            path, body = events[i]
            body = pat.sub(lambda m: m.group(0).replace(m.group(1), cid if not m.group(1).isdigit()
                                                         else b'"' + cid + b'"'), body)
            conn.request("POST", path, body=body, headers=headers)
            r = conn.getresponse()
            r.read()
            statuses.append(str(r.status))
        print(n, "".join(map(str, order)), ",".join(statuses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
