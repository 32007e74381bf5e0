#!/usr/bin/env bats
# The whole core path: sendmail or smtpd -> incoming -> runq -l (route,
# deliver-local) -> Maildir, exactly once, byte for byte.

load helper
load lib/stages

setup() { make_home "RescanFrequency = 60"; }

need_smtpd() { [ -x "$LIBEXEC/smtpd" ] || skip "libexec/smtpd is not built"; }

# smtp_clients PORT CLIENTS PER_CLIENT: CLIENTS parallel smtplib sessions,
# PER_CLIENT messages each (X-Seq 1..CLIENTS*PER_CLIENT); the sent texts go
# to $BATS_TEST_TMPDIR/sent/<seq> with LF line ends, as the spool keeps them.
smtp_clients() {
  python3 - "$1" "$2" "$3" "$BATS_TEST_TMPDIR/sent" <<'EOF'
import os, smtplib, sys, threading
port, clients, per, sent = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
os.makedirs(sent, exist_ok=True)
errors = []
def client(c):
    try:
        s = smtplib.SMTP('127.0.0.1', port, timeout=30)
        s.ehlo('client.example')
        for i in range(per):
            seq = c * per + i + 1
            text = ('From: tester@localhost\nTo: demo@localhost\nDate: Sun, 22 Nov 2026 00:00:00 +0000\n'
                    'Message-ID: <seq-%d@test>\nX-Seq: %d\nSubject: message %d\n\nbody of message %d\n'
                    % (seq, seq, seq, seq))
            with open(os.path.join(sent, str(seq)), 'w') as f:
                f.write(text)
            s.sendmail('tester@localhost', ['demo@localhost'], text.replace('\n', '\r\n'))
        s.quit()
    except Exception as e:
        errors.append('client %d: %r' % (c, e))
threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
for e in errors: print(e)
sys.exit(1 if errors else 0)
EOF
}

# check_smtp_delivered_once USER FIRST LAST: like check_delivered_once, but
# the second line is smtpd's Received header (its exact form is smtpd's).
check_smtp_delivered_once() {
  python3 - "$HOME_DIR/spool/mailbox/$1" "$2" "$3" "$BATS_TEST_TMPDIR/sent" <<'EOF'
import os, re, sys
box, first, last, sent = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
files = [os.path.join(box, d, n) for d in ('new', 'cur') if os.path.isdir(os.path.join(box, d))
         for n in os.listdir(os.path.join(box, d)) if not n.startswith('.')]
seen, bad = {}, []
for path in files:
    data = open(path, 'rb').read()
    head = b'Return-Path: <tester@localhost>\n'
    if not data.startswith(head):
        bad.append('%s: no Return-Path' % path); continue
    rest = data[len(head):]
    m = re.match(rb'Received: [^\n]*\n(?:[ \t][^\n]*\n)*', rest)
    if not m:
        bad.append('%s: no Received header first' % path); continue
    rest = rest[m.end():]
    n = int(re.search(rb'^X-Seq: (\d+)$', rest, re.M).group(1))
    seen[n] = seen.get(n, 0) + 1
    if rest != open(os.path.join(sent, str(n)), 'rb').read():
        bad.append('%s: content differs from message %d' % (path, n))
for n in range(first, last + 1):
    if seen.get(n, 0) != 1:
        bad.append('message %d delivered %d times' % (n, seen.get(n, 0)))
if len(files) != last - first + 1:
    bad.append('%d files, expected %d' % (len(files), last - first + 1))
for b in bad[:20]: print(b)
sys.exit(1 if bad else 0)
EOF
}

@test "end to end: sendmail -> runq -l -> Maildir, byte for byte" {
  start_runq_loop
  inject 1 demo
  wait_for_count 2 1 5
  check_delivered_once 2 1 1
  [ "$(incoming_count)" -eq 0 ]
  [ "$(job_count local)" -eq 0 ]
  [ "$(mailq -c)" = "0" ]
}

# 1,000 through sendmail would cost 20 s of the suite's budget; smtpd's test
# below carries the 1,000, this one the parallel local injection.
@test "end to end: 200 messages from 10 parallel sendmail clients, each delivered once" {
  start_runq_loop
  senders=()
  for c in $(seq 0 9); do
    inject_many $((c * 20 + 1)) $((c * 20 + 20)) demo &
    senders+=($!)
  done
  for pid in "${senders[@]}"; do wait "$pid"; done
  wait_for_count 2 200 60
  sleep 0.5
  check_delivered_once 2 1 200
  [ "$(incoming_count)" -eq 0 ]
  [ "$(job_count local)" -eq 0 ]
}

@test "end to end: swaks -> smtpd -> runq -l -> Maildir, byte-exact apart from Received" {
  need_smtpd
  start_smtpd
  start_runq_loop
  # no final newline: swaks adds the CRLF before its "."
  printf 'From: tester@localhost\nTo: demo@localhost\nSubject: via swaks\n\nline one\n.leading dot\nlast line' \
    > "$BATS_TEST_TMPDIR/msg"
  run timeout 30 swaks --server "127.0.0.1:$SMTP_PORT" --from tester@localhost --to demo@localhost \
    --data "@$BATS_TEST_TMPDIR/msg" --helo client.example
  [ "$status" -eq 0 ]
  wait_for_count 2 1 5
  file="$(mailbox_files 2)"
  [ "$(head -1 "$file")" = "Return-Path: <tester@localhost>" ]
  [[ "$(sed -n 2p "$file")" == Received:* ]]
  # after the Received header (and its folded lines) comes the message as sent
  python3 - "$file" "$BATS_TEST_TMPDIR/msg" <<'EOF'
import re, sys
data = open(sys.argv[1], 'rb').read().split(b'\n', 1)[1]
m = re.match(rb'Received: [^\n]*\n(?:[ \t][^\n]*\n)*', data)
assert m, 'no Received header'
assert data[m.end():] == open(sys.argv[2], 'rb').read() + b'\n', data[m.end():]
EOF
}

@test "end to end: 1,000 messages from 10 parallel SMTP clients, each delivered once" {
  need_smtpd
  set_mail_key MaxMsgsWaiting 0
  start_smtpd
  start_runq_loop
  run smtp_clients "$SMTP_PORT" 10 100
  echo "$output"
  [ "$status" -eq 0 ]
  wait_for_count 2 1000 120
  sleep 0.5
  check_smtp_delivered_once 2 1 1000
  [ "$(incoming_count)" -eq 0 ]
  [ "$(job_count local)" -eq 0 ]
}
