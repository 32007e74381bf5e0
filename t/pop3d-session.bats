#!/usr/bin/env bats
# libexec/pop3d: the protocol with real clients (python3 poplib) and a raw
# chat for exact replies: login, APOP, TOP, UIDL, RSET, CAPA, bad input.
load helper
load lib/pop3

setup() {
  pop3_home
  bbsmail-user apop demo --secret 'tanstaaf' >/dev/null
  bbsmail-user set demo --alias 'Demo Alias' >/dev/null
  printf 'From: a@example.org\nSubject: first\n\nbody one\n.starts with a dot\n..two dots\n.\nlast line\n' | put_message 2 1700000001.M1P1.test
  printf 'From: b@example.org\nSubject: second\n\nl1\nl2\nl3\n' | put_message 2 1700000002.M2P1.test
  start_pop3d
}

@test "greeting carries an APOP timestamp; CAPA lists the capabilities" {
  run pop3_chat <<< $'CAPA\nQUIT'
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" =~ ^\+OK\ .*\ \<[0-9]+\.[0-9]+\.[0-9]+@localhost\>$ ]]
  [ "${lines[1]}" = "+OK capability list follows" ]
  # No certificate in this home: no STLS (t/pop3d-tls.bats has it).
  [ "$(printf '%s\n' "${lines[@]:2:10}")" = "$(printf '%s\n' TOP UIDL USER RESP-CODES AUTH-RESP-CODE PIPELINING 'EXPIRE NEVER' 'IMPLEMENTATION bbsmail' 'SASL PLAIN LOGIN CRAM-MD5' .)" ]
}

@test "poplib USER/PASS: STAT, LIST and RETR byte for byte after dot-stuffing" {
  run timeout 20 python3 - "$POP3_PORT" "$(mailbox_dir 2)/new/1700000001.M1P1.test" <<'PY'
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
print(p.user("demo").decode())
print(p.pass_("demo").decode())
print(p.stat())
resp, listing, _ = p.list()
print([l.decode() for l in listing])
resp, lines, octets = p.retr(1)
stored = open(sys.argv[2], "rb").read()
print(b"\n".join(lines) + b"\n" == stored, octets)
print(p.quit().decode())
PY
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "+OK send PASS" ]
  [ "${lines[1]}" = "+OK demo has 2 messages (147 octets)" ]
  [ "${lines[2]}" = "(2, 147)" ]
  [ "${lines[3]}" = "['1 95', '2 52']" ]
  [ "${lines[4]}" = "True 95" ]
  [ "${lines[5]}" = "+OK bbsmail POP3 server signing off (2 messages left)" ]
  # RETR moved the message to cur/ with the seen flag; the other stays new.
  [ -f "$(mailbox_dir 2)/cur/1700000001.M1P1.test:2,S" ]
  [ -f "$(mailbox_dir 2)/new/1700000002.M2P1.test" ]
}

@test "raw RETR shows the stuffed dots and CRLF on every line" {
  run pop3_chat <<< $'USER demo\nPASS demo\nRETR 1\nQUIT'
  [ "${lines[3]}" = "+OK 95 octets" ]
  # (bats drops empty lines from $lines: compare $output)
  expected="$(printf '%s\n' 'From: a@example.org' 'Subject: first' '' 'body one' '..starts with a dot' '...two dots' '..' 'last line' '.')"
  [[ "$output" == *$'+OK 95 octets\n'"$expected"$'\n+OK bbsmail POP3 server signing off (2 messages left)\n<eof>' ]]
}

@test "login by name or alias is case-insensitive; <name>#nospam too" {
  run pop3_chat <<< $'USER DEMO\nPASS demo\nQUIT'
  [ "${lines[2]}" = "+OK demo has 2 messages (147 octets)" ]
  run pop3_chat <<< $'USER demo alias\nPASS demo\nQUIT'
  [ "${lines[2]}" = "+OK demo has 2 messages (147 octets)" ]
  run pop3_chat <<< $'USER Demo#NoSpam\nPASS demo\nQUIT'
  [ "${lines[2]}" = "+OK demo has 2 messages (147 octets)" ]
}

@test "poplib APOP with the stored secret; a wrong digest is -ERR [AUTH]" {
  run timeout 20 python3 - "$POP3_PORT" <<'PY'
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
print(p.apop("demo", "tanstaaf").decode())
print(p.quit().decode())
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
try:
    p.apop("demo", "wrong")
except poplib.error_proto as e:
    print(e.args[0].decode())
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
try:
    p.apop("sysop", "")   # sysop has no APOP secret
except poplib.error_proto as e:
    print(e.args[0].decode())
PY
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "+OK demo has 2 messages (147 octets)" ]
  [ "${lines[2]}" = "-ERR [AUTH] invalid user name or password" ]
  [ "${lines[3]}" = "-ERR [AUTH] invalid user name or password" ]
  grep -q 'event=login .*user=demo number=2 method=apop' "$BATS_TEST_TMPDIR/POP3_PORT.log"
  grep -q 'event=login-failed ip=127.0.0.1 user=demo method=apop tls=0 reason=bad-credentials' "$BATS_TEST_TMPDIR/POP3_PORT.log"
}

@test "poplib TOP, UIDL stable across sessions and the move to cur/, RSET" {
  run timeout 20 python3 - "$POP3_PORT" <<'PY'
import poplib, sys
def session():
    p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
    p.user("demo"); p.pass_("demo")
    return p
p = session()
print(p.top(2, 0)[1])
print(p.top(2, 2)[1])
first = p.uidl()[1]
print([u.decode() for u in first])
p.retr(1); p.retr(2)
print(p.dele(1).decode())
print(p.rset().decode())
print(p.dele(2).decode())
p.quit()
p = session()
print(p.uidl()[1] == first[:1], p.uidl(1).decode())
p.quit()
PY
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "[b'From: b@example.org', b'Subject: second', b'']" ]
  [ "${lines[1]}" = "[b'From: b@example.org', b'Subject: second', b'', b'l1', b'l2']" ]
  [ "${lines[2]}" = "['1 1700000001.M1P1.test', '2 1700000002.M2P1.test']" ]
  [ "${lines[3]}" = "+OK message 1 deleted" ]
  [ "${lines[4]}" = "+OK maildrop has 2 messages (147 octets)" ]
  [ "${lines[5]}" = "+OK message 2 deleted" ]
  [ "${lines[6]}" = "True +OK 1 1700000001.M1P1.test" ]
  [ "$(mailbox_count 2)" -eq 1 ]
}

@test "bad commands get -ERR and the session goes on" {
  long="NOOP $(printf 'x%.0s' $(seq 1 1200))"
  run pop3_chat <<EOF
STAT
PASS demo
USER demo
PASS wrong
USER demo
PASS demo
$long
NO\\0OP
FROB 1
LIST 0
LIST 3
LIST x
LIST -1
RETR
TOP 1
TOP 1 x
DELE 1
DELE 1
UIDL 1
USER demo
NOOP
QUIT
EOF
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = "-ERR STAT is not valid in the AUTHORIZATION state" ]
  [ "${lines[2]}" = "-ERR give USER first" ]
  [ "${lines[4]}" = "-ERR [AUTH] invalid user name or password" ]
  [ "${lines[6]}" = "+OK demo has 2 messages (147 octets)" ]
  [ "${lines[7]}" = "-ERR command line too long (at most 1000 octets)" ]
  [ "${lines[8]}" = "-ERR NUL character in command" ]
  [ "${lines[9]}" = "-ERR unknown command" ]
  [ "${lines[10]}" = "-ERR no such message, only 2 in maildrop" ]
  [ "${lines[11]}" = "-ERR no such message, only 2 in maildrop" ]
  [ "${lines[12]}" = "-ERR bad message number" ]
  [ "${lines[13]}" = "-ERR bad message number" ]
  [ "${lines[14]}" = "-ERR bad message number" ]
  [ "${lines[15]}" = "-ERR usage: TOP msg n" ]
  [ "${lines[16]}" = "-ERR usage: TOP msg n" ]
  [ "${lines[17]}" = "+OK message 1 deleted" ]
  [ "${lines[18]}" = "-ERR message 1 is deleted" ]
  [ "${lines[19]}" = "-ERR message 1 is deleted" ]
  [ "${lines[20]}" = "-ERR USER is not valid in the TRANSACTION state" ]
  [ "${lines[21]}" = "+OK" ]
  [ "${lines[22]}" = "+OK bbsmail POP3 server signing off (1 message left)" ]
  [ "$(mailbox_count 2)" -eq 1 ]
}

@test "MaxInactivity: -ERR autologout, then the server closes" {
  set_mail_key MaxInactivity 1
  run pop3_chat <<< $'USER demo\nPASS demo\n<sleep 2.5>\nNOOP'
  [ "${lines[2]}" = "+OK demo has 2 messages (147 octets)" ]
  [ "${lines[3]}" = "-ERR autologout: idle for 1 seconds" ]
  [ "${lines[4]}" = "<eof>" ]
  [ "${#lines[@]}" -eq 5 ]
  # Nothing was retrieved or deleted, nothing moved.
  [ "$(ls "$(mailbox_dir 2)/new" | wc -l)" -eq 2 ]
}

@test "DEBUG_POP3 logs commands and replies with the password masked" {
  set_mail_key Options 'ALLOW_POP3 DEBUG_POP3'
  set_mail_key LogLevel Debug
  run pop3_chat <<< $'USER demo\nPASS demo\nSTAT\nQUIT'
  [ "${lines[3]}" = "+OK 2 147" ]
  log="$(pop3_log)"
  [[ "$log" == *'command="USER demo"'* ]]
  [[ "$log" == *'command="PASS ********"'* ]]
  [[ "$log" == *'reply="+OK 2 147"'* ]]
  [[ "$log" != *'PASS demo'* ]]
}

@test "without ALLOW_POP3 the session is refused" {
  set_mail_key Options 'ALLOW_SYSOP_ALIASES'
  run pop3_chat <<< 'QUIT'
  [ "${lines[0]}" = "-ERR [SYS/PERM] POP3 is not enabled on this server" ]
}

@test "a user who never got mail has an empty maildrop (created at login)" {
  run pop3_chat <<< $'USER sysop\nPASS demo\nSTAT\nLIST\nUIDL\nRETR 1\nQUIT'
  [ "${lines[2]}" = "+OK sysop has 0 messages (0 octets)" ]
  [ "${lines[3]}" = "+OK 0 0" ]
  [ "$(printf '%s\n' "${lines[@]:4:5}")" = "$(printf '%s\n' '+OK 0 messages (0 octets)' . '+OK 0 messages (0 octets)' . '-ERR no such message, only 0 in maildrop')" ]
  [ -d "$(mailbox_dir 1)/new" ] && [ -d "$(mailbox_dir 1)/cur" ] && [ -d "$(mailbox_dir 1)/tmp" ]
}
