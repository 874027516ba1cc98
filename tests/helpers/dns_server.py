#!/usr/bin/env python3
"""A tiny DNS server for tests, on UDP 127.0.0.1:53 of the namespace it runs in.

    dns_server.py READY QUERYLOG FAILURES NAME=IPV4...

Answers each NAME with its A record (AAAA and other types: no data), any
other name with NXDOMAIN, and SERVFAIL to the first FAILURES queries of
each name and type (a lookup asks for A and AAAA). Writes "ready" to the READY fifo
once bound and one line "NAME TYPE RCODE" per query to QUERYLOG."""
import socket
import struct
import sys

ready, querylog, failures = sys.argv[1], sys.argv[2], int(sys.argv[3])
records = dict(arg.lower().split("=", 1) for arg in sys.argv[4:])
seen = {}

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 53))
with open(ready, "w") as f:
    f.write("ready\n")
log = open(querylog, "a", buffering=1)

while True:
    query, peer = sock.recvfrom(512)
    qid, flags = struct.unpack(">HH", query[:4])
    labels, pos = [], 12
    while query[pos]:
        labels.append(query[pos + 1:pos + 1 + query[pos]].decode("ascii", "replace"))
        pos += 1 + query[pos]
    question = query[12:pos + 5]
    qtype = struct.unpack(">H", query[pos + 1:pos + 3])[0]
    name = ".".join(labels).lower()
    seen[name, qtype] = seen.get((name, qtype), 0) + 1
    answer = b""
    if seen[name, qtype] <= failures:
        rcode = 2  # SERVFAIL
    elif name not in records:
        rcode = 3  # NXDOMAIN
    else:
        rcode = 0
        if qtype == 1:
            answer = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + \
                socket.inet_aton(records[name])
    # Response, recursion desired copied, recursion available.
    header = struct.pack(">HHHHHH", qid, 0x8180 | (flags & 0x0100) | rcode, 1,
                         1 if answer else 0, 0, 0)
    sock.sendto(header + question + answer, peer)
    log.write("%s %d %d\n" % (name, qtype, rcode))
