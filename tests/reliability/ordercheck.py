#!/usr/bin/python3
# SPDX-License-Identifier: ISC
# Copyright (c) 2026 The relayq authors
"""R3: checks the order of durability syscalls in an strace log
(ALICE-lite).  The log must come from `strace -f -y -s 80` so that
every fd argument carries its path ("6</spool/tmp/ID>").

usage: ordercheck.py submit TRACE
       ordercheck.py deliver TRACE

Prints one TAP-style line per rule, "ok - ..." or "not ok - ...", and
exits 1 when any rule fails.

submit: for the one message written: open(tmp/ID, O_CREAT|O_EXCL|
O_NOFOLLOW) -> write* -> fsync(file) -> close -> rename(tmp/ID,
incoming/ID) (or link + unlink) -> fsync(incoming/) (or syncfs) ->
exit_group(0), with no write to the file after its fsync.

deliver: for every message relayqd handled:
  accept  rename(incoming/ID, queue/ID) -> fsync(queue/) -> fsync(incoming/)
          before the first MAIL FROM is written for it (relayqd renames a
          batch, then fsyncs both once: the first fsyncs after the rename
          count);
  state   every state file: write* -> fsync -> rename(state/ID.tmp,
          state/ID) -> fsync(state/), and all of that before the next
          MAIL FROM and before the message's unlink (state made durable
          before it is relied on, and before unlink);
  remove  unlink(queue/ID) only after the final dot was written and a
          reply read.  A message with a state file: fsync(queue/) before
          unlink(state/ID), and fsync(state/) after it.  A message that
          never had one: no unlink(state/ID) at all, and no fsync of
          queue/ is required (a crash can only bring it back: a
          duplicate, never a loss).
"""
import re
import sys

LINE = re.compile(r'^(\d+)\s+(?:[\d:.]+\s+)?(\w+)\((.*)\)\s+=\s+(-?\d+|\?)')
STR = re.compile(r'"((?:[^"\\]|\\.)*)"')


class Ev:
    def __init__(self, i, pid, name, args, ret):
        self.i, self.pid, self.name, self.args, self.ret = \
            i, pid, name, args, ret
        self.strs = STR.findall(args)
        # paths of fd arguments, in order
        self.fds = re.findall(r'(?:^|, )(-?\d+)<([^>]*)>', args)

    def fdpath(self, k=0):
        return self.fds[k][1] if len(self.fds) > k else None


def parse(path):
    evs, pending = [], {}
    with open(path, errors='replace') as f:
        for raw in f:
            raw = raw.rstrip('\n')
            m = re.match(r'^(\d+)\s+(?:[\d:.]+\s+)?(.*)<unfinished \.\.\.>$',
                         raw)
            if m:
                pending[m.group(1)] = m.group(2)
                continue
            m = re.match(r'^(\d+)\s+(?:[\d:.]+\s+)?<\.\.\. \w+ resumed>(.*)$',
                         raw)
            if m and m.group(1) in pending:
                raw = '{} {}{}'.format(m.group(1), pending.pop(m.group(1)),
                                       m.group(2))
            m = re.match(r'^(\d+)\s+(?:[\d:.]+\s+)?\+\+\+ exited with (\d+)',
                         raw)
            if m:
                evs.append(Ev(len(evs), m.group(1), '+exit', '', m.group(2)))
                continue
            m = LINE.match(raw)
            if m:
                ret = m.group(4)
                evs.append(Ev(len(evs), m.group(1), m.group(2), m.group(3),
                              int(ret) if ret != '?' else None))
    return evs


class Report:
    def __init__(self):
        self.failed = 0
        self.n = 0

    def ok(self, cond, desc):
        self.n += 1
        print('{} - {}'.format('ok' if cond else 'not ok', desc))
        if not cond:
            self.failed += 1


def first(evs, pred, start=0, end=None):
    for e in evs[start:end]:
        if pred(e):
            return e
    return None


def last(evs, pred, start=0, end=None):
    r = None
    for e in evs[start:end]:
        if pred(e):
            r = e
    return r


def is_dirsync(e, dirpath):
    return (e.name == 'fsync' and e.fdpath() == dirpath and e.ret == 0) or \
        (e.name == 'syncfs' and e.ret == 0)


def check_submit(evs, rep):
    op = first(evs, lambda e: e.name == 'openat' and e.ret is not None and
               e.ret >= 0 and e.fdpath(0) is not None and
               e.fdpath(0).endswith('/tmp') and 'O_CREAT' in e.args)
    rep.ok(op is not None, 'submit: the message is created in tmp/')
    if op is None:
        return
    name = op.strs[0] if op.strs else '?'
    tmpdir = op.fdpath(0)
    spool = tmpdir[:-len('/tmp')]
    rep.ok('O_EXCL' in op.args and 'O_NOFOLLOW' in op.args and
           'O_CLOEXEC' in op.args,
           'submit: tmp/{} opened O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC'.format(
               name))
    fd = str(op.ret)
    fpath = tmpdir + '/' + name
    on_file = [e for e in evs[op.i:] if e.fds and e.fds[0][1] == fpath
               and e.fds[0][0] == fd]
    writes = [e for e in on_file if e.name in ('write', 'writev', 'pwrite64')]
    fs = first(on_file, lambda e: e.name in ('fsync', 'fdatasync') and
               e.ret == 0)
    cl = first(on_file, lambda e: e.name == 'close')
    rep.ok(len(writes) > 0 and fs is not None and
           all(w.i < fs.i for w in writes),
           'submit: write* -> fsync(file) ({} writes, none after the fsync)'
           .format(len(writes)))
    rep.ok(fs is not None and cl is not None and fs.i < cl.i and cl.ret == 0,
           'submit: fsync(file) -> close (checked)')
    rn = first(evs, lambda e: e.name in ('renameat2', 'renameat', 'rename',
                                          'linkat', 'link') and
               e.ret == 0 and name in e.strs, op.i)
    rep.ok(rn is not None and cl is not None and rn.i > cl.i and
           (rn.fdpath(1) or '').endswith('/incoming'),
           'submit: close -> {}(tmp/{}, incoming/{})'.format(
               rn.name if rn else 'rename', name, name))
    if rn is not None and rn.name == 'renameat2':
        rep.ok('RENAME_NOREPLACE' in rn.args,
               'submit: the rename never replaces (RENAME_NOREPLACE)')
    ds = first(evs, lambda e: is_dirsync(e, spool + '/incoming'),
               rn.i if rn else 0)
    ex = first(evs, lambda e: e.name == 'exit_group', op.i)
    rep.ok(ds is not None and rn is not None and ds.i > rn.i,
           'submit: rename -> fsync(incoming/) ({})'.format(
               ds.name if ds else 'none'))
    rep.ok(ex is not None and ds is not None and ex.i > ds.i and
           '0' == ex.args.strip(),
           'submit: fsync(incoming/) -> exit_group(0)')


def check_deliver(evs, rep):
    renames = [e for e in evs if e.name in ('renameat2', 'renameat') and
               e.ret == 0 and (e.fdpath(0) or '').endswith('/incoming') and
               (e.fdpath(1) or '').endswith('/queue')]
    rep.ok(len(renames) > 0, 'deliver: {} message(s) accepted from incoming/'
           .format(len(renames)))
    ids = []
    for rn in renames:
        mid = rn.strs[0]
        ids.append(mid)
        qdir, idir = rn.fdpath(1), rn.fdpath(0)
        mail = first(evs, lambda e: e.name in ('write', 'writev', 'sendto',
                                               'sendmsg') and
                     any('MAIL FROM' in s for s in e.strs), rn.i)
        fq = first(evs, lambda e: is_dirsync(e, qdir), rn.i)
        fi = first(evs, lambda e: is_dirsync(e, idir), fq.i if fq else rn.i)
        rep.ok(fq is not None and fi is not None and
               (mail is None or fi.i < mail.i),
               'deliver {}: accept: rename -> fsync(queue/) -> fsync('
               'incoming/) before MAIL FROM'.format(mid))
    spool = renames[0].fdpath(1)[:-len('/queue')] if renames else ''
    sdir, qdir = spool + '/state', spool + '/queue'
    for mid in ids:
        # state files written for this message
        srn = [e for e in evs if e.name in ('renameat', 'renameat2',
                                             'rename') and e.ret == 0 and
               len(e.strs) >= 2 and e.strs[0] == mid + '.tmp' and
               e.strs[1] == mid]
        unl = first(evs, lambda e: e.name == 'unlinkat' and e.ret == 0 and
                    e.fdpath(0) == qdir and e.strs and e.strs[0] == mid)
        for k, r in enumerate(srn):
            tmp = sdir + '/' + mid + '.tmp'
            op = last(evs, lambda e: e.name == 'openat' and e.ret is not None
                      and e.ret >= 0 and e.fdpath(0) == sdir and
                      e.strs and e.strs[0] == mid + '.tmp', 0, r.i)
            on = [e for e in evs[op.i:r.i] if e.fds and
                  e.fds[0] == (str(op.ret), tmp)] if op else []
            ws = [e for e in on if e.name in ('write', 'writev')]
            fs = last(on, lambda e: e.name in ('fsync', 'fdatasync') and
                      e.ret == 0)
            rep.ok(op is not None and 'O_EXCL' in op.args and ws and
                   fs is not None and all(w.i < fs.i for w in ws),
                   'deliver {}: state #{}: write* -> fsync(state/{}.tmp) '
                   '-> rename'.format(mid, k + 1, mid))
            ds = first(evs, lambda e: is_dirsync(e, sdir), r.i)
            nxt = first(evs, lambda e: (e.name in ('write', 'writev') and
                                        any('MAIL FROM' in s
                                            for s in e.strs)) or
                        (e is unl), r.i + 1)
            rep.ok(ds is not None and (nxt is None or ds.i < nxt.i),
                   'deliver {}: state #{}: rename -> fsync(state/) before '
                   'the next MAIL FROM or unlink'.format(mid, k + 1))
        rep.ok(unl is not None, 'deliver {}: queue/{} unlinked'.format(
            mid, mid))
        if unl is None:
            continue
        dot = last(evs, lambda e: e.name in ('write', 'writev', 'sendto') and
                   any(s.endswith('.\\r\\n') for s in e.strs), 0, unl.i)
        rd = first(evs, lambda e: e.name in ('read', 'readv', 'recvfrom') and
                   e.fds and e.fds[0][1].startswith('socket:') and
                   e.ret is not None and e.ret > 0,
                   dot.i if dot else unl.i, unl.i)
        rep.ok(dot is not None and rd is not None,
               'deliver {}: unlink only after the final dot was sent and '
               'the reply read'.format(mid))
        us = first(evs, lambda e: e.name == 'unlinkat' and
                   e.fdpath(0) == sdir and e.strs and e.strs[0] == mid,
                   unl.i)
        if not srn:
            rep.ok(us is None, 'deliver {}: no state file: no '
                   'unlink(state/) looked for'.format(mid))
            continue
        fq = first(evs, lambda e: is_dirsync(e, qdir), unl.i,
                   us.i if us else None)
        rep.ok(us is not None and fq is not None,
               'deliver {}: unlink(queue/) -> fsync(queue/) before '
               'unlink(state/)'.format(mid))
        if us is not None and us.ret == 0:
            fs = first(evs, lambda e: is_dirsync(e, sdir), us.i)
            rep.ok(fs is not None, 'deliver {}: unlink(state/) -> '
                   'fsync(state/)'.format(mid))


def main():
    mode, path = sys.argv[1], sys.argv[2]
    evs = parse(path)
    rep = Report()
    if mode == 'submit':
        check_submit(evs, rep)
    else:
        check_deliver(evs, rep)
    return 1 if rep.failed or rep.n == 0 else 0


if __name__ == '__main__':
    sys.exit(main())
