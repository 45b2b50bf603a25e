#!/usr/bin/python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
"""Audits a failover chaos run (r12_failover_crash.sh).

usage: failovercheck.py MANIFEST LOG REPORT SERVER:ROUTE[,ROUTE]:DIR...

MANIFEST has one line per message that sendmail accepted (exit 0):
"SEQ ROUTE RCPT..." (every recipient address unique to its message).
Each SERVER:ROUTES:DIR is a maildir of smtpserver.py (NNNN.eml, the
DATA bytes, and NNNN.env, JSON with rcpt_tos, written after it; an .eml
without its .env is a server killed before it could answer, and does
not count) kept by server SERVER, which may receive the mail of ROUTES
only.  LOG is relayqd's log, in
which the test wrote a line "=== kill" after each SIGKILL of relayqd.

Prints shell assignments:
  SUBMITTED  messages in the manifest;
  LOST       recipients (SEQ, RCPT) that no server received;
  DUPS       transactions that gave a recipient a second copy: per
             message, the .eml files (by arrival time) that repeat a
             recipient an earlier one had;
  MISROUTED  copies received by a server that the route may not use;
  BOGUS      copies with an unknown X-Seq or recipient, or a body that
             is not the message's own;
  RESENT     recipients relayqd attempted again (a "to=<RCPT>" line)
             after its log showed their acceptance recorded: a
             "status=sent" line followed, in the same relayqd (before
             the next "=== kill"), by the message's "removed" or
             "tries=N next attempt in" line, which relayqd writes only
             after the unlink or the state file's write;
  UNSTORED   recipients relayqd logged as sent more often than the
             servers received them.
Details go to REPORT, one line per finding.
"""
import collections
import json
import os
import re
import sys


def load_manifest(path):
    msgs = {}  # seq -> (route, [rcpts])
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) >= 3:
                msgs[p[0]] = (p[1], p[2:])
    return msgs


def load_copies(specs):
    """[(time, server, routes, seq, rcpts, body_ok, name)]"""
    copies = []
    hdr = re.compile(rb'^X-Seq: (\S+)\r?$', re.M)
    for spec in specs:
        server, routes, d = spec.split(':', 2)
        routes = set(routes.split(','))
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if not name.endswith('.eml'):
                continue
            base = os.path.join(d, name[:-4])
            with open(base + '.eml', 'rb') as f:
                data = f.read()
            try:
                with open(base + '.env') as f:
                    env = json.load(f)
            except (OSError, ValueError):
                # The server was killed between its two renames: it
                # never answered, so this is no delivery.
                continue
            head, _, body = data.partition(b'\r\n\r\n')
            m = hdr.search(head)
            seq = m.group(1).decode() if m else None
            body_ok = seq is not None and \
                ('body ' + seq + '\r\n').encode() in body
            copies.append((env.get('time', 0.0), server, routes, seq,
                           env.get('rcpt_tos', []), body_ok,
                           os.path.join(os.path.basename(d), name)))
    copies.sort(key=lambda c: c[0])
    return copies


def audit_log(path, report):
    """RESENT count, and how often each recipient was logged as sent."""
    line_re = re.compile(r'^relayqd: ([0-9A-F]{20}): (.*)$')
    to_re = re.compile(r'^to=<([^>]*)> .* status=(\w+)')
    sent = collections.Counter()
    durable = {}  # rcpt -> line number where it became durable
    pend = collections.defaultdict(set)  # id -> rcpts sent, not recorded
    resent = 0
    with open(path, errors='replace') as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip('\n')
            if line.startswith('=== kill'):
                pend.clear()
                continue
            m = line_re.match(line)
            if not m:
                continue
            qid, rest = m.group(1), m.group(2)
            t = to_re.match(rest)
            if t:
                rcpt, status = t.group(1), t.group(2)
                if rcpt in durable:
                    resent += 1
                    report.write('RESENT {} at log line {} ({}), its '
                                 'acceptance recorded at line {}\n'.format(
                                     rcpt, n, status, durable[rcpt]))
                if status == 'sent':
                    sent[rcpt] += 1
                    pend[qid].add(rcpt)
                continue
            if rest.startswith('removed') or (
                    rest.startswith('tries=') and 'next attempt in' in rest):
                for rcpt in pend.pop(qid, ()):
                    durable[rcpt] = n
    return resent, sent


def main():
    manifest, log, report_path = sys.argv[1:4]
    msgs = load_manifest(manifest)
    copies = load_copies(sys.argv[4:])
    got = collections.Counter()
    seen = collections.defaultdict(set)  # seq -> rcpts received so far
    dups = misrouted = bogus = 0
    with open(report_path, 'w') as report:
        for t, server, routes, seq, rcpts, body_ok, name in copies:
            if seq not in msgs or not body_ok or not rcpts:
                bogus += 1
                report.write('BOGUS {} (X-Seq {})\n'.format(name, seq))
                continue
            route, want = msgs[seq]
            if route not in routes:
                misrouted += 1
                report.write('MISROUTED {} {} ({} mail at {})\n'.format(
                    name, seq, route, server))
            if any(r not in want for r in rcpts):
                bogus += 1
                report.write('BOGUS {} {}: recipients {}\n'.format(
                    name, seq, rcpts))
            again = [r for r in rcpts if r in seen[seq]]
            if again:
                dups += 1
                report.write('DUP {} {} at {}: {}\n'.format(
                    name, seq, server, ' '.join(again)))
            seen[seq].update(rcpts)
            for r in rcpts:
                got[r] += 1
        lost = 0
        for seq in sorted(msgs):
            for r in msgs[seq][1]:
                if got[r] == 0:
                    lost += 1
                    report.write('LOST {} {}\n'.format(seq, r))
        resent, sent = audit_log(log, report)
        unstored = 0
        for r, k in sorted(sent.items()):
            if k > got[r]:
                unstored += 1
                report.write('UNSTORED {}: logged sent {} times, received '
                             '{}\n'.format(r, k, got[r]))
    print('SUBMITTED={} LOST={} DUPS={} MISROUTED={} BOGUS={} RESENT={} '
          'UNSTORED={}'.format(len(msgs), lost, dups, misrouted, bogus,
                               resent, unstored))


if __name__ == '__main__':
    main()
