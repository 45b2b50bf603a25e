#!/usr/bin/python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
"""A real SMTP server for relayq's integration tests: Debian's aiosmtpd.

It listens on 127.0.0.1, stores every accepted message as NNNN.eml (the
bytes received, dot-unstuffed, CRLF kept) and NNNN.env (JSON: mail_from,
rcpt_tos, mail_options, session number) in --maildir, written atomically,
and appends one line per EHLO/HELO to --maildir/sessions.  Recipients whose
address contains a --rcpt-reply PATTERN get that reply instead of 250, so
tests can script per-recipient 4xx/5xx.  Stops on SIGTERM.
"""
import argparse
import itertools
import json
import os
import signal
import sys

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, maildir, rcpt_replies, data_reply):
        self.maildir = maildir
        self.rcpt_replies = rcpt_replies
        self.data_reply = data_reply
        self.seq = itertools.count(1)
        self.sessions = 0

    async def handle_EHLO(self, server, session, envelope, hostname,
                          responses):
        self._session(server, session, 'EHLO', hostname)
        session.host_name = hostname
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        self._session(server, session, 'HELO', hostname)
        session.host_name = hostname
        return '250 {}'.format(server.hostname)

    def _session(self, server, session, verb, hostname):
        if not getattr(session, 'relayq_counted', False):
            session.relayq_counted = True
            self.sessions += 1
            session.relayq_no = self.sessions
        with open(os.path.join(self.maildir, 'sessions'), 'a') as f:
            f.write('{} {} {}\n'.format(session.relayq_no, verb, hostname))

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        for pattern, reply in self.rcpt_replies:
            if pattern in address:
                return reply
        envelope.rcpt_tos.append(address)
        return '250 2.1.5 OK'

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        n = next(self.seq)
        base = os.path.join(self.maildir, '{:04d}'.format(n))
        meta = {
            'mail_from': envelope.mail_from,
            'rcpt_tos': envelope.rcpt_tos,
            'mail_options': envelope.mail_options,
            'session': getattr(session, 'relayq_no', 0),
        }
        for ext, data in (('.eml', envelope.original_content),
                          ('.env', json.dumps(meta).encode())):
            tmp = base + ext + '.tmp'
            with open(tmp, 'wb') as f:
                f.write(data)
            os.rename(tmp, base + ext)
        return '250 2.0.0 Ok: queued as {:04d}'.format(n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--maildir', required=True)
    ap.add_argument('--rcpt-reply', action='append', default=[],
                    help='PATTERN=REPLY, e.g. "tmp=451 4.3.0 try later"')
    ap.add_argument('--data-reply', default='')
    ap.add_argument('--pidfile')
    args = ap.parse_args()
    os.makedirs(args.maildir, exist_ok=True)
    replies = []
    for spec in args.rcpt_reply:
        pattern, _, reply = spec.partition('=')
        replies.append((pattern, reply))
    handler = Handler(args.maildir, replies, args.data_reply)
    ctl = Controller(handler, hostname='127.0.0.1', port=args.port,
                     server_hostname='sink.test', decode_data=False,
                     ready_timeout=10)
    ctl.start()
    if args.pidfile:
        with open(args.pidfile + '.tmp', 'w') as f:
            f.write('{}\n'.format(os.getpid()))
        os.rename(args.pidfile + '.tmp', args.pidfile)
    signal.signal(signal.SIGTERM, lambda *a: (ctl.stop(), sys.exit(0)))
    signal.signal(signal.SIGINT, lambda *a: (ctl.stop(), sys.exit(0)))
    while True:
        signal.pause()


if __name__ == '__main__':
    main()
