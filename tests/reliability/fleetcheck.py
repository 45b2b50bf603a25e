#!/usr/bin/python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
"""Reads the connection record of smtpserver.py --conn-log (issue 17).

usage:
  fleetcheck.py window LOG NHOSTS PROBE_MAX SECS
      waits (600 s at most) until NHOSTS distinct clients have connected
      and SECS seconds have passed since the last of their first
      connections plus PROBE_MAX: the end of the outage's rate window.
      Exit 0 then, 1 at the bound.
  fleetcheck.py report LOG UIDMAP PROBE_MAX MARGIN SERIESFILE
      prints shell assignments (see report()) and writes the
      connections-per-second series to SERIESFILE.

LOG lines are "T conn N port=P uid=U held=H reply=R", "T ehlo N NAME",
"T data N" and "T up"; T is CLOCK_MONOTONIC seconds.  UIDMAP has one
"UID NAME" line per relayqd (each runs under a uid of its own): its EHLO
name is NAME.

The checks, as issue 17 words them:
  * at most one connection per host before that host's first successful
    session: every connection a host opened before the server answered
    its first EHLO found it holding no other connection to the server
    (held = 1: counted by the server from /proc while the client waited
    for the greeting, so it does not depend on how fast either side ran);
  * no second with more than 3x the average connection rate while the
    smarthost is down.  The window runs from PROBE_MAX after the last
    host's first connection to the switch: every host makes its first
    attempt when it starts, whatever the backoff, so the first PROBE_MAX
    holds the start-up burst (one connection per host at most, by the
    check above) and the first backoff's wave, which jitter spreads over
    at most PROBE_MAX; after it the probes are as spread as they will be.
    Seconds are counted back from the switch (bin -1 is the second just
    before it), so only whole seconds are compared;
  * all mail delivered within PROBE_MAX + MARGIN of the switch.
"""
import collections
import math
import os
import sys
import time


def parse(path):
    """(conns, ehlos, datas, up): conns is a list of (t, n, uid, held,
    reply) sorted by t; ehlos maps n to (t, name); datas is a sorted list
    of (t, n); up is the switch's time or None.  A line still being
    written (no newline) is skipped."""
    conns, ehlos, datas, up = [], {}, [], None
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = ''
    for line in text.splitlines(keepends=True):
        if not line.endswith('\n'):
            continue
        p = line.split()
        if len(p) < 2:
            continue
        t = float(p[0])
        if p[1] == 'conn':
            kv = dict(x.split('=', 1) for x in p[3:])
            conns.append((t, int(p[2]), kv['uid'], int(kv['held']),
                          kv['reply']))
        elif p[1] == 'ehlo':
            ehlos.setdefault(int(p[2]), (t, p[3] if len(p) > 3 else ''))
        elif p[1] == 'data':
            datas.append((t, int(p[2])))
        elif p[1] == 'up':
            up = t
    conns.sort()
    datas.sort()
    return conns, ehlos, datas, up


def first_per_client(conns):
    """{uid: time of its first connection}."""
    first = {}
    for t, _, uid, _, _ in conns:
        first.setdefault(uid, t)
    return first


def per_second(conns, up):
    """{k: connections accepted in [up + k, up + k + 1)}."""
    bins = collections.Counter()
    for c in conns:
        bins[math.floor(c[0] - up)] += 1
    return bins


def series_text(bins, up_bin=0):
    """The issue's notation: one count per second from the first
    connection's second to the last, runs of 3 or more equal counts
    written "C xK", the switch's second marked "(returned)"."""
    if not bins:
        return '(no connections)'
    lo, hi = min(min(bins), up_bin), max(max(bins), up_bin)
    vals = [bins.get(k, 0) for k in range(lo, hi + 1)]
    out, i = [], 0
    while i < len(vals):
        j = i
        while (j + 1 < len(vals) and vals[j + 1] == vals[i] and
               up_bin not in (lo + i, lo + j + 1)):
            j += 1
        k = j - i + 1
        word = ('{} x{}'.format(vals[i], k) if k >= 3 else
                ', '.join([str(vals[i])] * k))
        if lo + i == up_bin:
            word += ' (returned)'
        out.append(word)
        i = j + 1
    return ', '.join(out)


def rate_window(conns, up, probe_max):
    """(start, counts): the down window's whole seconds, counted back
    from the switch, that begin PROBE_MAX after the last client's first
    connection; counts lists them oldest first."""
    firsts = first_per_client([c for c in conns if c[0] < up])
    if not firsts:
        return None, []
    start = max(firsts.values()) + probe_max
    k0 = math.ceil(start - up)
    bins = per_second([c for c in conns if c[0] < up], up)
    return start, [bins.get(k, 0) for k in range(k0, 0)]


def read_names(uidmap):
    """{uid: EHLO name} from a UIDMAP file."""
    names = {}
    with open(uidmap) as f:
        for line in f:
            p = line.split()
            if len(p) == 2:
                names[p[0]] = p[1]
    return names


def figures(log, names, probe_max):
    """Everything the test checks and the benchmark prints, as a dict.
    NAMES maps a uid to its host's EHLO name (empty: hosts unknown)."""
    conns, ehlos, datas, up = parse(log)
    fig = {'conns': len(conns), 'up': up, 'delivered': len(datas)}
    fig['unattributed'] = sum(1 for c in conns if c[2] not in names)
    uid_of = {c[1]: c[2] for c in conns}
    # The EHLO name of each session agrees with the uid the server found
    # holding the connection: the attribution is right.
    fig['name_mismatch'] = sum(1 for n, (_, name) in ehlos.items()
                               if names.get(uid_of.get(n)) != name)
    # First success per host: the first EHLO the server answered.
    success = {}
    for n, (t, _) in ehlos.items():
        uid = uid_of.get(n)
        if uid is not None and (uid not in success or t < success[uid]):
            success[uid] = t
    fig['hosts_ok'] = len(success)
    multi, held_max, early = set(), 0, 0
    for t, _, uid, held, _ in conns:
        if t < success.get(uid, math.inf):
            early += 1
            held_max = max(held_max, held)
            if held > 1:
                multi.add(uid)
    fig.update(multi_hosts=len(multi), held_max=held_max, early=early)
    if up is None or not conns:
        return fig
    t0 = conns[0][0]
    fig['down_secs'] = up - t0
    fig['start_conns'] = sum(1 for c in conns if c[0] < t0 + probe_max)
    start_bins = per_second([c for c in conns if c[0] < t0 + probe_max],
                            t0)
    fig['start_peak'] = max(start_bins.values())
    fig['bins'] = per_second(conns, up)
    start, win = rate_window(conns, up, probe_max)
    fig['win_start'] = up - start if start is not None else 0
    fig['win'] = win
    fig['win_avg'] = sum(win) / len(win) if win else 0.0
    fig['win_peak'] = max(win) if win else 0
    fig['win_peak_at'] = len(win) - win.index(max(win)) if win else 0
    # The return: from the switch on (every host makes its next probe
    # within probe_max, then drains its queue).
    after = [b for k, b in fig['bins'].items() if k >= 0]
    fig['return_peak'] = max(after) if after else 0
    fig['return_conns'] = sum(after)
    fig['last_after_up'] = datas[-1][0] - up if datas else math.inf
    return fig


def describe(fig):
    """Two lines: the series, and the down window's rate."""
    return ('connections per second, the switch at "(returned)": '
            '{}\nrate window: {} s from {:.1f} s before the switch, {} '
            'connections, average {:.2f}/s, peak {} ({} s before the '
            'switch)\n'.format(series_text(fig['bins']), len(fig['win']),
                                fig['win_start'], sum(fig['win']),
                                fig['win_avg'], fig['win_peak'],
                                fig['win_peak_at']))


def report(log, uidmap, probe_max, margin, seriesfile):
    """Prints the figures and verdicts as shell assignments."""
    fig = figures(log, read_names(uidmap), probe_max)
    out = {'CONNS': fig['conns'], 'UNATTRIBUTED': fig['unattributed'],
           'NAME_MISMATCH': fig['name_mismatch'],
           'HOSTS_OK': fig['hosts_ok'], 'MULTI_HOSTS': fig['multi_hosts'],
           'HELD_MAX': fig['held_max'], 'EARLY_CONNS': fig['early'],
           'UP': int(fig['up'] is not None), 'DELIVERED': fig['delivered']}
    if 'win' in fig:
        n, avg = len(fig['win']), fig['win_avg']
        out.update(WIN_SECS=n, WIN_CONNS=sum(fig['win']),
                   WIN_AVG='{:.2f}'.format(avg), WIN_PEAK=fig['win_peak'],
                   RATE_OK=int(n > 0 and fig['win_peak'] <= 3 * avg),
                   LAST_AFTER_UP='{:.2f}'.format(fig['last_after_up']),
                   BOUND='{:.1f}'.format(probe_max + margin),
                   IN_TIME=int(fig['last_after_up'] <= probe_max + margin))
    with open(seriesfile, 'w') as f:
        f.write(describe(fig) if 'win' in fig else 'no switch recorded\n')
    print(' '.join('{}={}'.format(k, v) for k, v in out.items()))


def window(log, nhosts, probe_max, secs):
    """Returns 0 once the rate window of SECS has passed (see above)."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        firsts = first_per_client(parse(log)[0])
        if len(firsts) >= nhosts and time.monotonic() >= \
                max(firsts.values()) + probe_max + secs:
            return 0
        time.sleep(0.1)
    return 1


def main():
    if len(sys.argv) == 6 and sys.argv[1] == 'window':
        return window(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]),
                      float(sys.argv[5]))
    if len(sys.argv) == 7 and sys.argv[1] == 'report':
        report(sys.argv[2], sys.argv[3], float(sys.argv[4]),
               float(sys.argv[5]), sys.argv[6])
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main())
