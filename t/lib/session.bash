# SMTP sessions from a chosen loopback source address, for the tests of
# what smtpd does by client address (DNS blacklists, block lists).  Load
# after `load helper` with `load lib/session`; start_smtpd first.
#
#   session FROM-IP COMMAND...   see below
#   spooled                      the files in spool/incoming

# session FROM-IP COMMAND...: one SMTP session from that loopback address,
# each command sent after the previous reply; prints every reply's last
# line.  A command "DATA:<file>" sends DATA, then the file and the dot.
session() {
  python3 - "$SMTP_PORT" "$@" <<'PY'
import socket, sys
port, src, cmds = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
s = socket.socket()
s.settimeout(30)
s.bind((src, 0))
s.connect(('127.0.0.1', port))
f = s.makefile('rb')
def reply():
    while True:
        try:
            line = f.readline().decode()
        except OSError:   # reset by a server that closed on us
            line = ''
        if not line:
            print('EOF'); return None
        if line[3:4] != '-':
            print(line.rstrip('\r\n')); return line
if reply() is None or not cmds:
    sys.exit(0)
for c in cmds:
    if c.startswith('DATA:'):
        s.sendall(b'DATA\r\n')
        r = reply()
        if r is None or not r.startswith('354'):
            continue
        body = open(c[5:], 'rb').read().replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
        s.sendall(body + b'.\r\n')
    else:
        try:
            s.sendall((c + '\r\n').encode())
        except OSError:
            print('EOF'); break
    if reply() is None:
        break
PY
}

# spooled: the files in spool/incoming (route never ran).
spooled() { find "$HOME_DIR/spool/incoming" -type f; }

