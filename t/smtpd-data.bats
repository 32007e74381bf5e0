#!/usr/bin/env bats
# smtpd: DATA, the spool file it writes, and the message rules.
load helper
load lib/smtp

teardown() {
  kill_tracked
  if [ -n "${SPOOL_MOUNT:-}" ]; then umount -l "$SPOOL_MOUNT"; fi
}

setup() { smtp_setup; }

# send_message RCPT... : one message with the body in $BATS_TEST_TMPDIR/body.crlf
body_script() {
  python3 - "$BATS_TEST_TMPDIR/body.crlf" <<'EOF2'
import sys
data = open(sys.argv[1], 'rb').read()
# dot-stuff for the wire
out = b''.join((b'.' + l if l.startswith(b'.') else l) for l in data.splitlines(True))
sys.stdout.write('S ' + ''.join('\\x%02x' % b for b in out) + '\n')
EOF2
}

@test "accepted message: 250 with the id; envelope and message byte for byte" {
  line998=$(head -c 998 /dev/zero | tr '\0' 'x')
  printf 'From: a@example.org\r\nTo: demo@localhost\r\nSubject: exact\r\n\r\n.leading dot\r\n..two dots\r\n.\tdot tab\r\n%s\r\n\xc3\xa9t\xc3\xa9 8bit\r\n\r\nlast line\r\n' "$line998" > "$BATS_TEST_TMPDIR/body.crlf"
  {
    echo "$HELLO"
    echo 'L MAIL FROM:<a@example.org> BODY=8BITMIME'
    echo 'R 250 2.1.0'
    echo 'L RCPT TO:<demo@localhost>'
    echo 'R 250 2.1.5'
    echo 'L DATA'
    echo 'R 354'
    body_script
    echo 'L .'
    echo 'R 250 2.0.0 Ok: queued as'
    echo 'L QUIT'
    echo 'R 221'
  } > "$BATS_TEST_TMPDIR/script"
  run chat < "$BATS_TEST_TMPDIR/script"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  id=$(sed -n 's/^< 250 2.0.0 Ok: queued as //p' <<<"$output")
  [ "$(incoming_files)" = "$HOME_DIR/spool/incoming/$id" ]
  f="$HOME_DIR/spool/incoming/$id"
  tr -d '\r' < "$BATS_TEST_TMPDIR/body.crlf" > "$BATS_TEST_TMPDIR/body.lf"
  message_of "$f" > "$BATS_TEST_TMPDIR/got"
  cmp "$BATS_TEST_TMPDIR/body.lf" "$BATS_TEST_TMPDIR/got"
  run envelope_of "$f"
  [ "${lines[0]}" = "V 1" ]
  [ "${lines[1]}" = "I $id" ]
  [[ "${lines[2]}" =~ ^D\ [0-9]{10}$ ]]
  [ "${lines[3]}" = "F a@example.org" ]
  [ "${lines[4]}" = "H client.example" ]
  [ "${lines[5]}" = "A 127.0.0.1" ]
  [ "${lines[6]}" = "P ESMTP" ]
  [ "${lines[7]}" = "B 8BITMIME" ]
  [ "${lines[8]}" = "T demo@localhost" ]
  [ "${#lines[@]}" -eq 9 ]
  [ "$(tmp_count)" -eq 0 ]
  grep -q "smtpd: info: session=[0-9]* id=$id event=accept from=<a@example.org> rcpt=1 size=" "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}

@test "Received header: from/by/with/id/for/date, 'for' only with one recipient" {
  run chat <<EOF2
$HELLO
$TO_DEMO_DATA
L Subject: one
L .
R 250
L MAIL FROM:<>
R 250
L RCPT TO:<demo@localhost>
R 250
L RCPT TO:<sysop@localhost>
R 250
L DATA
R 354
L Subject: two
L .
R 250
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  set -- $(incoming_files)
  [ $# -eq 2 ]
  id1=$(basename "$1")
  head1=$(python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); print(d[d.index(b"\0\0")+2:].decode().split("Subject")[0], end="")' "$1")
  [[ "$head1" =~ ^"Received: from client.example (unknown [127.0.0.1])"$'\n\t'"by localhost (bbsmail) with ESMTP id $id1"$'\n\t'"for <demo@localhost>;"$'\n\t'[A-Z][a-z]{2},\ [0-9]{2}\ [A-Z][a-z]{2}\ [0-9]{4}\ [0-9:]{8}\ [-+][0-9]{4}$ ]]
  head2=$(python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); print(d[d.index(b"\0\0")+2:].decode().split("Subject")[0], end="")' "$2")
  [[ "$head2" != *"for <"* ]]
  run envelope_of "$2"
  [ "${lines[3]}" = "F " ]
  [[ "$output" == *$'T demo@localhost\nT sysop@localhost'* ]]
}

@test "HELO session: protocol SMTP, no enhanced codes needed by the client" {
  run chat <<'EOF2'
R 220
L HELO old.example
R 250
L MAIL FROM:<a@example.org>
R 250
L RCPT TO:<demo@localhost>
R 250
L DATA
R 354
L hi
L .
R 250
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run envelope_of "$(incoming_files)"
  [[ "$output" == *"P SMTP"* ]]
  grep -q 'with SMTP id' "$(incoming_files)"
}

@test "empty message and a message of one dot line" {
  run chat <<EOF2
$HELLO
$TO_DEMO_DATA
L .
R 250
$TO_DEMO_DATA
L ..
L .
R 250
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  set -- $(incoming_files)
  [ "$(message_of "$1" | wc -c)" -eq 0 ]
  [ "$(message_of "$2")" = "." ]
}

@test "a DATA line of 999 octets: 554 5.6.0 after the end, nothing spooled" {
  l999=$(head -c 999 /dev/zero | tr '\0' 'y')
  run chat <<EOF2
$HELLO
$TO_DEMO_DATA
L short
L $l999
L after
L .
R 554 5.6.0 Line too long
L NOOP
R 250
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output" | cut -c1-100; false; }
  [ "$(incoming_count)" -eq 0 ]
  [ "$(tmp_count)" -eq 0 ]
  grep -q 'event=reject cmd=DATA code=554 status=5.6.0 ip=127.0.0.1 reason=long-line' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}

@test "NUL in DATA: 554 5.6.0, nothing spooled" {
  run chat <<EOF2
$HELLO
$TO_DEMO_DATA
S a\0b\r\n.\r\n
R 554 5.6.0 NUL
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(incoming_count)" -eq 0 ]
}

@test "SIZE: advertised MaxMsgSize; SIZE= too big is 552 5.3.4 at MAIL" {
  set_mail_key MaxMsgSize 1000
  run chat <<'EOF2'
R 220
L EHLO c
R 250
L MAIL FROM:<a@example.org> SIZE=1001
R 552 5.3.4
L MAIL FROM:<a@example.org> SIZE=99999999999999999999999999
R 552 5.3.4
L MAIL FROM:<a@example.org> SIZE=12x
R 501 5.5.4
L MAIL FROM:<a@example.org> SIZE=1000
R 250 2.1.0
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"< 250-SIZE 1000"* ]]
}

@test "actual size over MaxMsgSize: 552 5.3.4 after the end of DATA, nothing spooled; PARAM maxsize smaller wins" {
  set_mail_key MaxMsgSize 100K
  conf_param 'maxsize 2000'
  run chat <<EOF2
$HELLO
$TO_DEMO_DATA
REP 60 line {i} of a message that is too long for the limit set here\r\n
L .
R 552 5.3.4
$TO_DEMO_DATA
REP 10 line {i} of a message that fits\r\n
L .
R 250
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"< 250-SIZE 2000"* ]]
  [ "$(incoming_count)" -eq 1 ]
  [ "$(tmp_count)" -eq 0 ]
}

@test "client disconnecting mid-DATA leaves nothing in incoming/ or tmp/" {
  run chat <<EOF2
$HELLO
$TO_DEMO_DATA
L Subject: cut
L half a message
EOF2
  sleep 0.3
  [ "$(incoming_count)" -eq 0 ]
  [ "$(tmp_count)" -eq 0 ]
  grep -q 'event=abort cmd=DATA ip=127.0.0.1 reason=connection-lost' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}

@test "SIGKILL of smtpd mid-DATA leaves nothing in incoming/" {
  printf '%s\n' "$HELLO" 'L MAIL FROM:<a@example.org>' 'R 250' 'L RCPT TO:<demo@localhost>' 'R 250' \
    'L DATA' 'R 354' 'L Subject: killed' 'L part one' 'W 3' > "$BATS_TEST_TMPDIR/script"
  python3 "$SMTP_CHAT" chat "$SMTP_PORT" < "$BATS_TEST_TMPDIR/script" > "$BATS_TEST_TMPDIR/out" &
  track_pid $!
  for i in $(seq 50); do grep -q '354' "$BATS_TEST_TMPDIR/out" && break; sleep 0.1; done
  sleep 0.3
  pid=$(pgrep -P "$(head -1 "$BATS_TEST_TMPDIR/pids")" -x smtpd)
  [ -n "$pid" ]
  kill -KILL "$pid"
  sleep 0.2
  [ "$(incoming_count)" -eq 0 ]
  # A SIGKILL can leave the tmp file (runq removes tmp files older than 36 h).
  [ "$(tmp_count)" -le 1 ]
}

@test "min-availspace above the free space: 452 4.3.1 at MAIL" {
  conf_param 'min-availspace 999999999999'
  run chat <<EOF2
$HELLO
L MAIL FROM:<a@example.org>
R 452 4.3.1
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "spool unwritable: 451 4.3.0 at DATA, session goes on" {
  chmod 000 "$HOME_DIR/spool/tmp"
  mv "$HOME_DIR/spool/tmp" "$HOME_DIR/spool/tmp.gone"
  run chat <<EOF2
$HELLO
L MAIL FROM:<a@example.org>
R 250
L RCPT TO:<demo@localhost>
R 250
L DATA
R 451 4.3.0
L NOOP
R 250
L QUIT
R 221
EOF2
  mv "$HOME_DIR/spool/tmp.gone" "$HOME_DIR/spool/tmp"
  chmod 700 "$HOME_DIR/spool/tmp"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(incoming_count)" -eq 0 ]
}

@test "min-availspace crossed during DATA: 452 4.3.1 at the end, nothing kept" {
  # MAIL passes with 6 MiB to spare; a 12 MiB message then eats the margin.
  python3 - "$BATS_TEST_TMPDIR/script" "$HELLO" <<'EOF2'
import sys
line = 'x' * 78 + '\\r\\n'
with open(sys.argv[1], 'w') as f:
    f.write(sys.argv[2] + '\nL MAIL FROM:<a@example.org>\nR 250\nL RCPT TO:<demo@localhost>\nR 250\nL DATA\nR 354\n')
    for i in range(1536):
        f.write('S ' + line * 100 + '\n')
    f.write('L .\nR 452 4.3.1\nL QUIT\nR 221\n')
EOF2
  # The spool on a file system of its own: on the machine's disk, other
  # processes' writes and deletions would move the margin.
  mkdir -p "$BATS_TEST_TMPDIR/spool-copy"
  cp -a "$HOME_DIR/spool/." "$BATS_TEST_TMPDIR/spool-copy/"
  mount -t tmpfs -o size=64m,mode=0700 bbsmail-test "$HOME_DIR/spool" || skip "cannot mount a tmpfs"
  SPOOL_MOUNT="$HOME_DIR/spool"
  cp -a "$BATS_TEST_TMPDIR/spool-copy/." "$HOME_DIR/spool/"
  free=$(df -Pk "$HOME_DIR/spool" | awk 'NR==2 {print $4}')
  conf_param "min-availspace $((free - 6144))"
  run chat < "$BATS_TEST_TMPDIR/script"
  [ "$status" -eq 0 ] || { echo "$output" | tail -3; false; }
  [ "$(incoming_count)" -eq 0 ]
  [ "$(tmp_count)" -eq 0 ]
  grep -q 'code=452 status=4.3.1 ip=127.0.0.1 reason=min-availspace' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}

@test "tcpserver variables: TCPREMOTEHOST goes into Received and the N tag; a bad one is ignored" {
  printf 'EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<demo@localhost>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n' > "$BATS_TEST_TMPDIR/in"
  run env TCPREMOTEIP=192.0.2.7 TCPREMOTEHOST=mx.example.org TCPLOCALIP=192.0.2.1 TCPLOCALPORT=25 \
      "$LIBEXEC/smtpd" < "$BATS_TEST_TMPDIR/in"
  [ "$status" -eq 0 ]
  [[ "$output" == *"event=connect ip=192.0.2.7 host=mx.example.org local=192.0.2.1:25"* ]]
  f=$(incoming_files)
  grep -q 'Received: from c (mx.example.org \[192.0.2.7\])' "$f"
  envelope_of "$f" | grep -qx 'N mx.example.org'
  envelope_of "$f" | grep -qx 'A 192.0.2.7'
  rm "$f"
  run env TCPREMOTEIP=192.0.2.7 TCPREMOTEHOST='evil) [1.2.3.4]' "$LIBEXEC/smtpd" < "$BATS_TEST_TMPDIR/in"
  [ "$status" -eq 0 ]
  f=$(incoming_files)
  grep -q 'Received: from c (unknown \[192.0.2.7\])' "$f"
  ! envelope_of "$f" | grep -q '^N '
}

@test "the Received date is RFC 5322 UTC and agrees with the arrival time (hand-made, no tzset)" {
  swaks --server "127.0.0.1:$SMTP_PORT" --to demo@localhost --body x >/dev/null 2>&1
  f="$(find "$HOME_DIR/spool/incoming" -type f | head -1)"
  run python3 - "$f" <<'EOF2'
import re, sys, time
data = open(sys.argv[1], 'rb').read()
arrival = int(re.search(rb'\0D(\d+)\0', b'\0' + data).group(1))
date = re.search(rb'Received:.*?;\s*([^\n]+)\n', data, re.S).group(1).decode()
ok = [time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime(arrival - d)) for d in (0, 1, 2)]
print('match' if date in ok else 'mismatch %r not in %r' % (date, ok))
EOF2
  [ "$output" = "match" ]
}
