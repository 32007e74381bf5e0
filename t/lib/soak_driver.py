#!/usr/bin/env python3
"""Kill-anything soak for bbsmail (t/soak.bats, bench/soak).

    soak_driver.py run   --home H --port P --runq BIN --libexec DIR
                         --tcpserver-pid PID --messages N --clients C
                         --local u1,u2,.. --remote r1@d,r2@d --out FILE
    soak_driver.py check --home H --out FILE --sink-dir DIR --users name=num,..

run: C client threads send N messages (each with a unique Message-ID, two
to four recipients: local users and remote ones) through smtpd, AUTH
CRAM-MD5 as demo so that the remote recipients may be relayed, up to five
messages a session.  Meanwhile a killer thread SIGKILLs, every 100-500 ms,
a random smtpd (a child of tcpserver), a random stage of this home
(libexec/*) or the runq -l loop, and a supervisor thread restarts the loop
whenever it dies.  Each message's outcome is recorded:
  accepted   250 to the final dot
  rejected   any other reply, or the connection lost before the final dot
             was written
  unknown    the final dot was written and the reply never came
When the clients are done the killer stops, the loop drains the spool
(bounded), and the loop is stopped.  The outcomes and the kill counts go
to FILE (JSON).

check: reads FILE, counts each Message-ID in every local user's Maildir
(new/ and cur/) and each (Message-ID, recipient) in smtp-sink's dumps, and
prints one summary line and every violation: an accepted message not in a
local recipient's Maildir exactly once or never at the peer, a rejected
one anywhere, an unknown one twice in a Maildir, peer duplicates beyond
the number of deliver-remote kills, or mail nobody sent.  Exit 1 on any.
"""
import argparse
import hmac
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time

SOCKET_TIMEOUT = 60  # only matters when something is stuck


# ---- the SMTP client ---------------------------------------------------

class Lost(Exception):
    pass


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=SOCKET_TIMEOUT)
        self.rbuf = b''

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise Lost('send: %s' % e)

    def reply(self):
        """(code, last line) of one possibly multi-line reply."""
        lines = []
        while True:
            while b'\n' not in self.rbuf:
                try:
                    chunk = self.sock.recv(65536)
                except OSError as e:
                    raise Lost('recv: %s' % e)
                if not chunk:
                    raise Lost('eof')
                self.rbuf += chunk
            line, self.rbuf = self.rbuf.split(b'\n', 1)
            lines.append(line.rstrip(b'\r'))
            if len(line) < 4 or line[3:4] != b'-':
                break
        last = lines[-1]
        try:
            code = int(last[:3])
        except ValueError:
            raise Lost('bad reply %r' % last)
        return code, lines

    def cmd(self, text):
        self.send(text.encode() + b'\r\n')
        return self.reply()


def cram_md5(client, user, password):
    code, lines = client.cmd('AUTH CRAM-MD5')
    if code != 334:
        return False
    import base64
    challenge = base64.b64decode(lines[-1][4:])
    digest = hmac.new(password.encode(), challenge, 'md5').hexdigest()
    code, _ = client.cmd(base64.b64encode(('%s %s' % (user, digest)).encode()).decode())
    return code == 235


def open_session(port):
    """A session ready for MAIL, or raises Lost / returns None on a refusal."""
    c = Client(port)
    try:
        code, _ = c.reply()
        if code != 220:
            c.close()
            return None
        code, _ = c.cmd('EHLO soak.client')
        if code != 250 or not cram_md5(c, 'demo', 'demo'):
            c.close()
            return None
        return c
    except Lost:
        c.close()
        raise


def message_text(seq, run_id, rcpts):
    """The message: its Message-ID and the end marker identify it."""
    body = ''.join('line %d of soak message %d, some text to make it a few hundred bytes long\r\n'
                   % (i, seq) for i in range(12))
    return ('From: soak <soak@remote.test>\r\n'
            'To: %s\r\n'
            'Subject: soak %d\r\n'
            'Date: Tue, 01 Dec 2026 00:00:00 +0000\r\n'
            'Message-ID: <soak-%d-%s@soak.test>\r\n'
            '\r\n%s'
            'end-of-soak-%d\r\n' % (', '.join(rcpts), seq, seq, run_id, body, seq)).encode()


def send_one(c, seq, run_id, rcpts):
    """'accepted' | 'rejected' | 'unknown'; raises Lost when the session is
    gone before the final dot (rejected for this message)."""
    code, _ = c.cmd('MAIL FROM:<bounces@remote.test>')
    if code != 250:
        return 'rejected'
    for r in rcpts:
        code, _ = c.cmd('RCPT TO:<%s>' % r)
        if code != 250:
            c.cmd('RSET')
            return 'rejected'
    code, _ = c.cmd('DATA')
    if code != 354:
        return 'rejected'
    c.send(message_text(seq, run_id, rcpts) + b'.\r\n')
    try:
        code, _ = c.reply()
    except Lost:
        return 'unknown'
    return 'accepted' if code == 250 else 'rejected'


def client_thread(args, seqs, rcpts_of, results, lock):
    c = None
    in_session = 0
    for seq in seqs:
        outcome = 'rejected'
        try:
            if c is None:
                c = open_session(args.port)
                in_session = 0
            if c is not None:
                outcome = send_one(c, seq, args.run_id, rcpts_of[seq])
                in_session += 1
                if outcome == 'unknown':
                    c.close()
                    c = None
        except (Lost, OSError):
            if c is not None:
                c.close()
            c = None
        if c is not None and in_session >= 5:
            try:
                c.cmd('QUIT')
            except Lost:
                pass
            c.close()
            c = None
        with lock:
            results[seq] = outcome
        # A pause between messages stretches the run over more kills.
        time.sleep(random.uniform(0, 2 * args.pause))
    if c is not None:
        try:
            c.cmd('QUIT')
        except Lost:
            pass
        c.close()


# ---- processes: who may be killed --------------------------------------

def proc_exe(pid):
    try:
        return os.readlink('/proc/%d/exe' % pid)
    except OSError:
        return None


def proc_ppid(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            data = f.read()
        return int(data[data.rindex(')') + 2:].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def proc_home(pid):
    try:
        with open('/proc/%d/environ' % pid, 'rb') as f:
            for var in f.read().split(b'\0'):
                if var.startswith(b'BBSMAIL_HOME='):
                    return var[13:].decode()
    except OSError:
        pass
    return None


def all_pids():
    return [int(n) for n in os.listdir('/proc') if n.isdigit()]


def victims(args):
    """{'smtpd': [pids], 'stage': [(pid, name)]}: only this test's processes:
    smtpd children of our tcpserver, stages whose BBSMAIL_HOME is ours."""
    smtpd, stages = [], []
    smtpd_exe = os.path.join(args.libexec, 'smtpd')
    for pid in all_pids():
        exe = proc_exe(pid)
        if exe is None:
            continue
        if exe == smtpd_exe:
            if proc_ppid(pid) == args.tcpserver_pid:
                smtpd.append(pid)
        elif os.path.dirname(exe) == args.libexec and proc_home(pid) == args.home:
            stages.append((pid, os.path.basename(exe)))
    return smtpd, stages


class Supervisor:
    """Keeps one runq -l running until stop()."""

    def __init__(self, args):
        self.args = args
        self.proc = None
        self.restarts = 0
        self.stopping = False
        self.lock = threading.Lock()
        self.log = open(os.path.join(args.workdir, 'runq.log'), 'ab')
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def spawn(self):
        env = dict(os.environ, BBSMAIL_HOME=self.args.home)
        return subprocess.Popen([self.args.runq, '-l'], env=env, stdout=self.log, stderr=self.log)

    def loop(self):
        while True:
            with self.lock:
                if self.stopping:
                    return
                self.proc = self.spawn()
                p = self.proc
            p.wait()
            with self.lock:
                if self.stopping:
                    return
                self.restarts += 1
            time.sleep(0.05)

    def pid(self):
        with self.lock:
            return self.proc.pid if self.proc and self.proc.poll() is None else None

    def stop(self):
        with self.lock:
            self.stopping = True
            p = self.proc
        if p and p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=120)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.thread.join(timeout=10)


def killer_thread(args, sup, kills, stop):
    """Kills in turn an smtpd, a stage, an smtpd, a stage and the runq loop
    (so that every kind is hit even in a short run), each time a random one
    of that kind, falling back to any kind when none is running."""
    rng = random.Random(args.seed + 1)
    turn = 0
    while not stop.wait(rng.uniform(0.1, 0.5)):
        smtpd, stages = victims(args)
        runq = sup.pid()
        kinds = {'smtpd': [(p, 'smtpd') for p in smtpd], 'stage': stages,
                 'runq': [(runq, 'runq')] if runq else []}
        want = ('smtpd', 'stage', 'smtpd', 'stage', 'runq')[turn % 5]
        turn += 1
        pool = kinds[want] or kinds['smtpd'] + kinds['stage'] + kinds['runq']
        if not pool:
            continue
        target, name = rng.choice(pool)
        try:
            os.kill(target, signal.SIGKILL)
            kills[name] = kills.get(name, 0) + 1
        except ProcessLookupError:
            pass


def spool_busy(home):
    """Files still waiting in incoming/, queue/*/, defer/*/ or body/."""
    n = 0
    for sub in ('incoming', 'queue', 'defer', 'body'):
        for _, _, files in os.walk(os.path.join(home, 'spool', sub)):
            n += len(files)
    return n


def cmd_run(args):
    rng = random.Random(args.seed)
    local = args.local.split(',')
    remote = args.remote.split(',')
    rcpts_of = {}
    for seq in range(1, args.messages + 1):
        k_local = rng.randint(1, min(3, len(local)))
        k_remote = rng.randint(0, len(remote)) if k_local < 3 else rng.randint(0, 1)
        if k_local + k_remote < 2:
            k_remote = 1
        rcpts_of[seq] = rng.sample(local, k_local) + rng.sample(remote, k_remote)
    results, lock, kills = {}, threading.Lock(), {}
    sup = Supervisor(args)
    sup.thread.start()
    stop = threading.Event()
    killer = threading.Thread(target=killer_thread, args=(args, sup, kills, stop), daemon=True)
    started = time.time()
    killer.start()
    seqs = list(range(1, args.messages + 1))
    threads = [threading.Thread(target=client_thread,
                                args=(args, seqs[i::args.clients], rcpts_of, results, lock))
               for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent_secs = time.time() - started
    stop.set()
    killer.join()
    # The killer is stopped: the loop (restarted if need be) drains the spool.
    deadline = time.time() + args.drain
    while spool_busy(args.home) and time.time() < deadline:
        time.sleep(0.5)
    drained = spool_busy(args.home) == 0
    sup.stop()
    out = {'run_id': args.run_id, 'started': started, 'send_seconds': round(sent_secs, 1),
           'drained': drained, 'kills': kills, 'runq_restarts': sup.restarts,
           'messages': {str(s): {'outcome': results.get(s, 'rejected'), 'rcpts': rcpts_of[s]}
                        for s in seqs}}
    with open(args.out, 'w') as f:
        json.dump(out, f)
    counts = {}
    for m in out['messages'].values():
        counts[m['outcome']] = counts.get(m['outcome'], 0) + 1
    print('soak: run sent=%d in %.1fs %s kills=%s runq_restarts=%d drained=%s' % (
        args.messages, sent_secs, ' '.join('%s=%d' % kv for kv in sorted(counts.items())),
        ','.join('%s:%d' % kv for kv in sorted(kills.items())), sup.restarts,
        'yes' if drained else 'no'))
    return 0


# ---- the check -----------------------------------------------------------

MSGID = re.compile(rb'^Message-ID: <soak-(\d+)-([^@>]+)@soak\.test>', re.M | re.I)


def maildir_counts(box, run_id, foreign):
    counts = {}
    for sub in ('new', 'cur'):
        d = os.path.join(box, sub)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            if name.startswith('.'):
                continue
            with open(os.path.join(d, name), 'rb') as f:
                data = f.read()
            m = MSGID.search(data)
            if not m or m.group(2).decode() != run_id:
                foreign.append(os.path.join(d, name))
                continue
            seq = int(m.group(1))
            counts[seq] = counts.get(seq, 0) + 1
    return counts


RCPT_ARG = re.compile(rb'^X-Rcpt-Args: <([^>]*)>', re.M)


def sink_counts(sink_dir, run_id, foreign, partial):
    """(seq, rcpt) -> copies, from smtp-sink's dump files; a dump without
    the end marker (the transaction was cut off) counts as none."""
    counts = {}
    for name in os.listdir(sink_dir):
        path = os.path.join(sink_dir, name)
        with open(path, 'rb') as f:
            data = f.read()
        m = MSGID.search(data)
        if not m or m.group(2).decode() != run_id:
            foreign.append(path)
            continue
        seq = int(m.group(1))
        if ('end-of-soak-%d\r\n' % seq).encode() not in data and \
           ('end-of-soak-%d\n' % seq).encode() not in data:
            partial.append(path)
            continue
        for r in RCPT_ARG.findall(data):
            key = (seq, r.decode().lower())
            counts[key] = counts.get(key, 0) + 1
    return counts


def cmd_check(args):
    with open(args.out) as f:
        run = json.load(f)
    run_id = run['run_id']
    users = dict(u.split('=') for u in args.users.split(','))
    foreign, partial, bad = [], [], []
    boxes = {name: maildir_counts(os.path.join(args.home, 'spool', 'mailbox', num), run_id, foreign)
             for name, num in users.items()}
    sink = sink_counts(args.sink_dir, run_id, foreign, partial)
    outcomes = {}
    local_copies = remote_copies = dups = 0
    unknown_delivered = 0
    dup_keys = []
    for s, m in run['messages'].items():
        seq, outcome = int(s), m['outcome']
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        got_any = False
        for r in m['rcpts']:
            user, domain = r.split('@')
            if domain == 'localhost':
                n = boxes[user].get(seq, 0)
                local_copies += n
            else:
                n = sink.get((seq, r.lower()), 0)
                remote_copies += n
                if n > 1:
                    dups += n - 1
                    dup_keys.append('%d:%s' % (seq, r))
            got_any = got_any or n > 0
            if outcome == 'accepted' and domain == 'localhost' and n != 1:
                bad.append('message %d accepted, in %s\'s Maildir %d times' % (seq, user, n))
            elif outcome == 'accepted' and n < 1:
                bad.append('message %d accepted, never reached the peer for %s' % (seq, r))
            elif outcome == 'rejected' and n:
                bad.append('message %d not accepted, yet delivered to %s %d times' % (seq, r, n))
            elif outcome == 'unknown' and domain == 'localhost' and n > 1:
                bad.append('message %d (unknown) in %s\'s Maildir %d times' % (seq, user, n))
        if outcome == 'unknown' and got_any:
            unknown_delivered += 1
    # Copies for a recipient the message did not have.
    for name, counts in boxes.items():
        for seq in counts:
            if '%s@localhost' % name not in run['messages'].get(str(seq), {}).get('rcpts', []):
                bad.append('message %d in %s\'s Maildir, not a recipient' % (seq, name))
    # The at-least-once window: one recipient per deliver-remote kill, plus
    # what the caller allows per route kill (see t/soak.bats).
    remote_kills = run['kills'].get('deliver-remote', 0)
    bound = remote_kills + args.route_dup_allowance * run['kills'].get('route', 0)
    if dups > bound:
        bad.append('%d duplicates at the peer, more than %d (%d deliver-remote kills, %d route kills)'
                   % (dups, bound, remote_kills, run['kills'].get('route', 0)))
    if foreign:
        bad.append('%d files nobody sent, e.g. %s' % (len(foreign), foreign[0]))
    if not run['drained']:
        bad.append('the spool did not drain within the bounded wait')
    print('soak: check messages=%d %s local_copies=%d remote_copies=%d peer_duplicates=%d '
          'unknown_delivered=%d partial_dumps=%d kills=%s runq_restarts=%d send_seconds=%s' % (
              len(run['messages']), ' '.join('%s=%d' % kv for kv in sorted(outcomes.items())),
              local_copies, remote_copies, dups, unknown_delivered, len(partial),
              ','.join('%s:%d' % kv for kv in sorted(run['kills'].items())),
              run['runq_restarts'], run['send_seconds']))
    if dup_keys:
        print('soak: peer duplicates (message:recipient): %s' % ' '.join(dup_keys[:20]))
    for b in bad[:30]:
        print('soak: FAIL ' + b)
    if len(bad) > 30:
        print('soak: FAIL ... %d more' % (len(bad) - 30))
    return 1 if bad else 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest='cmd', required=True)
    r = sub.add_parser('run')
    r.add_argument('--home', required=True)
    r.add_argument('--port', type=int, required=True)
    r.add_argument('--runq', required=True)
    r.add_argument('--libexec', required=True)
    r.add_argument('--tcpserver-pid', type=int, required=True)
    r.add_argument('--messages', type=int, default=1000)
    r.add_argument('--clients', type=int, default=20)
    r.add_argument('--local', required=True)
    r.add_argument('--remote', required=True)
    r.add_argument('--out', required=True)
    r.add_argument('--workdir', required=True)
    r.add_argument('--drain', type=int, default=300)
    r.add_argument('--pause', type=float, default=0.05, help='mean seconds between a client\'s messages')
    r.add_argument('--seed', type=int, default=int(time.time()))
    r.add_argument('--run-id', default='%x' % int(time.time() * 1000))
    c = sub.add_parser('check')
    c.add_argument('--home', required=True)
    c.add_argument('--out', required=True)
    c.add_argument('--sink-dir', required=True)
    c.add_argument('--users', required=True)
    c.add_argument('--route-dup-allowance', type=int, default=0,
                   help='peer duplicates allowed per route kill on top of one per deliver-remote kill')
    args = p.parse_args()
    args.home = os.path.realpath(args.home)
    if args.cmd == 'run':
        args.libexec = os.path.realpath(args.libexec)
        print('soak: seed=%d' % args.seed, flush=True)
        return cmd_run(args)
    return cmd_check(args)


if __name__ == '__main__':
    sys.exit(main())
