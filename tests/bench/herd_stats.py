#!/usr/bin/env python3
"""Summarise one herd run (tests/bench/herd_one.sh output).

    herd_stats.py DIR CLIENTS

Prints one table row: ok/clients, listen offset, SYNs (all attempts),
peak SYNs per 10 ms and peak / clients, over the whole run and from the
moment the server listens (the herd a recovering server meets), time to success p50/p99/max
(server accept time minus the release of the clients; a client that
never succeeded is not in it, see the ok column). Writes DIR/arrivals.dat
(window start in s, SYNs in the 10 ms window) for the plot."""
import sys

def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]

def main():
    d, clients = sys.argv[1], int(sys.argv[2])
    launch = dict(line.split() for line in open(f"{d}/launch"))
    t0 = int(launch["released"])
    events = {"syn": [], "accept": [], "listen": []}
    for line in open(f"{d}/events"):
        kind, us = line.split()
        events[kind].append((int(us) - t0) / 1e6)
    windows = {}
    for t in events["syn"]:
        windows[int(t * 100)] = windows.get(int(t * 100), 0) + 1
    with open(f"{d}/arrivals.dat", "w") as f:
        for w in range(min(windows, default=0), max(windows, default=0) + 1):
            f.write(f"{w / 100:.2f} {windows.get(w, 0)}\n")
    listen = events["listen"][0] if events["listen"] else float("nan")
    peak = max(windows.values(), default=0)
    peak_open = max((n for w, n in windows.items() if w / 100 >= listen), default=0)
    ok = events["accept"]
    cells = [f"{launch['ok']}/{clients}", f"{listen:.2f}", str(len(events["syn"])),
             str(peak), f"{100 * peak / clients:.1f}%",
             str(peak_open), f"{100 * peak_open / clients:.1f}%",
             f"{pct(ok, 50):.2f}", f"{pct(ok, 99):.2f}", f"{max(ok, default=float('nan')):.2f}"]
    print("|".join(cells))

main()
