#!/usr/bin/env bats
# libexec/pop3d and the Maildir: curl LIST/RETR, UPDATE at QUIT only, the
# IN-USE lock, SIGKILL with pending DELEs, the snapshot, #nospam,
# KILL_READ_SPAM, stored CRLF, the size cache.
load helper
load lib/pop3

setup() {
  pop3_home
  # curl prefers APOP when the greeting offers it and sends the password as
  # the secret, as many clients do.
  bbsmail-user apop demo --secret demo >/dev/null
  printf 'From: a@example.org\nSubject: one\n\n.dot\n..dots\nbody\n' | put_message 2 1700000001.M1P1.test
  printf 'From: b@example.org\r\nSubject: two\r\n\r\ncrlf body\r\nno final newline' | put_message 2 1700000002.M2P1.test
  printf 'From: c@example.org\nSubject: buy now\nX-Spam-Flag: YES\n\nspam\n' | put_message 2 1700000003.M3P1.test
  start_pop3d
}

new_count() { ls "$(mailbox_dir 2)/new" | wc -l; }

@test "curl pop3:// LIST and RETR, byte for byte" {
  run timeout 10 curl -s "pop3://127.0.0.1:$POP3_PORT/" -u demo:demo
  [ "$status" -eq 0 ]
  [ "$output" = $'1 57\r\n2 66\r\n3 65\r' ]
  box="$(mailbox_dir 2)/new"
  for i in 1 2 3; do
    expect_crlf "$box/170000000$i.M${i}P1.test" > "$BATS_TEST_TMPDIR/want$i"
  done
  for i in 1 2 3; do
    timeout 10 curl -s "pop3://127.0.0.1:$POP3_PORT/$i" -u demo:demo > "$BATS_TEST_TMPDIR/got$i"
    cmp "$BATS_TEST_TMPDIR/got$i" "$BATS_TEST_TMPDIR/want$i"
  done
  # curl QUITs: the three retrieved messages are now seen, in cur/.
  [ "$(new_count)" -eq 0 ]
  [ -f "$(mailbox_dir 2)/cur/1700000002.M2P1.test:2,S" ]
}

@test "a second session on the same mailbox gets -ERR [IN-USE]" {
  run timeout 20 python3 - "$POP3_PORT" <<'PY'
import poplib, sys
one = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
one.user("demo"); print(one.pass_("demo").decode())
two = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
two.user("demo")
try:
    two.pass_("demo")
except poplib.error_proto as e:
    print(e.args[0].decode())
print(one.quit().decode())
two.user("demo")
print(two.pass_("demo").decode())   # the lock went with the first session
two.quit()
PY
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "+OK demo has 3 messages (188 octets)" ]
  [ "${lines[1]}" = "-ERR [IN-USE] mailbox is in use by another POP3 session" ]
  [ "${lines[3]}" = "+OK demo has 3 messages (188 octets)" ]
}

@test "SIGKILL during a session with pending DELEs deletes nothing and leaves no lock" {
  python3 - "$POP3_PORT" "$BATS_TEST_TMPDIR/ready" > "$BATS_TEST_TMPDIR/out" 2>&1 <<'PY' &
import poplib, sys, time, os
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
p.user("demo"); p.pass_("demo")
print(p.retr(1)[0].decode()); print(p.dele(1).decode()); print(p.dele(2).decode())
sys.stdout.flush()
open(sys.argv[2], "w").close()
for i in range(200):        # until the test has killed pop3d
    if os.path.exists(sys.argv[2] + ".killed"):
        break
    time.sleep(0.05)
try:
    print(p.noop())
except Exception as e:
    print("dropped")
PY
  client=$!
  track_pid $client
  for i in $(seq 1 100); do [ -f "$BATS_TEST_TMPDIR/ready" ] && break; sleep 0.05; done
  pid="$(pop3d_pid)"
  [ -n "$pid" ]
  kill -KILL "$pid"
  touch "$BATS_TEST_TMPDIR/ready.killed"
  wait "$client"
  [ "$(tail -n 1 "$BATS_TEST_TMPDIR/out")" = "dropped" ]
  [ "$(new_count)" -eq 3 ]
  run pop3_chat <<< $'USER demo\nPASS demo\nQUIT'
  [ "${lines[2]}" = "+OK demo has 3 messages (188 octets)" ]
}

@test "a message that arrives during a session shows only in the next one" {
  run timeout 20 python3 - "$POP3_PORT" "$(mailbox_dir 2)" <<'PY'
import poplib, sys, os
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
p.user("demo"); p.pass_("demo")
print(p.stat())
box = sys.argv[2]
with open(box + "/tmp/1700000009.M9P1.test", "w") as f:
    f.write("Subject: late\n\nlate\n")
os.rename(box + "/tmp/1700000009.M9P1.test", box + "/new/1700000009.M9P1.test")
print(p.stat(), len(p.list()[1]), len(p.uidl()[1]))
p.quit()
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
p.user("demo"); p.pass_("demo")
print(p.stat(), p.uidl(4).decode())
p.quit()
PY
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "(3, 188)" ]
  [ "${lines[1]}" = "(3, 188) 3 3" ]
  [ "${lines[2]}" = "(4, 211) +OK 4 1700000009.M9P1.test" ]
}

@test "<user>#nospam hides spam-tagged messages; they stay in the mailbox" {
  run pop3_chat <<< $'USER demo#nospam\nPASS demo\nLIST\nRETR 3\nTOP 3 0\nQUIT'
  [ "${lines[2]}" = "+OK demo has 2 messages (123 octets)" ]
  [ "$(printf '%s\n' "${lines[@]:3:4}")" = "$(printf '%s\n' '+OK 2 messages (123 octets)' '1 57' '2 66' .)" ]
  [ "${lines[7]}" = "-ERR no such message, only 2 in maildrop" ]
  [ "${lines[8]}" = "-ERR no such message, only 2 in maildrop" ]
  grep -q 'event=login .*nospam=1 messages=2' "$BATS_TEST_TMPDIR/POP3_PORT.log"
  [ "$(new_count)" -eq 3 ]
  run pop3_chat <<< $'USER demo\nPASS demo\nQUIT'
  [ "${lines[2]}" = "+OK demo has 3 messages (188 octets)" ]
}

@test "KILL_READ_SPAM deletes spam once retrieved; other mail moves to cur/" {
  set_mail_key Options 'ALLOW_POP3 KILL_READ_SPAM'
  run pop3_chat <<< $'USER demo\nPASS demo\nRETR 1\nRETR 3\nQUIT'
  [ "${lines[-2]}" = "+OK bbsmail POP3 server signing off (2 messages left)" ]
  [ ! -e "$(mailbox_dir 2)/new/1700000003.M3P1.test" ]
  [ -f "$(mailbox_dir 2)/cur/1700000001.M1P1.test:2,S" ]
  [ -f "$(mailbox_dir 2)/new/1700000002.M2P1.test" ]
  [ "$(mailbox_count 2)" -eq 2 ]
}

@test "QUIT: DELE unlinks, RETR marks seen keeping other flags, TOP changes nothing" {
  box="$(mailbox_dir 2)"
  mv "$box/new/1700000003.M3P1.test" "$box/cur/1700000003.M3P1.test:2,FT"
  run pop3_chat <<< $'USER demo\nPASS demo\nTOP 1 1\nRETR 3\nDELE 2\nQUIT'
  [ "${lines[-2]}" = "+OK bbsmail POP3 server signing off (2 messages left)" ]
  [ -f "$box/new/1700000001.M1P1.test" ]
  [ ! -e "$box/new/1700000002.M2P1.test" ]
  [ -f "$box/cur/1700000003.M3P1.test:2,FST" ]
  [ "$(mailbox_count 2)" -eq 2 ]
  grep -q 'event=quit ip=127.0.0.1 user=demo retrieved=1 deleted=1 failed=0 left=2' "$BATS_TEST_TMPDIR/POP3_PORT.log"
}

@test "sizes come from ,W= in the name or the cache; UIDL ignores ,S=/,W=" {
  printf 'Subject: sized\n\nx\n' | put_message 2 '1700000004.M4P1.test,S=19,W=999'
  run pop3_chat <<< $'USER demo\nPASS demo\nLIST 4\nUIDL 4\nQUIT'
  [ "${lines[3]}" = "+OK 4 999" ]
  [ "${lines[4]}" = "+OK 4 1700000004.M4P1.test" ]
  cache="$(mailbox_dir 2)/bbsmail-pop3.cache"
  [ "$(head -n 1 "$cache")" = "bbsmail-pop3-cache 1" ]
  grep -qx '1700000003.M3P1.test 65 60 1' "$cache"
  # A second session trusts the cache: a file changed behind its back
  # (which Maildir never does) keeps its cached size.
  printf 'x\n' > "$(mailbox_dir 2)/new/1700000001.M1P1.test"
  run pop3_chat <<< $'USER demo\nPASS demo\nLIST 1\nQUIT'
  [ "${lines[3]}" = "+OK 1 57" ]
}

@test "an unreadable entry in new/ is skipped and logged, the rest is served" {
  ln -s /etc/passwd "$(mailbox_dir 2)/new/1700000000.M0P1.link"
  run pop3_chat <<< $'USER demo\nPASS demo\nSTAT\nQUIT'
  [ "${lines[3]}" = "+OK 3 188" ]
  grep -q 'pop3d: warning: session=[0-9]* unable to read .*/new/1700000000.M0P1.link: Too many levels of symbolic links' "$BATS_TEST_TMPDIR/POP3_PORT.log"
}

@test "a 200 KB message with CRLF split across read chunks: size and bytes exact" {
  python3 - "$(mailbox_dir 2)" <<'PY'
import os, sys
box = sys.argv[1]
head = b"From: big@example.org\nSubject: big\n\n"
body = bytearray()
i = 0
while len(body) < 65536 - len(head) - 40:
    body += (b".line %d\n" if i % 3 == 0 else b"line %d\r\n") % i
    i += 1
data = head + bytes(body)
data += b"x" * (65535 - len(data)) + b"\r\n.after the boundary\n" + b"y" * 140000 + b"\nbare\rcr\n."
open(os.path.join(box, "tmp", "big"), "wb").write(data)
os.rename(os.path.join(box, "tmp", "big"), os.path.join(box, "new", "1700000004.M4P1.test"))
PY
  run timeout 20 python3 - "$POP3_PORT" "$(mailbox_dir 2)/new/1700000004.M4P1.test" "$POP3_PY" <<'PY'
import socket, sys, importlib.util
spec = importlib.util.spec_from_file_location("pop3", sys.argv[3]); pop3 = importlib.util.module_from_spec(spec); spec.loader.exec_module(pop3)
data = open(sys.argv[2], "rb").read()
want = pop3.wire(data)
unstuffed = len(want) - sum(1 for l in want.split(b"\r\n") if l.startswith(b".."))
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb")
f.readline()
s.sendall(b"USER demo\r\nPASS demo\r\nLIST 4\r\nRETR 4\r\n")
f.readline(); f.readline()
print(f.readline().decode().strip(), unstuffed)
print(f.readline().decode().strip())
got = b""
while not got.endswith(b"\r\n.\r\n"):
    got += f.readline()
print(got[:-3] == want)
PY
  [ "$status" -eq 0 ]
  read -r ok n size expected <<< "${lines[0]}"
  [ "$size" = "$expected" ]
  [ "${lines[1]}" = "+OK $size octets" ]
  [ "${lines[2]}" = "True" ]
}

@test "a deleted message goes into the spool's trash to be recycled, not unlinked" {
  f="$(mailbox_dir 2)/new/1700000001.M1P1.test"
  ino="$(stat -c %i "$f")"
  mkdir -p "$HOME_DIR/spool/trash"
  before="$(ls "$HOME_DIR/spool/trash" | wc -l)"
  run pop3_chat <<< $'USER demo\nPASS demo\nDELE 1\nQUIT'
  [ "${lines[4]}" = "+OK bbsmail POP3 server signing off (2 messages left)" ]
  [ ! -e "$f" ]
  [ "$(ls "$HOME_DIR/spool/trash" | wc -l)" -eq $((before + 1)) ]
  [ "$(find "$HOME_DIR/spool/trash" -inum "$ino" | wc -l)" -eq 1 ]
}
