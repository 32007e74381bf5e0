#!/usr/bin/python3
# A scripted milter for t/smtpd-milter.bats, on Debian's python3-milter
# (libmilter underneath, so smtpd meets the real protocol).
#
#   milter_script.py CONFIG.json SOCKET SEEN.json
#
# SOCKET is a path, or a libmilter address such as inet:PORT@127.0.0.1.
#
# CONFIG says what to do: {"at": STEP, "do": ACTION, "reply": [code, xcode,
# text], "eom": [[change, args...], ...], "sleep": seconds}.  STEP is one
# of connect helo mail rcpt unknown data header eoh body eom; ACTION one of
# continue accept reject tempfail discard skip (at body) reply hang.  "rcpt_match" and
# "mail_match": only a recipient or sender containing this text gets it.  The eom changes are
# addheader NAME VALUE, insheader INDEX NAME VALUE, chgheader NAME INDEX
# VALUE, replacebody TEXT, addrcpt ADDR, delrcpt ADDR, chgfrom ADDR,
# quarantine REASON.  "raw": "garbage" instead runs a plain socket server
# that answers every packet with bytes outside the protocol.
#
# SEEN gets, after each message and at close, what the milter saw: the
# steps in order, the macros asked for at each step, each MAIL and RCPT
# with its ESMTP parameters, the headers and the body.
import json, os, socket, sys, time

config_path, sock_path, seen_path = sys.argv[1:4]
cfg = json.load(open(config_path))

if cfg.get("raw") == "garbage":
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(sock_path)
    srv.listen(8)
    while True:
        c, _ = srv.accept()
        try:
            c.settimeout(20)
            c.recv(65536)
            c.sendall(b"\x00\x00\x00\x05Zjunk")
            time.sleep(1)
        except OSError:
            pass
        c.close()

import Milter

MACROS = ["j", "{daemon_name}", "v", "_", "{client_addr}", "{client_port}", "{client_name}",
          "{client_ptr}", "{if_addr}", "{tls_version}", "{cipher}", "{auth_type}", "{auth_authen}",
          "{mail_addr}", "{rcpt_addr}", "{rcpt_mailer}", "i"]
seen = {"steps": [], "macros": {}, "headers": [], "body": "", "mail": [], "rcpt": [],
        "mail_params": [], "rcpt_params": [], "unknown": []}


def save():
    tmp = seen_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(seen, f)
    os.rename(tmp, seen_path)


class Script(Milter.Base):
    def act(self, step):
        seen["steps"].append(step)
        got = {}
        for m in MACROS:
            v = self.getsymval(m)
            if v is not None:
                got[m] = v
        seen["macros"][step] = got
        save()
        if cfg.get("at") != step:
            return Milter.CONTINUE
        do = cfg.get("do", "continue")
        if do == "hang":
            time.sleep(cfg.get("sleep", 60))
            return Milter.CONTINUE
        if do == "reply":
            self.setreply(*cfg["reply"])
            return Milter.REJECT if cfg["reply"][0].startswith("5") else Milter.TEMPFAIL
        return {"continue": Milter.CONTINUE, "accept": Milter.ACCEPT, "reject": Milter.REJECT,
                "tempfail": Milter.TEMPFAIL, "discard": Milter.DISCARD, "skip": Milter.SKIP}[do]

    def connect(self, hostname, family, hostaddr):
        seen["connect"] = [hostname, str(hostaddr[0]) if hostaddr else ""]
        return self.act("connect")

    def hello(self, name):
        seen["helo"] = name
        return self.act("helo")

    def envfrom(self, addr, *params):
        seen["mail"].append(addr)
        seen["mail_params"].append(list(params))
        seen["headers"], seen["body"] = [], ""
        if cfg.get("at") == "mail" and cfg.get("mail_match", "") not in addr:
            seen["steps"].append("mail")
            return Milter.CONTINUE
        return self.act("mail")

    def envrcpt(self, addr, *params):
        seen["rcpt"].append(addr)
        seen["rcpt_params"].append(list(params))
        if cfg.get("at") == "rcpt" and cfg.get("rcpt_match", "") not in addr:
            seen["steps"].append("rcpt")
            return Milter.CONTINUE
        return self.act("rcpt")

    def unknown(self, cmd):
        seen["unknown"].append(cmd.decode("latin-1") if isinstance(cmd, bytes) else cmd)
        return self.act("unknown")

    def data(self):
        return self.act("data")

    def header(self, name, value):
        seen["headers"].append([name, value])
        if cfg.get("at") == "header":
            return self.act("header")
        return Milter.CONTINUE

    def eoh(self):
        return self.act("eoh")

    def body(self, chunk):
        seen["body"] += chunk.decode("latin-1")
        if cfg.get("at") == "body":
            return self.act("body")
        return Milter.CONTINUE

    def eom(self):
        for change in cfg.get("eom", []):
            kind, args = change[0], change[1:]
            if kind == "addheader":
                self.addheader(args[0], args[1])
            elif kind == "insheader":
                self.addheader(args[1], args[2], args[0])
            elif kind == "chgheader":
                self.chgheader(args[0], args[1], args[2])
            elif kind == "replacebody":
                self.replacebody(args[0].encode())
            elif kind == "addrcpt":
                self.addrcpt(args[0])
            elif kind == "delrcpt":
                self.delrcpt(args[0])
            elif kind == "chgfrom":
                self.chgfrom(args[0])
            elif kind == "quarantine":
                self.quarantine(args[0])
        return self.act("eom")

    def abort(self):
        seen["steps"].append("abort")
        save()
        return Milter.CONTINUE

    def close(self):
        seen["steps"].append("close")
        save()
        return Milter.CONTINUE


Milter.factory = Script
Milter.set_flags(Milter.ADDHDRS | Milter.CHGHDRS | Milter.CHGBODY | Milter.ADDRCPT | Milter.DELRCPT
                 | Milter.CHGFROM | Milter.QUARANTINE)
save()
# SOCKET "inet:<port>@127.0.0.1" (or inet6:) listens there instead of on a path.
Milter.runmilter("bbsmail-test", sock_path if sock_path.startswith("inet") else "unix:" + sock_path, 240)
