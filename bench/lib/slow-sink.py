#!/usr/bin/env python3
"""slow-sink: an SMTP server that takes every message and throws it away,
answering every command (and the greeting) DELAY milliseconds after it has
read it, one command after another as a real server would, pipelined ones
included: a slow destination for bench/remote-vs-postfix.  smtp-sink's own
delays (-w, -W) are whole seconds.

usage: slow-sink.py HOST PORT DELAY-MS [USER]

Listens on HOST:PORT, then (as root) becomes USER (default nobody).  Prints
the counters smtp-sink -c prints, in the same form ("sess=N quit=N mesg=N"
and a CR, after every session end, QUIT and final dot), so one reader
serves both.  No STARTTLS, no AUTH; EHLO offers PIPELINING, SIZE,
8BITMIME and ENHANCEDSTATUSCODES.
"""
import asyncio
import os
import pwd
import socket
import sys

EHLO = (b"250-slow-sink\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n"
        b"250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n")
counts = {"sess": 0, "quit": 0, "mesg": 0}


def show():
    sys.stdout.write("sess=%(sess)d quit=%(quit)d mesg=%(mesg)d\r" % counts)
    sys.stdout.flush()


async def session(reader, writer, delay):
    async def reply(text):
        await asyncio.sleep(delay)
        writer.write(text)
        await writer.drain()

    try:
        await reply(b"220 slow-sink ESMTP\r\n")
        while True:
            line = await reader.readline()
            if not line:
                break
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb == b"EHLO":
                await reply(EHLO)
            elif verb in (b"HELO", b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                await reply(b"250 2.0.0 Ok\r\n")
            elif verb == b"DATA":
                await reply(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                while True:
                    data = await reader.readline()
                    if not data:
                        return
                    if data in (b".\r\n", b".\n"):
                        break
                counts["mesg"] += 1
                show()
                await reply(b"250 2.0.0 Ok: queued\r\n")
            elif verb == b"QUIT":
                counts["quit"] += 1
                show()
                await reply(b"221 2.0.0 Bye\r\n")
                break
            else:
                await reply(b"502 5.5.2 Error: command not recognized\r\n")
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        pass
    finally:
        counts["sess"] += 1
        show()
        writer.close()


async def main():
    host, port, delay = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) / 1000.0
    user = sys.argv[4] if len(sys.argv) > 4 else "nobody"
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1000)
    if os.getuid() == 0:
        pw = pwd.getpwnam(user)
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    server = await asyncio.start_server(lambda r, w: session(r, w, delay), sock=sock)
    show()
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
