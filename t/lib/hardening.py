#!/usr/bin/env python3
"""Clients for t/hardening-findings.bats (every wait bounded).

  stall PORT LINE COUNT HOLD    sends LINE\\r\\n COUNT times with a 2048-byte
                                receive buffer and never reads, then keeps
                                the connection open HOLD seconds
  greet PORT                    prints the first line the server sends
  smtp-auth PORT N USER PASS    N parallel sessions, each EHLO and one
                                AUTH PLAIN, started together; prints each
                                AUTH reply code, one a line
  pop3-pass PORT N USER PASS    N parallel POP3 sessions, each USER then
                                one PASS, the PASSes sent together; prints
                                "+OK", or "-ERR" and the response code
  pop3-time PORT N USER         N USER/PASS tries with a wrong password;
                                prints the median PASS time in microseconds
"""
import base64
import socket
import statistics
import sys
import threading
import time

TIMEOUT = 30


def connect(port, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(TIMEOUT)
    s.connect(("127.0.0.1", port))
    return s


def stall(port, line, count, hold):
    s = connect(port, rcvbuf=2048)
    data = (line + "\r\n").encode() * count
    s.setblocking(False)
    sent, quiet_since = 0, time.monotonic()
    # Send until the server stops taking bytes for 3 s (it is then stuck
    # writing to us) or everything went.
    while sent < len(data) and time.monotonic() - quiet_since < 3:
        try:
            n = s.send(data[sent:sent + 65536])
            sent += n
            quiet_since = time.monotonic()
        except BlockingIOError:
            time.sleep(0.05)
        except OSError:
            break
    print("sent", sent, flush=True)
    time.sleep(hold)
    s.close()


class Lines:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def line(self):
        while b"\n" not in self.buf:
            got = self.sock.recv(4096)
            if not got:
                raise EOFError("server closed")
            self.buf += got
        i = self.buf.index(b"\n") + 1
        out, self.buf = self.buf[:i], self.buf[i:]
        return out.decode("latin-1").rstrip("\r\n")

    def reply(self):
        while True:
            l = self.line()
            if len(l) < 4 or l[3] != "-":
                return l


def greet(port):
    s = connect(port)
    print(Lines(s).line())
    s.close()


def smtp_auth_one(port, user, password, barrier, results, i):
    try:
        s = connect(port)
        r = Lines(s)
        r.reply()
        s.sendall(b"EHLO client.example\r\n")
        r.reply()
        token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode())
        barrier.wait(TIMEOUT)
        s.sendall(b"AUTH PLAIN " + token + b"\r\n")
        results[i] = r.reply()[:3]
        s.sendall(b"QUIT\r\n")
        s.close()
    except Exception as e:  # reported as a line the test will not expect
        results[i] = "error " + str(e)


def parallel(one, port, n, user, password):
    """Runs n sessions of one at once; prints each result, one a line."""
    barrier = threading.Barrier(n)
    results = [None] * n
    threads = [threading.Thread(target=one, args=(port, user, password, barrier, results, i))
               for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * 2)
    for r in results:
        print(r)


def pop3_pass_one(port, user, password, barrier, results, i):
    try:
        s = connect(port)
        r = Lines(s)
        r.line()
        s.sendall(("USER %s\r\n" % user).encode())
        r.line()
        barrier.wait(TIMEOUT)
        s.sendall(("PASS %s\r\n" % password).encode())
        line = r.line()
        results[i] = " ".join(line.split()[:2]) if line.startswith("-ERR") else line.split()[0]
        s.sendall(b"QUIT\r\n")
        s.close()
    except Exception as e:  # reported as a line the test will not expect
        results[i] = "error " + str(e)


def pop3_time(port, n, user):
    times = []
    s = connect(port)
    r = Lines(s)
    r.line()
    for _ in range(n):
        s.sendall(("USER %s\r\n" % user).encode())
        r.line()
        t0 = time.perf_counter()
        s.sendall(b"PASS wrong-password\r\n")
        r.line()
        times.append(time.perf_counter() - t0)
    s.close()
    print(int(statistics.median(times) * 1e6))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "stall":
        stall(int(args[0]), args[1], int(args[2]), float(args[3]))
    elif cmd == "greet":
        greet(int(args[0]))
    elif cmd == "smtp-auth":
        parallel(smtp_auth_one, int(args[0]), int(args[1]), args[2], args[3])
    elif cmd == "pop3-pass":
        parallel(pop3_pass_one, int(args[0]), int(args[1]), args[2], args[3])
    elif cmd == "pop3-time":
        pop3_time(int(args[0]), int(args[1]), args[2])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
