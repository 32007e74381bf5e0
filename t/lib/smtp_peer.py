#!/usr/bin/env python3
"""A scripted SMTP peer for the outbound tests: it listens on 127.0.0.1,
answers from a script, stores what it accepts and logs every command.

usage: smtp_peer.py --port-file F --dir D [options]

  --greeting "220 peer ready"     the greeting line (a 4xx/5xx one too)
  --ehlo KEYWORD                  an EHLO keyword to offer (repeat); the
                                  default set is PIPELINING, 8BITMIME, SIZE
                                  10000000, ENHANCEDSTATUSCODES
  --rcpt ADDR=CODES               replies to RCPT TO:<ADDR>, one per attempt
                                  across connections, e.g. "a@x=451,451,250";
                                  the last one repeats.  Others get 250.
  --data CODES                    replies to the end of data, one per
                                  transaction, the last repeating (default 250)
  --drop-after-data N             close the connection without a reply after
                                  the Nth message's data (1-based), once
  --delay SECONDS                 wait this long before every reply

Files in D: commands.log (one line per command, "<conn> <command>"),
msg.<n> (each accepted message as it arrived, dot-unstuffed, CRLF kept),
rcpt.<n> (its accepted recipients, one a line).
"""
import argparse
import os
import socket
import socketserver
import threading
import time

lock = threading.Lock()
state = {"conn": 0, "msg": 0, "rcpt_tries": {}, "data_tries": 0, "dropped": False}


def codes(text):
    return [c.strip() for c in text.split(",") if c.strip()]


class Peer(socketserver.StreamRequestHandler):
    timeout = 120

    def reply(self, line):
        if args.delay:
            time.sleep(args.delay)
        self.wfile.write((line + "\r\n").encode())
        self.wfile.flush()

    def log(self, conn, line):
        with lock:
            with open(os.path.join(args.dir, "commands.log"), "a") as f:
                f.write("%d %s\n" % (conn, line))

    def handle(self):
        with lock:
            state["conn"] += 1
            conn = state["conn"]
        self.reply(args.greeting)
        if not args.greeting.startswith("220"):
            self.log(conn, "(greeting refused)")
            return
        rcpts = []
        while True:
            raw = self.rfile.readline(4096)
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.log(conn, line)
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                caps = args.ehlo or ["PIPELINING", "8BITMIME", "SIZE 10000000", "ENHANCEDSTATUSCODES"]
                lines = ["peer.test"] + caps
                for i, c in enumerate(lines):
                    sep = " " if i == len(lines) - 1 else "-"
                    self.wfile.write(("250%s%s\r\n" % (sep, c)).encode())
                self.wfile.flush()
            elif verb == "HELO":
                self.reply("250 peer.test")
            elif verb == "MAIL":
                rcpts = []
                self.reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                addr = line[line.find("<") + 1:line.find(">")]
                script = scripts.get(addr.lower())
                if script:
                    with lock:
                        n = state["rcpt_tries"].get(addr, 0)
                        state["rcpt_tries"][addr] = n + 1
                    code = script[min(n, len(script) - 1)]
                else:
                    code = "250"
                if code.startswith("2"):
                    rcpts.append(addr)
                    self.reply("250 2.1.5 Ok")
                elif code.startswith("4"):
                    self.reply("%s 4.2.0 <%s>: try again later, scripted" % (code, addr))
                else:
                    self.reply("%s 5.1.1 <%s>: Recipient address rejected: scripted" % (code, addr))
            elif verb == "DATA":
                if not rcpts:
                    self.reply("554 5.5.1 no valid recipients")
                    continue
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = b""
                while True:
                    chunk = self.rfile.readline(1 << 20)
                    if not chunk:
                        return
                    if chunk == b".\r\n":
                        break
                    if chunk.startswith(b"."):
                        chunk = chunk[1:]
                    data += chunk
                with lock:
                    state["data_tries"] += 1
                    tries = state["data_tries"]
                    drop = args.drop_after_data == tries and not state["dropped"]
                    if drop:
                        state["dropped"] = True
                if drop:
                    self.log(conn, "(dropped after data)")
                    self.request.shutdown(socket.SHUT_RDWR)
                    return
                script = codes(args.data)
                code = script[min(tries - 1, len(script) - 1)]
                if code.startswith("2"):
                    with lock:
                        state["msg"] += 1
                        n = state["msg"]
                    with open(os.path.join(args.dir, "msg.%d" % n), "wb") as f:
                        f.write(data)
                    with open(os.path.join(args.dir, "rcpt.%d" % n), "w") as f:
                        f.write("".join(r + "\n" for r in rcpts))
                    self.reply("250 2.0.0 Ok: queued as M%d" % n)
                elif code.startswith("4"):
                    self.reply("%s 4.3.0 data refused for now, scripted" % code)
                else:
                    self.reply("%s 5.7.1 message content rejected, scripted" % code)
                rcpts = []
            elif verb == "STARTTLS":
                # A peer whose TLS is broken: it agrees, then answers the
                # handshake with bytes that are not TLS.
                self.reply("220 2.0.0 Ready to start TLS")
                self.wfile.write(b"this is not a TLS record\r\n")
                self.wfile.flush()
                self.log(conn, "(broken TLS)")
                return
            elif verb == "RSET":
                rcpts = []
                self.reply("250 2.0.0 Ok")
            elif verb == "NOOP":
                self.reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("502 5.5.2 not implemented")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


ap = argparse.ArgumentParser()
ap.add_argument("--port-file", required=True)
ap.add_argument("--dir", required=True)
ap.add_argument("--greeting", default="220 peer.test ESMTP scripted")
ap.add_argument("--ehlo", action="append")
ap.add_argument("--rcpt", action="append", default=[])
ap.add_argument("--data", default="250")
ap.add_argument("--drop-after-data", type=int, default=0)
ap.add_argument("--delay", type=float, default=0)
args = ap.parse_args()
scripts = {}
for item in args.rcpt:
    addr, _, seq = item.partition("=")
    scripts[addr.lower()] = codes(seq)
server = Server(("127.0.0.1", 0), Peer)
tmp = args.port_file + ".tmp"
with open(tmp, "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(tmp, args.port_file)
server.serve_forever()
