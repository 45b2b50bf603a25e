#!/usr/bin/python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
"""Audits the X-Seq headers of the messages an SMTP sink stored.

usage: seqcheck.py MAILDIR PREFIX N LOSTFILE [COUNTFILE]

Reads every MAILDIR/*.eml (smtpserver.py's format: the DATA bytes),
takes each "X-Seq: PREFIX-K" header, and prints shell assignments:
SEEN (distinct K in 1..N received), LOST (K in 1..N never received),
DUPS (copies beyond the first, summed), BOGUS (PREFIX-K outside 1..N,
or a message whose body does not match its header: the body repeats
the sequence number, so a mixed-up message is caught).  The lost
numbers go to LOSTFILE, one per line; COUNTFILE, when given, gets
"K COPIES" for every K in 1..N.
"""
import collections
import os
import re
import sys


def main():
    maildir, prefix, n, lostfile = sys.argv[1], sys.argv[2], \
        int(sys.argv[3]), sys.argv[4]
    seen = collections.Counter()
    bogus = 0
    hdr = re.compile(rb'^X-Seq: ' + re.escape(prefix.encode()) +
                     rb'-(\d+)\r?$', re.M)
    names = os.listdir(maildir) if os.path.isdir(maildir) else []
    for name in names:
        if not name.endswith('.eml'):
            continue
        with open(os.path.join(maildir, name), 'rb') as f:
            data = f.read()
        head, _, body = data.partition(b'\r\n\r\n')
        for m in hdr.finditer(head):
            k = int(m.group(1))
            if not 1 <= k <= n:
                bogus += 1
                continue
            tag = '{}-{}'.format(prefix, k).encode()
            if tag not in body:
                bogus += 1
            seen[k] += 1
    lost = [k for k in range(1, n + 1) if seen[k] == 0]
    with open(lostfile, 'w') as f:
        for k in lost:
            f.write('{}\n'.format(k))
    if len(sys.argv) > 5:
        with open(sys.argv[5], 'w') as f:
            for k in range(1, n + 1):
                f.write('{} {}\n'.format(k, seen[k]))
    print('SEEN={} LOST={} DUPS={} BOGUS={}'.format(
        len(seen), len(lost), sum(c - 1 for c in seen.values()), bogus))


if __name__ == '__main__':
    main()
