#!/usr/bin/python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
"""Audits the raw client bytes faultsmtpd.py recorded (DIR/wire-N) for
SMTP smuggling and command injection.

usage: wirecheck.py DIR

Each session is re-read the way a strict server reads it: command lines
end in CRLF; after DATA the content runs to the first CRLF "." CRLF.
(Run the server without faults, so that every DATA got 354.)  Prints
shell assignments:
  NCMD       command lines seen
  BADCMD     command lines that are not a well-formed EHLO, MAIL FROM:<>,
             RCPT TO:<>, DATA, RSET, NOOP or QUIT (an injected or broken
             command), or that carry a bare CR or LF
  NDATA      DATA sections
  BARE       DATA sections with a bare CR or a bare LF
  DOTLINE    DATA sections with a line that a lenient server could take
             for the end of data: "." alone between any mix of CR and LF
  EVIL       command lines naming "evil" (an injected MAIL or RCPT)
  MAILS      MAIL FROM addresses, comma-separated
  RCPTS      RCPT TO addresses, comma-separated
and writes the un-stuffed content of every DATA section to DIR/data-N-K.
"""
import os
import re
import sys

CMD = re.compile(rb'^(EHLO [!-~]+|HELO [!-~]+|MAIL FROM:<[^<>\s]*>( [A-Z0-9=+-]+)*'
                 rb'|RCPT TO:<[^<>\s]*>( [A-Z0-9=+;-]+)*|DATA|RSET|NOOP|QUIT)$')
# "." alone on a line, for any of CRLF, LF, CR as line ends.
LENIENT_END = re.compile(rb'(^|\r\n|\n|\r)\.(\r\n|\n|\r)')


def sessions(d):
    for name in sorted(os.listdir(d)):
        m = re.match(r'^wire-(\d+)$', name)
        if m:
            with open(os.path.join(d, name), 'rb') as f:
                yield int(m.group(1)), f.read()


def main():
    d = sys.argv[1]
    ncmd = bad = ndata = bare = dotline = evil = 0
    mails, rcpts = [], []
    for sno, wire in sessions(d):
        pos, k = 0, 0
        while pos < len(wire):
            end = wire.find(b'\r\n', pos)
            if end == -1:
                line, pos = wire[pos:], len(wire)
            else:
                line, pos = wire[pos:end], end + 2
            ncmd += 1
            if not CMD.match(line) or b'\r' in line or b'\n' in line:
                bad += 1
                print('# bad command line: {!r}'.format(line[:80]),
                      file=sys.stderr)
            if b'evil' in line.lower():
                evil += 1
            if line.startswith(b'MAIL FROM:'):
                mails.append(line[10:].split(b' ')[0].decode('ascii', 'replace'))
            elif line.startswith(b'RCPT TO:'):
                rcpts.append(line[8:].split(b' ')[0].decode('ascii', 'replace'))
            if line.upper() != b'DATA':
                continue
            # the content, up to CRLF . CRLF
            raw = b'\r\n' + wire[pos:]
            e = raw.find(b'\r\n.\r\n')
            if e == -1:
                content, pos = raw[2:], len(wire)
            else:
                content = raw[2:e + 2]
                pos += e + 3
            ndata += 1
            k += 1
            if re.search(rb'\r(?!\n)|(?<!\r)\n', content):
                bare += 1
            if LENIENT_END.search(content):
                dotline += 1
            lines = content.split(b'\r\n')
            unstuffed = b'\r\n'.join(l[1:] if l.startswith(b'.') else l
                                     for l in lines)
            with open(os.path.join(d, 'data-{}-{}'.format(sno, k)),
                      'wb') as f:
                f.write(unstuffed)
    print('NCMD={} BADCMD={} NDATA={} BARE={} DOTLINE={} EVIL={} '
          'MAILS="{}" RCPTS="{}"'.format(ncmd, bad, ndata, bare, dotline,
                                         evil, ','.join(mails),
                                         ','.join(rcpts)))


if __name__ == '__main__':
    main()
