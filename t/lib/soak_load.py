#!/usr/bin/env python3
"""Load drivers for t/load.bats and bench/load.

    soak_load.py hold PORT COUNT READY-FILE STOP-FILE
        opens COUNT SMTP sessions (greeting read, EHLO sent and answered),
        writes "held N" to READY-FILE, keeps them open until STOP-FILE
        exists (bounded: 600 s), then closes them; prints
        "hold: opened=N refused=N".
    soak_load.py send PORT CLIENTS MESSAGES RCPT MAX-SECONDS
        CLIENTS threads send MESSAGES messages in all to RCPT, one session
        each; prints "send: accepted=N failed=N slowest=S.SS" and every
        failure; exit 1 when one was not accepted or took MAX-SECONDS or more.
    soak_load.py slow smtp|pop3 PORT COUNT TEXT PIDS-FILE
        COUNT clients send TEXT one byte a second, then stay silent and read
        until the server closes; after the last byte each client's local
        port goes, one a line, to PIDS-FILE.ports (so the test can find the
        sessions' processes).  Prints one line per client:
        "slow: client=I cut_after=S.S reply=<last line>" (cut_after counted
        from the last byte sent) and exits 0 when every client was cut.
    soak_load.py procs TCPSERVER-PID PORTS-FILE|-
        the sessions (children of tcpserver; with PORTS-FILE only those whose
        TCPREMOTEPORT is in it): "COUNT PSS-KIB PSS-KIB-EACH CPU-TICKS CPU-MS"
        (Pss from /proc/PID/smaps_rollup, utime+stime from /proc/PID/stat).
"""
import os
import socket
import sys
import threading
import time

TIMEOUT = 120  # only reached when something is stuck


def recv_line(sock, buf):
    while b'\n' not in buf[0]:
        chunk = sock.recv(4096)
        if not chunk:
            raise EOFError
        buf[0] += chunk
    line, buf[0] = buf[0].split(b'\n', 1)
    return line.rstrip(b'\r')


def smtp_reply(sock, buf):
    while True:
        line = recv_line(sock, buf)
        if len(line) < 4 or line[3:4] != b'-':
            return line


def cmd_hold(port, count, ready, stop):
    socks, refused = [], 0
    for _ in range(count):
        try:
            s = socket.create_connection(('127.0.0.1', port), timeout=TIMEOUT)
            buf = [b'']
            if not smtp_reply(s, buf).startswith(b'220'):
                raise EOFError
            s.sendall(b'EHLO held.client\r\n')
            if not smtp_reply(s, buf).startswith(b'250'):
                raise EOFError
            socks.append(s)
        except (OSError, EOFError):
            refused += 1
    with open(ready + '.tmp', 'w') as f:
        f.write('held %d\n' % len(socks))
    os.rename(ready + '.tmp', ready)
    end = time.time() + 600
    while not os.path.exists(stop) and time.time() < end:
        time.sleep(0.2)
    for s in socks:
        s.close()
    print('hold: opened=%d refused=%d' % (len(socks), refused))
    return 0


def send_one(port, rcpt, seq):
    s = socket.create_connection(('127.0.0.1', port), timeout=TIMEOUT)
    buf = [b'']
    try:
        for line, want in ((None, b'220'), (b'EHLO sender.client', b'250'),
                           (b'MAIL FROM:<load@example.org>', b'250'),
                           (('RCPT TO:<%s>' % rcpt).encode(), b'250'), (b'DATA', b'354'),
                           (('Message-ID: <load-%d@load.test>\r\nSubject: load %d\r\n\r\n'
                             'body %d\r\n.' % (seq, seq, seq)).encode(), b'250'),
                           (b'QUIT', b'221')):
            if line is not None:
                s.sendall(line + b'\r\n')
            reply = smtp_reply(s, buf)
            if not reply.startswith(want):
                return 'reply %r to %r' % (reply, line)
        return None
    finally:
        s.close()


def cmd_send(port, clients, messages, rcpt, max_secs):
    lock = threading.Lock()
    state = {'accepted': 0, 'failed': [], 'slowest': 0.0, 'next': 1}

    def worker():
        while True:
            with lock:
                seq = state['next']
                if seq > messages:
                    return
                state['next'] += 1
            t0 = time.monotonic()
            try:
                err = send_one(port, rcpt, seq)
            except (OSError, EOFError) as e:
                err = 'connection: %s' % e
            took = time.monotonic() - t0
            with lock:
                state['slowest'] = max(state['slowest'], took)
                if err is None and took < max_secs:
                    state['accepted'] += 1
                else:
                    state['failed'].append('message %d: %s (%.2f s)' % (seq, err or 'too slow', took))

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print('send: accepted=%d failed=%d slowest=%.2f' % (state['accepted'], len(state['failed']),
                                                       state['slowest']))
    for f in state['failed'][:20]:
        print('send: FAIL ' + f)
    return 1 if state['failed'] else 0


def slow_client(proto, port, text, i, out, ports, lock):
    try:
        s = socket.create_connection(('127.0.0.1', port), timeout=TIMEOUT)
    except OSError as e:
        out[i] = (None, 'connect: %s' % e)
        return
    buf = [b'']
    try:
        recv_line(s, buf)           # the greeting
        if proto == 'smtp':
            s.sendall(b'EHLO slow.client\r\n')
            smtp_reply(s, buf)
        for k, ch in enumerate(text):
            if k:
                time.sleep(1)
            s.sendall(bytes([ch]))
        last_byte = time.monotonic()
        with lock:
            ports.append(s.getsockname()[1])
        last = b''
        try:
            while True:
                last = recv_line(s, buf)
        except EOFError:
            pass
        except OSError as e:
            last = ('error: %s' % e).encode()
        out[i] = (time.monotonic() - last_byte, last.decode('utf-8', 'replace'))
    except (OSError, EOFError) as e:
        out[i] = (None, 'lost early: %s' % e)
    finally:
        s.close()


def cmd_slow(proto, port, count, text, pids_file):
    out, ports, lock = [None] * count, [], threading.Lock()
    threads = [threading.Thread(target=slow_client, args=(proto, port, text.encode(), i, out, ports, lock))
               for i in range(count)]
    for t in threads:
        t.start()
        time.sleep(0.01)
    # Once every client has sent its last byte, the test may look at them.
    end = time.time() + TIMEOUT
    while len(ports) < count and time.time() < end and any(t.is_alive() for t in threads):
        time.sleep(0.1)
    with open(pids_file + '.ports.tmp', 'w') as f:
        f.write(''.join('%d\n' % p for p in ports))
    os.rename(pids_file + '.ports.tmp', pids_file + '.ports')
    for t in threads:
        t.join()
    ok = True
    for i, (cut, last) in enumerate(out):
        print('slow: client=%d cut_after=%s reply=%s' % (i, '-' if cut is None else '%.1f' % cut, last))
        ok = ok and cut is not None
    return 0 if ok else 1


def session_procs(parent, ports):
    """The children of parent (tcpserver), only those serving a client port
    in ports when given: [(pid, pss KiB, utime+stime ticks)]."""
    found = []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        pid = int(name)
        try:
            with open('/proc/%d/stat' % pid) as f:
                stat = f.read()
            fields = stat[stat.rindex(')') + 2:].split()
            if int(fields[1]) != parent:
                continue
            if ports is not None:
                with open('/proc/%d/environ' % pid, 'rb') as f:
                    env = dict(v.split(b'=', 1) for v in f.read().split(b'\0') if b'=' in v)
                if int(env.get(b'TCPREMOTEPORT', b'0')) not in ports:
                    continue
            pss = 0
            with open('/proc/%d/smaps_rollup' % pid) as f:
                for line in f:
                    if line.startswith('Pss:'):
                        pss = int(line.split()[1])
            found.append((pid, pss, int(fields[11]) + int(fields[12])))
        except (OSError, ValueError, IndexError):
            continue
    return found


def cmd_procs(parent, ports_file):
    ports = None
    if ports_file != '-':
        with open(ports_file) as f:
            ports = set(int(x) for x in f.read().split())
    found = session_procs(parent, ports)
    n = len(found)
    pss = sum(p[1] for p in found)
    ticks = sum(p[2] for p in found)
    print('%d %d %d %d %d' % (n, pss, pss // n if n else 0, ticks,
                              ticks * 1000 // os.sysconf('SC_CLK_TCK')))
    return 0


def main():
    a = sys.argv[1:]
    if a and a[0] == 'hold' and len(a) == 5:
        return cmd_hold(int(a[1]), int(a[2]), a[3], a[4])
    if a and a[0] == 'send' and len(a) == 6:
        return cmd_send(int(a[1]), int(a[2]), int(a[3]), a[4], float(a[5]))
    if a and a[0] == 'slow' and len(a) == 6:
        return cmd_slow(a[1], int(a[2]), int(a[3]), a[4], a[5])
    if a and a[0] == 'procs' and len(a) == 3:
        return cmd_procs(int(a[1]), a[2])
    sys.stderr.write(__doc__)
    return 100


if __name__ == '__main__':
    sys.exit(main())
