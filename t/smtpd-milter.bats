#!/usr/bin/env bats
# Mail filters in smtpd (PARAM milter, milter(5)): a scripted milter on
# Debian's python3-milter (libmilter underneath) listening on a unix
# socket in the test's home; each test writes what it does at which step
# and checks the exact replies, the stored message and envelope, and what
# the milter saw.
load helper
load lib/session
load lib/smtp

MILTER_SCRIPT="$BATS_TEST_DIRNAME/lib/milter_script.py"

setup_file() { tls_setup_file; }
setup() {
  make_home
}

# milter NAME JSON: starts a scripted milter on $HOME_DIR/NAME.sock; what
# it saw goes to $HOME_DIR/NAME.seen.
milter() {
  local name="$1" i
  printf '%s\n' "$2" > "$HOME_DIR/$name.json"
  rm -f "$HOME_DIR/$name.sock"
  /usr/bin/python3 "$MILTER_SCRIPT" "$HOME_DIR/$name.json" "$HOME_DIR/$name.sock" "$HOME_DIR/$name.seen" \
    2>>"$BATS_TEST_TMPDIR/$name.log" &
  track_pid $!
  for i in $(seq 1 200); do
    [ -S "$HOME_DIR/$name.sock" ] && return 0
    sleep 0.05
  done
  echo "milter $name never listened" >&2
  return 1
}

# conf LINE...: etc/smtpserver.conf
conf() { printf '%s\n' "$@" > "$HOME_DIR/etc/smtpserver.conf"; }

# seen NAME PYTHON-EXPRESSION: evaluates it on what milter NAME saw (d).
seen() {
  /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
    "$HOME_DIR/$1.seen" "$2"
}

# wait_seen NAME STEP: until milter NAME has seen STEP (at most 20 s).
wait_seen() {
  local i
  for i in $(seq 1 200); do
    [ "$(seen "$1" "'$2' in d['steps']")" = True ] && return 0
    sleep 0.1
  done
  return 1
}

message() {
  printf 'From: a@far.example\nSubject: %s\n\n%s\n' "${2:-test}" "${3:-hello there}" > "$1"
}

# send [SENDER] [RCPT...]: one message to demo@localhost (or the RCPTs).
send() {
  local from="${1:-s@far.example}" r cmds=()
  shift || true
  message "$BATS_TEST_TMPDIR/m"
  [ $# -gt 0 ] || set -- demo@localhost
  for r in "$@"; do cmds+=("RCPT TO:<$r>"); done
  session 127.0.0.1 'EHLO client.example' "MAIL FROM:<$from>" "${cmds[@]}" "DATA:$BATS_TEST_TMPDIR/m" QUIT
}

# stored [FILE]: the message part of the one spooled file, its Received:
# field (with its continuation lines) as the one line "[Received]".
stored() {
  python3 -c '
import re, sys
d = open(sys.argv[1], "rb").read()
m = d[d.index(b"\0\0") + 2:].decode()
sys.stdout.write(re.sub(r"(?m)^Received: .*\n(?:[ \t].*\n)*", "[Received]\n", m, count=1))' "${1:-$(spooled)}"
}
smtp_log() { cat "$BATS_TEST_TMPDIR/SMTP_PORT.log"; }

@test "milter lib: the reply parser, filter addresses, framing, progress, an oversized packet, a timeout" {
  run timeout 20 "$BBSMAIL_ROOT/build/t/milter-test"
  echo "$output"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "milter: a milter that continues sees every step; the message is stored as it was" {
  milter m1 '{}'
  conf "PARAM milter unix:$HOME_DIR/m1.sock name=m1"
  start_smtpd
  run send
  echo "$output"
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  [ "$(spooled | wc -l)" -eq 1 ]
  wait_seen m1 close
  [ "$(seen m1 'd["steps"][-8:]')" = "['connect', 'helo', 'mail', 'rcpt', 'data', 'eoh', 'eom', 'close']" ]
  [ "$(seen m1 'd["headers"][0][0]')" = "Received" ]
  [ "$(seen m1 'd["headers"][1:]')" = "[['From', 'a@far.example'], ['Subject', 'test']]" ]
  [ "$(seen m1 'repr(d["body"])')" = "'hello there\\r\\n'" ]
  [ "$(stored)" = "$(printf '[Received]\nFrom: a@far.example\nSubject: test\n\nhello there')" ]
}

@test "milter: MAIL and RCPT reach the milter with their ESMTP parameters, each its own string" {
  milter m1 '{}'
  conf "PARAM milter unix:$HOME_DIR/m1.sock name=m1"
  start_smtpd
  message "$BATS_TEST_TMPDIR/m"
  run session 127.0.0.1 'EHLO client.example' 'MAIL FROM:<s@far.example>  SIZE=120 BODY=8BITMIME RET=HDRS' \
    'RCPT TO:<demo@localhost> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;demo@localhost' 'RCPT TO:<sysop@localhost>' \
    "DATA:$BATS_TEST_TMPDIR/m" QUIT
  echo "$output"
  [[ "${lines[6]}" == "250 2.0.0 Ok: queued as "* ]]
  wait_seen m1 close
  [ "$(seen m1 'd["mail"]')" = "['<s@far.example>']" ]
  [ "$(seen m1 'd["mail_params"]')" = "[['SIZE=120', 'BODY=8BITMIME', 'RET=HDRS']]" ]
  [ "$(seen m1 'd["rcpt"]')" = "['<demo@localhost>', '<sysop@localhost>']" ]
  [ "$(seen m1 'd["rcpt_params"]')" = "[['NOTIFY=SUCCESS,FAILURE', 'ORCPT=rfc822;demo@localhost'], []]" ]
}

@test "milter: an unknown command reaches the milter (SMFIC_UNKNOWN); its reply replaces the 500, and mail goes on" {
  milter m1 '{"at": "unknown", "do": "reply", "reply": ["502", "5.5.2", "No such command here"]}'
  conf "PARAM milter unix:$HOME_DIR/m1.sock name=m1"
  start_smtpd
  message "$BATS_TEST_TMPDIR/m"
  run session 127.0.0.1 'EHLO client.example' 'XYZZY plugh' 'MAIL FROM:<s@far.example>' 'RCPT TO:<demo@localhost>' \
    "DATA:$BATS_TEST_TMPDIR/m" QUIT
  echo "$output"
  [ "${lines[2]}" = "502 5.5.2 No such command here" ]
  [[ "${lines[6]}" == "250 2.0.0 Ok: queued as "* ]]
  wait_seen m1 close
  [ "$(seen m1 'd["unknown"]')" = "['XYZZY plugh']" ]
  grep -q 'event=milter milter=m1 step=unknown action=replycode code=502 status=5.5.2 text="No such command here"' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}

@test "milter: a milter that continues at an unknown command leaves smtpd's 500" {
  milter m1 '{}'
  conf "PARAM milter unix:$HOME_DIR/m1.sock name=m1"
  start_smtpd
  run session 127.0.0.1 'EHLO client.example' 'XYZZY' QUIT
  echo "$output"
  [ "${lines[2]}" = "500 5.5.1 Command unrecognized" ]
  wait_seen m1 close
  [ "$(seen m1 'd["unknown"]')" = "['XYZZY']" ]
}

# envelope FILE: the envelope record's fields, one a line ("Fs@x", "Tdemo@localhost").
envelope() { python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); print("\n".join(f.decode() for f in d[:d.index(b"\0\0")].split(b"\0")))' "$1"; }

@test "milter: RSET sends an abort; QUIT ends the milter's connection" {
  milter m1 '{}'
  conf "PARAM milter unix:$HOME_DIR/m1.sock name=m1"
  start_smtpd
  run session 127.0.0.1 'EHLO client.example' 'MAIL FROM:<s@far.example>' 'RCPT TO:<demo@localhost>' RSET QUIT
  [ "${lines[4]}" = "250 2.0.0 Ok" ]
  wait_seen m1 close
  [ "$(seen m1 'd["steps"][-6:]')" = "['connect', 'helo', 'mail', 'rcpt', 'abort', 'close']" ]
}

@test "milter: a reject at connect or HELO refuses every MAIL with the milter's reply; QUIT still works" {
  milter m1 '{"at": "connect", "do": "reply", "reply": ["550", "5.7.1", "Go away, connect"]}'
  conf "PARAM milter unix:$HOME_DIR/m1.sock name=m1"
  start_smtpd
  run session 127.0.0.1 'EHLO client.example' 'MAIL FROM:<s@far.example>' 'MAIL FROM:<t@far.example>' QUIT
  [ "${lines[2]}" = "550 5.7.1 Go away, connect" ]
  [ "${lines[3]}" = "550 5.7.1 Go away, connect" ]
  [ "${lines[4]}" = "221 2.0.0 localhost closing connection" ]
  smtp_log | grep -q 'event=milter milter=m1 step=connect action=replycode code=550 status=5.7.1 text="Go away, connect"'
  kill_tracked
  milter m2 '{"at": "helo", "do": "tempfail"}'
  conf "PARAM milter unix:$HOME_DIR/m2.sock name=m2"
  start_smtpd
  run session 127.0.0.1 'EHLO client.example' 'MAIL FROM:<s@far.example>' QUIT
  [ "${lines[1]}" = "250 HELP" ]
  [ "${lines[2]}" = "451 4.7.1 Service unavailable - try again later" ]
  [ "${lines[3]}" = "221 2.0.0 localhost closing connection" ]
}

@test "milter: a reject at MAIL refuses the sender with the milter's text; the next MAIL goes on" {
  milter m1 '{"at": "mail", "mail_match": "bad", "do": "reply", "reply": ["553", "5.7.1", "Sender not welcome"]}'
  conf "PARAM milter unix:$HOME_DIR/m1.sock name=m1"
  start_smtpd
  run send bad@far.example
  [ "${lines[2]}" = "553 5.7.1 Sender not welcome" ]
  [ "${lines[3]}" = "503 5.5.1 Need MAIL command" ]
  [ -z "$(spooled)" ]
  message "$BATS_TEST_TMPDIR/m"
  run session 127.0.0.1 'EHLO client.example' 'MAIL FROM:<bad@far.example>' 'MAIL FROM:<good@far.example>' \
    'RCPT TO:<demo@localhost>' "DATA:$BATS_TEST_TMPDIR/m" QUIT
  [ "${lines[2]}" = "553 5.7.1 Sender not welcome" ]
  [ "${lines[3]}" = "250 2.1.0 Ok" ]
  [[ "${lines[6]}" == "250 2.0.0 Ok: queued as "* ]]
  ! grep -q 'action=fail' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}

@test "milter: a reject at RCPT refuses that recipient only; the message goes to the others" {
  milter m1 '{"at": "rcpt", "rcpt_match": "sysop", "do": "reply", "reply": ["550", "5.1.1", "No sysop for you"]}'
  conf "PARAM milter unix:$HOME_DIR/m1.sock name=m1"
  start_smtpd
  run send s@far.example sysop@localhost demo@localhost
  [ "${lines[3]}" = "550 5.1.1 No sysop for you" ]
  [ "${lines[4]}" = "250 2.1.5 Ok" ]
  [[ "${lines[6]}" == "250 2.0.0 Ok: queued as "* ]]
  run envelope "$(spooled)"
  [ "$(printf '%s\n' "${lines[@]}" | grep -c '^T')" -eq 1 ]
  printf '%s\n' "${lines[@]}" | grep -qx 'Tdemo@localhost'
}

@test "milter: a reject or tempfail at the end of the message uses the milter's reply; nothing is spooled" {
  milter m1 '{"at": "eom", "do": "reply", "reply": ["554", "5.7.0", "Your message smells"]}'
  conf "PARAM milter unix:$HOME_DIR/m1.sock name=m1"
  start_smtpd
  run send
  [ "${lines[5]}" = "554 5.7.0 Your message smells" ]
  [ -z "$(spooled)" ]
  smtp_log | grep -q 'id=[^ ]* event=milter milter=m1 step=eom action=replycode code=554 status=5.7.0 text="Your message smells"'
  smtp_log | grep -q 'event=reject cmd=DATA code=554 .*reason=milter'
  kill_tracked
  milter m2 '{"at": "eom", "do": "tempfail"}'
  conf "PARAM milter unix:$HOME_DIR/m2.sock name=m2"
  start_smtpd
  run send
  [ "${lines[5]}" = "451 4.7.1 Service unavailable - try again later" ]
  [ -z "$(spooled)" ]
  [ -z "$(ls "$HOME_DIR/spool/tmp")" ]
}

@test "milter: discard answers 250 and drops the message" {
  milter m1 '{"at": "eom", "do": "discard"}'
  conf "PARAM milter unix:$HOME_DIR/m1.sock name=m1"
  start_smtpd
  run send
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  [ -z "$(spooled)" ]
  [ -z "$(ls "$HOME_DIR/spool/tmp")" ]
  smtp_log | grep -q 'event=milter milter=m1 step=eom action=discard'
  smtp_log | grep -q 'event=milter-discard ip=127.0.0.1 reason=discard: message dropped'
}

@test "milter: quarantine puts the message in spool/freezer/ with 250" {
  milter m1 '{"eom": [["quarantine", "looks odd"]]}'
  conf "PARAM milter unix:$HOME_DIR/m1.sock name=m1"
  start_smtpd
  run send
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  id="${lines[5]##* }"
  [ -z "$(spooled)" ]
  [ -f "$HOME_DIR/spool/freezer/$id" ]
  [ "$(stored "$HOME_DIR/spool/freezer/$id")" = "$(printf '[Received]\nFrom: a@far.example\nSubject: test\n\nhello there')" ]
  smtp_log | grep -q "id=$id event=milter milter=m1 step=eom action=quarantine reason=\"looks odd\""
}

@test "milter: add, insert, change and delete header fields: the exact stored message" {
  milter m1 '{"eom": [["addheader", "X-Added", "one"], ["insheader", 0, "X-First", "top"], ["chgheader", "Subject", 1, "changed"], ["chgheader", "From", 1, ""]]}'
  conf "PARAM milter unix:$HOME_DIR/m1.sock name=m1"
  start_smtpd
  run send
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  [ "$(stored)" = "$(printf 'X-First: top\n[Received]\nSubject: changed\nX-Added: one\n\nhello there')" ]
}

@test "milter: a replaced body is stored with LF line ends; a body that breaks the line rules gets default=" {
  milter m1 '{"eom": [["replacebody", "new body\r\nline two\r\n"]]}'
  conf "PARAM milter unix:$HOME_DIR/m1.sock name=m1"
  start_smtpd
  run send
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  [ "$(stored)" = "$(printf '[Received]\nFrom: a@far.example\nSubject: test\n\nnew body\nline two')" ]
  rm "$(spooled)"
  kill_tracked
  long=$(printf 'x%.0s' $(seq 1 1200))
  milter m2 "{\"eom\": [[\"replacebody\", \"$long\\r\\n\"]]}"
  conf "PARAM milter unix:$HOME_DIR/m2.sock name=m2 default=reject"
  start_smtpd
  run send
  [ "${lines[5]}" = "554 5.7.1 Command rejected" ]
  [ -z "$(spooled)" ]
  smtp_log | grep -q 'event=milter milter=m2 step=eom action=fail reason="replaced body broke the line rules: long-line" default=reject'
}

@test "milter: an added recipient is resolved like RCPT: a local user gets it, an unknown user or a relay is dropped" {
  milter m1 '{"eom": [["addrcpt", "<sysop@localhost>"], ["addrcpt", "nobody@localhost"], ["addrcpt", "x@remote.example"]]}'
  conf "PARAM milter unix:$HOME_DIR/m1.sock name=m1"
  start_smtpd
  run send
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  run envelope "$(spooled)"
  [ "$(printf '%s\n' "${lines[@]}" | grep '^T' | tr '\n' ' ')" = "Tdemo@localhost Tsysop@localhost " ]
  smtp_log | grep -q 'event=milter milter=m1 step=eom action=addrcpt address=<sysop@localhost> result=added'
  smtp_log | grep -q 'event=milter milter=m1 step=eom action=addrcpt address=<nobody@localhost> result=unknown-recipient'
  smtp_log | grep -q 'event=milter milter=m1 step=eom action=addrcpt address=<x@remote.example> result=relaying-denied'
  run_stages
  [ "$(mailbox_count 1)" -eq 1 ]
  [ "$(mailbox_count 2)" -eq 1 ]
}

@test "milter: a deleted recipient leaves the envelope; a changed sender is the stored sender" {
  milter m1 '{"eom": [["delrcpt", "<sysop@localhost>"], ["chgfrom", "<new@far.example>"]]}'
  conf "PARAM milter unix:$HOME_DIR/m1.sock name=m1"
  start_smtpd
  run send s@far.example sysop@localhost demo@localhost
  [[ "${lines[6]}" == "250 2.0.0 Ok: queued as "* ]]
  run envelope "$(spooled)"
  [ "$(printf '%s\n' "${lines[@]}" | grep '^[TF]' | tr '\n' ' ')" = "Fnew@far.example Tdemo@localhost " ]
  run_stages
  [ "$(mailbox_count 1)" -eq 0 ]
  [ "$(mailbox_count 2)" -eq 1 ]
  grep -qx 'Return-Path: <new@far.example>' "$(mailbox_files 2)"
}

@test "milter: macros: {auth_authen} and {daemon_name} on submission, {client_addr}, i is the queue id" {
  milter m1 '{}'
  conf "PARAM milter unix:$HOME_DIR/m1.sock name=m1" "PARAM AUTH-LOGIN-also-without-TLS"
  start_smtpd -m
  message "$BATS_TEST_TMPDIR/m"
  run session 127.0.0.1 'EHLO client.example' 'AUTH PLAIN AGRlbW8AZGVtbw==' 'MAIL FROM:<demo@localhost>' \
    'RCPT TO:<sysop@localhost>' "DATA:$BATS_TEST_TMPDIR/m" QUIT
  [[ "${lines[6]}" == "250 2.0.0 Ok: queued as "* ]]
  id="${lines[6]##* }"
  wait_seen m1 close
  [ "$(seen m1 'd["macros"]["mail"]["{auth_authen}"]')" = demo ]
  [ "$(seen m1 'd["macros"]["mail"]["{auth_type}"]')" = PLAIN ]
  [ "$(seen m1 'd["macros"]["connect"]["{daemon_name}"]')" = submission ]
  [ "$(seen m1 'd["macros"]["connect"]["{client_addr}"]')" = 127.0.0.1 ]
  [ "$(seen m1 'd["macros"]["connect"]["j"]')" = localhost ]
  [ "$(seen m1 'd["macros"]["eom"]["i"]')" = "$id" ]
  [ "$(seen m1 'd["macros"]["rcpt"]["{rcpt_mailer}"]')" = local ]
  [ "$(seen m1 'd["macros"]["mail"]["{mail_addr}"]')" = demo@localhost ]
}

@test "milter: two milters in order; the second sees the first one's header" {
  milter m1 '{"eom": [["addheader", "X-One", "first"]]}'
  milter m2 '{"eom": [["addheader", "X-Two", "second"]]}'
  conf "PARAM milter unix:$HOME_DIR/m1.sock name=m1" "PARAM milter unix:$HOME_DIR/m2.sock name=m2"
  start_smtpd
  run send
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  wait_seen m2 close
  [ "$(seen m2 'd["headers"][-1]')" = "['X-One', 'first']" ]
  [ "$(stored)" = "$(printf '[Received]\nFrom: a@far.example\nSubject: test\nX-One: first\nX-Two: second\n\nhello there')" ]
}

@test "milter: a milter that is down: default tempfail (451 4.7.1), reject (554 5.7.1), accept (skipped)" {
  conf "PARAM milter unix:$HOME_DIR/none.sock name=gone"
  start_smtpd
  run send
  [ "${lines[2]}" = "451 4.7.1 Service unavailable - try again later" ]
  smtp_log | grep -q 'event=milter milter=gone step=optneg action=fail reason=.* default=tempfail'
  conf "PARAM milter unix:$HOME_DIR/none.sock name=gone default=reject"
  run send
  [ "${lines[2]}" = "554 5.7.1 Command rejected" ]
  conf "PARAM milter unix:$HOME_DIR/none.sock name=gone default=accept"
  run send
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  [ "$(spooled | wc -l)" -eq 1 ]
  conf "PARAM milter inet:8891@mail.example.org name=named"
  run send
  [ "${lines[2]}" = "451 4.7.1 Service unavailable - try again later" ]
  smtp_log | grep -q 'event=milter milter=named step=optneg action=fail reason=.*no names'
}

@test "milter: a hanging milter meets its timeout and its default; the session is not stuck" {
  milter m1 '{"at": "eom", "do": "hang", "sleep": 60}'
  conf "PARAM milter unix:$HOME_DIR/m1.sock name=m1 content-timeout=2"
  start_smtpd
  start=$SECONDS
  run send
  [ "${lines[5]}" = "451 4.7.1 Service unavailable - try again later" ]
  [ "${lines[6]}" = "221 2.0.0 localhost closing connection" ]
  [ $((SECONDS - start)) -lt 30 ]
  smtp_log | grep -q 'event=milter milter=m1 step=eom action=fail reason=.*timed out" default=tempfail'
  kill_tracked
  milter m2 '{"at": "mail", "do": "hang", "sleep": 60}'
  conf "PARAM milter unix:$HOME_DIR/m2.sock name=m2 command-timeout=2 default=accept"
  start_smtpd
  run send
  [ "${lines[2]}" = "250 2.1.0 Ok" ]
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
}

@test "milter: a milter that answers garbage gets its default" {
  milter m1 '{"raw": "garbage"}'
  conf "PARAM milter unix:$HOME_DIR/m1.sock name=m1 default=reject"
  start_smtpd
  run send
  [ "${lines[2]}" = "554 5.7.1 Command rejected" ]
  smtp_log | grep -q "event=milter milter=m1 step=optneg action=fail reason=\"bad reply 'Z': unknown reply command\" default=reject"
}

@test "milter: without PARAM milter a session opens no socket at all" {
  printf 'EHLO x\r\nMAIL FROM:<s@far.example>\r\nRCPT TO:<demo@localhost>\r\nQUIT\r\n' > "$BATS_TEST_TMPDIR/in"
  run timeout 60 strace -f -e trace=socket,connect -o "$BATS_TEST_TMPDIR/trace" "$LIBEXEC/smtpd" < "$BATS_TEST_TMPDIR/in"
  [[ "$output" == *"221 2.0.0"* ]]
  ! grep -q 'socket(' "$BATS_TEST_TMPDIR/trace"
  conf "PARAM milter unix:$HOME_DIR/none.sock name=gone default=accept"
  run timeout 60 strace -f -e trace=socket,connect -o "$BATS_TEST_TMPDIR/trace" "$LIBEXEC/smtpd" < "$BATS_TEST_TMPDIR/in"
  grep -q 'socket(AF_UNIX' "$BATS_TEST_TMPDIR/trace"
}

@test "milter: a milter's X-Spam-Flag: YES is bbsmail's one spam tag; a client's is still dropped" {
  milter m1 '{"eom": [["addheader", "X-Spam-Flag", "YES"], ["addheader", "X-Other", "kept"]]}'
  conf "PARAM milter unix:$HOME_DIR/m1.sock name=m1"
  start_smtpd
  printf 'From: a@far.example\nX-Spam-Flag: NO\nSubject: s\n\nbody\n' > "$BATS_TEST_TMPDIR/m"
  run session 127.0.0.1 'EHLO client.example' 'MAIL FROM:<s@far.example>' 'RCPT TO:<demo@localhost>' \
    "DATA:$BATS_TEST_TMPDIR/m" QUIT
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  wait_seen m1 close
  [ "$(seen m1 '[h[0] for h in d["headers"]]')" = "['Received', 'From', 'Subject']" ]
  [ "$(stored)" = "$(printf '[Received]\nFrom: a@far.example\nSubject: s\nX-Other: kept\nX-Spam-Flag: YES\n\nbody')" ]
}

@test "milter: a reject at DATA refuses the message; BDAT goes through the milters too" {
  milter m1 '{"at": "data", "do": "reply", "reply": ["550", "5.7.2", "No data today"]}'
  conf "PARAM milter unix:$HOME_DIR/m1.sock name=m1"
  start_smtpd
  run send
  [ "${lines[5]}" = "550 5.7.2 No data today" ]
  [ -z "$(spooled)" ]
  kill_tracked
  milter m2 '{"eom": [["addheader", "X-Chunked", "yes"]]}'
  conf "PARAM milter unix:$HOME_DIR/m2.sock name=m2"
  start_smtpd
  run python3 - "$SMTP_PORT" <<'PY'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("client.example")
s.mail("s@far.example"); s.rcpt("demo@localhost")
msg = b"Subject: chunk\r\n\r\nbody\r\n"
s.putcmd("BDAT %d LAST" % len(msg)); s.send(msg)
print(s.getreply()[0]); s.quit()
PY
  [ "$output" = 250 ]
  [ "$(stored)" = "$(printf '[Received]\nSubject: chunk\nX-Chunked: yes\n\nbody')" ]
}

@test "milter: inet addresses in the Sendmail and the Postfix form; inet6 on ::1" {
  port=$(free_port)
  printf '{"eom": [["addheader", "X-Inet", "yes"]]}\n' > "$HOME_DIR/i.json"
  /usr/bin/python3 "$MILTER_SCRIPT" "$HOME_DIR/i.json" "inet:$port@127.0.0.1" "$HOME_DIR/i.seen" 2>>"$BATS_TEST_TMPDIR/i.log" &
  track_pid $!
  wait_port "$port"
  for address in "inet:$port@127.0.0.1" "inet:127.0.0.1:$port"; do
    conf "PARAM milter $address name=i"
    start_smtpd
    run send
    [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
    grep -qx 'X-Inet: yes' "$(spooled)"
    rm "$(spooled)"
  done
  if python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
    port6=$(free_port)
    /usr/bin/python3 "$MILTER_SCRIPT" "$HOME_DIR/i.json" "inet6:$port6@::1" "$HOME_DIR/i6.seen" 2>>"$BATS_TEST_TMPDIR/i.log" &
    track_pid $!
    for i in $(seq 1 100); do nc -z ::1 "$port6" 2>/dev/null && break; sleep 0.05; done
    for address in "inet6:$port6@::1" "inet6:[::1]:$port6"; do
      conf "PARAM milter $address name=i6"
      run send
      [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
      grep -qx 'X-Inet: yes' "$(spooled)"
      rm "$(spooled)"
    done
  fi
}

@test "milter: the body goes in chunks of at most 65535 bytes with CRLF; a skip reply stops it" {
  milter m1 '{}'
  conf "PARAM milter unix:$HOME_DIR/m1.sock name=m1"
  start_smtpd
  python3 -c 'print("Subject: big\n"); [print("%05d" % i + "x" * 70) for i in range(2000)]' > "$BATS_TEST_TMPDIR/big"
  run session 127.0.0.1 'EHLO client.example' 'MAIL FROM:<s@far.example>' 'RCPT TO:<demo@localhost>' \
    "DATA:$BATS_TEST_TMPDIR/big" QUIT
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  wait_seen m1 close
  [ "$(seen m1 'len(d["body"])')" -eq $((2000 * 77)) ]
  [ "$(seen m1 'd["body"].count("\r\n")')" -eq 2000 ]
  kill_tracked
  rm "$(spooled)"
  milter m2 '{"at": "body", "do": "skip"}'
  conf "PARAM milter unix:$HOME_DIR/m2.sock name=m2"
  start_smtpd
  run session 127.0.0.1 'EHLO client.example' 'MAIL FROM:<s@far.example>' 'RCPT TO:<demo@localhost>' \
    "DATA:$BATS_TEST_TMPDIR/big" QUIT
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  wait_seen m2 close
  [ "$(seen m2 'len(d["body"])')" -le 65535 ]
  [ "$(seen m2 'd["steps"].count("body")')" -eq 1 ]
  [ "$(seen m2 'd["steps"][-2:]')" = "['eom', 'close']" ]
}

@test "milter: after STARTTLS the HELO step is sent again with {tls_version} and {cipher}" {
  milter m1 '{}'
  conf "PARAM milter unix:$HOME_DIR/m1.sock name=m1"
  tls_home
  start_smtpd
  run swaks_to "$SMTP_PORT" --tls --to demo@localhost --data $'Subject: tls\n\nover TLS'
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  wait_seen m1 close
  [ "$(seen m1 'd["steps"][-8:-6]')" = "['helo', 'helo']" ]
  [ "$(seen m1 'd["macros"]["helo"]["{tls_version}"]')" = TLSv1.3 ]
  [ "$(seen m1 'd["macros"]["mail"]["{cipher}"]')" = TLS_AES_256_GCM_SHA384 ]
}
