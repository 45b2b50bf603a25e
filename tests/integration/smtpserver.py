#!/usr/bin/python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
"""A real SMTP server for relayq's integration tests: Debian's aiosmtpd.

It listens on 127.0.0.1 (--host: another address, such as ::1), stores
every accepted message as NNNN.eml (the bytes received, dot-unstuffed,
CRLF kept) and NNNN.env (JSON: mail_from, rcpt_tos, mail_options,
session number) in --maildir, written atomically, and appends one line
per EHLO/HELO to --maildir/sessions.  Recipients whose
address contains a --rcpt-reply PATTERN get that reply instead of 250, so
tests can script per-recipient 4xx/5xx; the reply is sent as the exact
bytes of the argument (os.fsencode), so it may hold bytes that are not
UTF-8.  --auth offers PLAIN and LOGIN,
--xoauth2 offers XOAUTH2 (Google's bearer-token mechanism, which aiosmtpd
lacks: Handler.auth_XOAUTH2) and OAUTHBEARER (RFC 7628); with
--oauth2-state they accept exactly the unexpired access tokens that
fakeoauth2.py issued, and refuse others as Gmail does; --auth-challenge offers CRAM-MD5 and
SCRAM-SHA-256 too (RFC 2195, 5802: server challenges, checked against
--auth's password; the base64 of each challenge these and XOAUTH2 send is
appended to --maildir/challenges); every AUTH try is logged to
--maildir/commands as "AUTH MECH USER ok|failed", never with the secret,
every RCPT as "RCPT ADDRESS CODE" (the code it was answered with), every
RSET as "RSET", every message received as "DATA" and every QUIT as
"QUIT session=N tls=BOOL" (--quit-stall: never answered).  --auth-reply
REPLY answers every AUTH PLAIN and LOGIN with REPLY (for example
Exchange Online's "550 5.7.30 Basic authentication is not supported for
Client Submission"), logged as "AUTH MECH ? refused".
--down-while FILE plays a smarthost in trouble: while FILE exists, every
connection gets --down-reply (default "421 4.3.2 down") as its greeting
and is closed; the test removes FILE to bring it back (a one-way switch,
noticed within 20 ms, or at once by the next connection).
--conn-log FILE records, one line each, "T conn N port=P uid=U held=H
reply=421|220" for every connection, "T ehlo N NAME", "T data N" (a
message stored), and "T up" (the switch), T being the event loop's
clock at the event (time.monotonic(): CLOCK_MONOTONIC, comparable with
other processes'); a connection's T is its accept.  U is the uid that
owns the client's end of the connection and H the number of connections
to this port that uid has open (connecting or established) at that
moment, read from /proc/net/tcp while the client waits for the
greeting: a test that runs each client under a uid of its own knows
which client connected and how many connections it held.
--hold-every N --hold-dir DIR lets a test act at a given point of the
delivery, however fast the machine: when the Nth, 2Nth... message's
final dot arrives (up to --hold-max times), the server stores it,
creates DIR/held.K and holds its reply, and the reply of every other
message arriving meanwhile, until the test creates DIR/go.K.
Every TCP connection is logged to --maildir/connections as "open N K"
and "close N K" (connection N; K connections open after it), so tests
can count attempts and concurrent sessions; while the --down-file
exists, a new connection gets "421 4.3.2 down" instead of a greeting
and is closed (the line is "open N K down").  --host picks the address
to listen on (127.0.0.1 by default; ::1 for IPv6).
--throttle N answers the first N MAIL commands with --throttle-reply
(default "421 4.7.0 Too many messages, slow down"), as a provider
does past its rate, logged as "MAIL ADDRESS CODE".  Each .env also
records "time", when the message's data arrived (time.time()).
Stops on SIGTERM.
"""
import argparse
import asyncio
import base64
import binascii
import hashlib
import hmac
import itertools
import json
import os
import signal
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, LoginPassword


class Connections:
    """The --maildir/connections log and the --down-file switch."""

    def __init__(self, maildir, down_file):
        self.path = os.path.join(maildir, 'connections')
        self.down_file = down_file
        self.count = 0
        self.open = set()
        # False while Controller.start() makes its own test connection
        self.active = False

    def log(self, line):
        with open(self.path, 'a') as f:
            f.write(line + '\n')

    def is_down(self):
        return bool(self.down_file) and os.path.exists(self.down_file)


class CountingSMTP(SMTP):
    """aiosmtpd's SMTP, with connections logged and the down switch."""

    def __init__(self, handler, conns, **kw):
        super().__init__(handler, **kw)
        self.relayq_conns = conns
        self.relayq_counted = conns.active
        self.relayq_no = 0
        self.relayq_down = False

    def connection_made(self, transport):
        first = self._original_transport is None and self.relayq_no == 0
        super().connection_made(transport)
        if first and self.relayq_counted:
            c = self.relayq_conns
            c.count += 1
            self.relayq_no = c.count
            c.open.add(self.relayq_no)
            self.relayq_down = c.is_down()
            c.log('open {} {}{}'.format(self.relayq_no, len(c.open),
                                        ' down' if self.relayq_down else ''))

    def connection_lost(self, error):
        c = self.relayq_conns
        if self.relayq_no in c.open:
            c.open.discard(self.relayq_no)
            c.log('close {} {}'.format(self.relayq_no, len(c.open)))
        super().connection_lost(error)

    async def _handle_client(self):
        if self.relayq_down:
            await self.push('421 4.3.2 down')
            self.transport.close()
            return
        await super()._handle_client()


class CountingController(Controller):
    def __init__(self, handler, conns, **kw):
        self.relayq_conns = conns
        super().__init__(handler, **kw)

    def factory(self):
        return CountingSMTP(self.handler, self.relayq_conns,
                            **self.SMTP_kwargs)


def uses_tls(server, session):
    """True after STARTTLS, and on an implicit-TLS connection."""
    return bool(session.ssl) or (
        server.transport is not None and
        server.transport.get_extra_info('ssl_object') is not None)


class Fleet:
    """--down-while and --conn-log: a smarthost that is down until the
    test says otherwise, and who connected when (issue 17)."""

    def __init__(self, down_file, down_reply, conn_log, port):
        self.down_file = down_file
        self.down = down_file is not None
        self.down_reply = down_reply
        self.log = open(conn_log, 'a') if conn_log else None
        self.port = port
        self.conns = itertools.count(1)
        self.trigger_seen = False  # the Controller's start-up check

    def record(self, t, text):
        if self.log is not None:
            self.log.write('{:.6f} {}\n'.format(t, text))
            self.log.flush()

    def is_down(self):
        """The gate; flips (once) when the down file is gone."""
        if self.down and not os.path.exists(self.down_file):
            self.down = False
            self.record(asyncio.get_running_loop().time(), 'up')
        return self.down

    async def poll(self):
        """Notices the switch without waiting for a connection."""
        while self.is_down():
            await asyncio.sleep(0.02)

    def _client_socks(self):
        """[(inode, local port, state, uid)] of the client ends of TCP
        connections to our port (/proc/net/tcp, hex ports and state)."""
        socks = []
        with open('/proc/net/tcp') as f:
            next(f)
            for line in f:
                p = line.split()
                if len(p) >= 10 and int(p[2].split(':')[1], 16) == self.port:
                    socks.append((int(p[9]), int(p[1].split(':')[1], 16),
                                  p[3], p[7]))
        return socks

    @staticmethod
    def _sock_inodes(pid):
        inodes = set()
        for fd in os.listdir('/proc/{}/fd'.format(pid)):
            try:
                link = os.readlink('/proc/{}/fd/{}'.format(pid, fd))
            except OSError:
                continue
            if link.startswith('socket:['):
                inodes.add(int(link[8:-1]))
        return inodes

    def owner(self, peer_port):
        """(uid, connections that uid has open to us) for the client at
        PEER_PORT, from one read of /proc/net/tcp while the client waits
        for the greeting; ('-', 0) if it is not there; None for the
        Controller's own start-up check (a connection from us)."""
        socks = self._client_socks()
        mine = [s for s in socks if s[1] == peer_port and s[0] != 0]
        if not mine:
            return '-', 0
        if (not self.trigger_seen and
                mine[0][0] in self._sock_inodes(os.getpid())):
            self.trigger_seen = True
            return None
        uid = mine[0][3]
        # 01 ESTABLISHED, 02 SYN_SENT: a socket the server closed and the
        # client has not yet (CLOSE_WAIT) is no connection any more.
        return uid, sum(1 for s in socks
                        if s[3] == uid and s[2] in ('01', '02'))


class FleetSMTP(SMTP):
    """aiosmtpd's SMTP with Fleet's gate before the greeting."""

    def __init__(self, handler, fleet, **kw):
        super().__init__(handler, **kw)
        self.fleet = fleet
        self.accepted = 0.0

    def connection_made(self, transport):
        if self.transport is None:  # not the STARTTLS upgrade
            self.accepted = self.loop.time()
        super().connection_made(transport)

    async def _handle_client(self):
        fleet = self.fleet
        who = fleet.owner(self.session.peer[1])
        if who is None:
            return await super()._handle_client()
        n = next(fleet.conns)
        self.session.relayq_conn = n
        uid, held = who
        down = fleet.is_down()
        fleet.record(self.accepted, 'conn {} port={} uid={} held={} '
                     'reply={}'.format(n, self.session.peer[1], uid, held,
                                       fleet.down_reply[:3] if down
                                       else '220'))
        if down:
            await self.push(fleet.down_reply)
            self.transport.close()
            return
        await super()._handle_client()


class FleetController(Controller):
    def __init__(self, handler, fleet, **kw):
        self.fleet = fleet
        super().__init__(handler, **kw)

    def factory(self):
        return FleetSMTP(self.handler, self.fleet, **self.SMTP_kwargs)


class Handler:
    def __init__(self, maildir, rcpt_replies, data_reply, xoauth2=None,
                 hold=None, quit_stall=False, login=None, fleet=None,
                 throttle=0, throttle_reply=''):
        self.maildir = maildir
        self.fleet = fleet
        self.throttle = throttle  # MAIL commands still to throttle
        self.throttle_reply = throttle_reply
        self.hold = hold  # (every, max, dir), or None
        self.arrived = 0
        self.holds = 0  # holds so far
        self.holding = 0  # K while DIR/go.K is awaited
        self.quit_stall = quit_stall
        self.login = login  # (user, password) as bytes, or None
        self.cmdlog = os.path.join(maildir, 'commands')
        self.rcpt_replies = rcpt_replies
        self.data_reply = data_reply
        self.xoauth2 = xoauth2  # (user, token) as bytes, or None
        self.oauth2_state = None  # fakeoauth2.py --state file, or None
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
            if self.fleet is not None:
                self.fleet.record(server.loop.time(), 'ehlo {} {}'.format(
                    getattr(session, 'relayq_conn', 0), hostname))
        with open(os.path.join(self.maildir, 'sessions'), 'a') as f:
            f.write('{} {} {}\n'.format(session.relayq_no, verb, hostname))

    def log(self, line):
        with open(self.cmdlog, 'a') as f:
            f.write(line + '\n')

    @staticmethod
    async def _initial(server, args):
        """The client's first message: the initial response, or the
        answer to an empty 334.  MISSING (the reply already sent) when
        it is cancelled or not base64."""
        if len(args) != 2:
            return await server.challenge_auth('')
        try:
            return base64.b64decode(args[1], validate=True)
        except (binascii.Error, ValueError):
            await server.push("501 5.5.2 Can't decode base64")
            return MISSING

    async def auth_XOAUTH2(self, server, args):
        """XOAUTH2: base64("user=U^Aauth=Bearer T^A^A"), as the initial
        response or after an empty 334.  aiosmtpd finds this method by its
        name and calls it with the SMTP instance; it must return an
        AuthResult.  A wrong token gets Google's answer: a 334 with a
        base64 JSON error, the client's empty line, then 535."""
        data = await self._initial(server, args)
        if data is MISSING:
            return AuthResult(success=False, handled=True)
        fields = data.split(b'\x01')
        user = token = None
        if (len(fields) == 4 and fields[0].startswith(b'user=') and
                fields[1].startswith(b'auth=Bearer ') and
                fields[2:] == [b'', b'']):
            user = fields[0][len(b'user='):]
            token = fields[1][len(b'auth=Bearer '):]
        ok = self._token_ok(user, token)
        self.log('AUTH XOAUTH2 {} {}'.format(
            user.decode(errors='replace') if user is not None else '?',
            'ok' if ok else 'failed'))
        if ok:
            server.session.relayq_login = user.decode()
            return AuthResult(success=True,
                              auth_data=LoginPassword(user, b''))
        err = (b'{"status":"401","schemes":"bearer",'
               b'"scope":"https://mail.google.com/"}')
        if await self._challenge(server, err) is MISSING:
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False)

    async def handle_RSET(self, server, session, envelope):
        self.log('RSET')
        return MISSING

    def refuse_auth(self, reply):
        """Answers AUTH PLAIN and LOGIN with reply, whatever was sent
        (installed as the handler's auth_PLAIN and auth_LOGIN, which take
        the place of aiosmtpd's own)."""
        def make(mech):
            async def refuse(server, args):
                self.log('AUTH {} ? refused'.format(mech))
                await server.push(reply)
                return AuthResult(success=False, handled=True)
            return refuse
        for mech in ('PLAIN', 'LOGIN'):
            setattr(self, 'auth_' + mech, make(mech))
    def _token_ok(self, user, token):
        """--xoauth2 USER:TOKEN: that token; with --oauth2-state FILE
        (fakeoauth2.py's state) and --xoauth2 USER: (no token) any access
        token the fake issued that has not expired yet."""
        if self.xoauth2 is None or user != self.xoauth2[0] or token is None:
            return False
        if self.oauth2_state is None:
            return token == self.xoauth2[1]
        try:
            with open(self.oauth2_state) as f:
                access = json.load(f).get('access', {})
        except (OSError, ValueError):
            return False
        exp = access.get(token.decode(errors='replace'))
        return exp is not None and exp > time.time()

    async def auth_OAUTHBEARER(self, server, args):
        """OAUTHBEARER (RFC 7628): base64("n,a=U,^Ahost=H^Aport=P^A
        auth=Bearer T^A^A").  A refused token gets the RFC's answer: a 334
        with a base64 JSON error, the client's ^A, then 535."""
        data = await self._initial(server, args)
        if data is MISSING:
            return AuthResult(success=False, handled=True)
        user = token = None
        head, _, rest = data.partition(b'\x01')
        gs2 = head.split(b',')
        if len(gs2) >= 2 and gs2[1].startswith(b'a='):
            user = gs2[1][2:]
        for kv in rest.split(b'\x01'):
            if kv.startswith(b'auth=Bearer '):
                token = kv[len(b'auth=Bearer '):]
        ok = self._token_ok(user, token)
        self.log('AUTH OAUTHBEARER {} {}'.format(
            user.decode(errors='replace') if user is not None else '?',
            'ok' if ok else 'failed'))
        if ok:
            server.session.relayq_login = user.decode()
            return AuthResult(success=True,
                              auth_data=LoginPassword(user, b''))
        err = b'{"status":"invalid_token","scope":"mail"}'
        if await self._challenge(server, err) is MISSING:
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False)

    async def handle_QUIT(self, server, session, envelope):
        self.log('QUIT session={} tls={}'.format(
            getattr(session, 'relayq_no', 0), uses_tls(server, session)))
        if self.quit_stall:
            await asyncio.sleep(3600)
        return MISSING

    def _auth_done(self, server, mech, user, ok):
        self.log('AUTH {} {} {}'.format(
            mech, user.decode(errors='replace') if user else '?',
            'ok' if ok else 'failed'))
        if ok:
            server.session.relayq_login = user.decode()
            return AuthResult(success=True,
                              auth_data=LoginPassword(user, b''))
        return AuthResult(success=False, handled=False)

    async def _challenge(self, server, data):
        """server.challenge_auth(data), recording the base64 challenge
        in --maildir/challenges (tests check that nobody shows it)."""
        if data:
            with open(os.path.join(self.maildir, 'challenges'), 'a') as f:
                f.write(base64.b64encode(data).decode() + '\n')
        return await server.challenge_auth(data)

    async def auth_CRAM__MD5(self, server, args):
        """CRAM-MD5: a 334 challenge, then "user HEX(HMAC-MD5)"."""
        if len(args) != 1:
            await server.push('501 5.5.4 No initial response allowed')
            return AuthResult(success=False, handled=True)
        challenge = '<{}.{}@sink.test>'.format(
            binascii.hexlify(os.urandom(8)).decode(), os.getpid()).encode()
        data = await self._challenge(server, challenge)
        if data is MISSING:
            return AuthResult(success=False, handled=True)
        user, _, digest = data.rpartition(b' ')
        ok = (self.login is not None and user == self.login[0] and
              hmac.compare_digest(digest, hmac.new(
                  self.login[1], challenge, 'md5').hexdigest().encode()))
        return self._auth_done(server, 'CRAM-MD5', user, ok)

    async def auth_SCRAM__SHA__256(self, server, args):
        """SCRAM-SHA-256 without channel binding: client-first (initial
        response or after an empty 334), 334 server-first (nonce, salt,
        iterations), client-final with the proof, 334 with the server
        signature, the client's empty line, then 235."""
        first = await self._initial(server, args)
        if first is MISSING:
            return AuthResult(success=False, handled=True)
        if not first.startswith(b'n,,'):
            return self._auth_done(server, 'SCRAM-SHA-256', None, False)
        bare = first[3:]
        attrs = dict(a.split(b'=', 1) for a in bare.split(b',') if b'=' in a)
        user, cnonce = attrs.get(b'n', b''), attrs.get(b'r', b'')
        salt, iters = os.urandom(16), 4096
        nonce = cnonce + base64.b64encode(os.urandom(18))
        sfirst = b'r=' + nonce + b',s=' + base64.b64encode(salt) + \
            b',i=' + str(iters).encode()
        final = await self._challenge(server, sfirst)
        if final is MISSING:
            return AuthResult(success=False, handled=True)
        without_proof, _, proof = final.rpartition(b',p=')
        password = self.login[1] if self.login is not None else b''
        salted = hashlib.pbkdf2_hmac('sha256', password, salt, iters)
        ckey = hmac.new(salted, b'Client Key', 'sha256').digest()
        stored = hashlib.sha256(ckey).digest()
        authmsg = bare + b',' + sfirst + b',' + without_proof
        csig = hmac.new(stored, authmsg, 'sha256').digest()
        try:
            got = base64.b64decode(proof, validate=True)
        except (binascii.Error, ValueError):
            got = b''
        ok = (self.login is not None and user == self.login[0] and
              without_proof.startswith(b'c=biws,r=' + nonce) and
              len(got) == len(csig) and hmac.compare_digest(
                  hashlib.sha256(bytes(
                      a ^ b for a, b in zip(got, csig))).digest(), stored))
        if ok:
            skey = hmac.new(salted, b'Server Key', 'sha256').digest()
            ssig = hmac.new(skey, authmsg, 'sha256').digest()
            if await self._challenge(
                    server, b'v=' + base64.b64encode(ssig)) is MISSING:
                return AuthResult(success=False, handled=True)
        return self._auth_done(server, 'SCRAM-SHA-256', user, ok)

    async def handle_MAIL(self, server, session, envelope, address,
                          mail_options):
        if self.throttle > 0:
            self.throttle -= 1
            self.log('MAIL {} {}'.format(address, self.throttle_reply[:3]))
            return self.throttle_reply
        self.log('MAIL {} tls={} auth={}'.format(
            address, uses_tls(server, session), session.authenticated))
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return '250 2.1.0 OK'

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        for pattern, reply in self.rcpt_replies:
            if pattern in address:
                self.log('RCPT {} {}'.format(address, reply[:3]))
                return os.fsencode(reply)
        self.log('RCPT {} 250'.format(address))
        envelope.rcpt_tos.append(address)
        return '250 2.1.5 OK'

    async def _hold(self):
        """The --hold-every gate (bounded: 600 s a hold)."""
        if self.hold is None:
            return
        every, limit, hdir = self.hold
        self.arrived += 1
        # A hold ends when its go file exists, even if every message it
        # held was cancelled (the client died) before seeing it.
        if self.holding and os.path.exists(
                os.path.join(hdir, 'go.{}'.format(self.holding))):
            self.holding = 0
        if (not self.holding and self.holds < limit and
                self.arrived >= (self.holds + 1) * every):
            self.holds += 1
            self.holding = self.holds
            open(os.path.join(hdir, 'held.{}'.format(self.holds)),
                 'w').close()
        k = self.holding
        if not k:
            return
        go = os.path.join(hdir, 'go.{}'.format(k))
        for _ in range(12000):
            if os.path.exists(go):
                break
            await asyncio.sleep(0.05)
        if self.holding == k:
            self.holding = 0

    async def handle_DATA(self, server, session, envelope):
        self.log('DATA')
        if self.data_reply:
            return self.data_reply
        n = next(self.seq)
        base = os.path.join(self.maildir, '{:04d}'.format(n))
        meta = {
            'mail_from': envelope.mail_from,
            'rcpt_tos': envelope.rcpt_tos,
            'mail_options': envelope.mail_options,
            'session': getattr(session, 'relayq_no', 0),
            'tls': uses_tls(server, session),
            'auth': session.authenticated,
            'login': getattr(session, 'relayq_login', None),
            'time': time.time(),
        }
        for ext, data in (('.eml', envelope.original_content),
                          ('.env', json.dumps(meta).encode())):
            tmp = base + ext + '.tmp'
            with open(tmp, 'wb') as f:
                f.write(data)
            os.rename(tmp, base + ext)
        if self.fleet is not None:
            self.fleet.record(server.loop.time(), 'data {}'.format(
                getattr(session, 'relayq_conn', 0)))
        await self._hold()
        return '250 2.0.0 Ok: queued as {:04d}'.format(n)


class Authenticator:
    """Accepts one user/password for PLAIN and LOGIN; logs every try."""

    def __init__(self, handler, user, password):
        self.handler = handler
        self.user = user.encode()
        self.password = password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and
              auth_data.login == self.user and
              auth_data.password == self.password)
        self.handler.log('AUTH {} {} {}'.format(
            mechanism, auth_data.login.decode(errors='replace')
            if isinstance(auth_data, LoginPassword) else '?',
            'ok' if ok else 'failed'))
        if ok:
            session.relayq_login = self.user.decode()
        return AuthResult(success=ok, handled=False)


def tls_context(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.tls_cert, args.tls_key)
    if args.client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(args.client_ca)
    return ctx


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--down-file',
                    help='while this file exists: 421 at the greeting')
    ap.add_argument('--maildir', required=True)
    ap.add_argument('--rcpt-reply', action='append', default=[],
                    help='PATTERN=REPLY, e.g. "tmp=451 4.3.0 try later"')
    ap.add_argument('--data-reply', default='')
    ap.add_argument('--pidfile')
    ap.add_argument('--tls-cert', help='offer STARTTLS with this cert')
    ap.add_argument('--tls-key')
    ap.add_argument('--implicit', action='store_true',
                    help='TLS from the first byte (port 465 style)')
    ap.add_argument('--client-ca', help='require a client certificate')
    ap.add_argument('--auth', help='USER:PASSWORD: offer AUTH PLAIN LOGIN')
    ap.add_argument('--auth-plaintext', action='store_true',
                    help='offer AUTH without TLS too')
    ap.add_argument('--xoauth2', help='USER:TOKEN: offer AUTH XOAUTH2 '
                    'and OAUTHBEARER')
    ap.add_argument('--oauth2-state', help="fakeoauth2.py's --state file: "
                    "accept the unexpired access tokens it issued")
    ap.add_argument('--hold-every', type=int, default=0)
    ap.add_argument('--hold-max', type=int, default=1 << 30)
    ap.add_argument('--hold-dir')
    ap.add_argument('--quit-stall', action='store_true',
                    help='never answer QUIT (it is still logged)')
    ap.add_argument('--auth-challenge', action='store_true',
                    help='with --auth: offer CRAM-MD5 and SCRAM-SHA-256 too')
    ap.add_argument('--auth-reply',
                    help='with --auth: answer AUTH PLAIN and LOGIN so')
    ap.add_argument('--down-while', metavar='FILE',
                    help='greet with --down-reply while FILE exists')
    ap.add_argument('--down-reply', default='421 4.3.2 down')
    ap.add_argument('--conn-log', metavar='FILE',
                    help='record connections, EHLOs, messages, the switch')
    ap.add_argument('--throttle', type=int, default=0,
                    help='answer the first N MAIL commands with '
                    '--throttle-reply')
    ap.add_argument('--throttle-reply',
                    default='421 4.7.0 Too many messages, slow down')
    args = ap.parse_args()
    os.makedirs(args.maildir, exist_ok=True)
    replies = []
    for spec in args.rcpt_reply:
        pattern, _, reply = spec.partition('=')
        replies.append((pattern, reply))
    xoauth2 = None
    if args.xoauth2:
        user, _, token = args.xoauth2.partition(':')
        xoauth2 = (user.encode(), token.encode())
    hold = None
    if args.hold_every > 0:
        os.makedirs(args.hold_dir, exist_ok=True)
        hold = (args.hold_every, args.hold_max, args.hold_dir)
    login = None
    if args.auth:
        user, _, password = args.auth.partition(':')
        login = (user.encode(), password.encode())
    fleet = None
    if args.down_while or args.conn_log:
        fleet = Fleet(args.down_while, args.down_reply, args.conn_log,
                      args.port)
    handler = Handler(args.maildir, replies, args.data_reply, xoauth2, hold,
                      args.quit_stall, login, fleet, args.throttle,
                      args.throttle_reply)
    if args.auth_reply:
        handler.refuse_auth(args.auth_reply)
    handler.oauth2_state = args.oauth2_state
    kw = {'auth_require_tls': not args.auth_plaintext,
          'auth_exclude_mechanism': []}
    if not args.xoauth2:
        kw['auth_exclude_mechanism'] += ['XOAUTH2', 'OAUTHBEARER']
    if not (args.auth and args.auth_challenge):
        kw['auth_exclude_mechanism'] += ['CRAM-MD5', 'SCRAM-SHA-256']
    if args.tls_cert:
        if args.implicit:
            kw['ssl_context'] = tls_context(args)
        else:
            kw['tls_context'] = tls_context(args)
    if args.auth:
        user, _, password = args.auth.partition(':')
        kw['authenticator'] = Authenticator(handler, user, password)
    if fleet is not None:
        kw.update(hostname=args.host, port=args.port,
                  server_hostname='sink.test', decode_data=False,
                  ready_timeout=120)
        ctl = FleetController(handler, fleet, **kw)
        ctl.start()
        if fleet.down:
            ctl.loop.call_soon_threadsafe(
                lambda: ctl.loop.create_task(fleet.poll()))
    else:
        conns = Connections(args.maildir, args.down_file)
        ctl = CountingController(handler, conns, hostname=args.host,
                                 port=args.port, server_hostname='sink.test',
                                 decode_data=False, ready_timeout=120, **kw)
        ctl.start()
        conns.active = True
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
