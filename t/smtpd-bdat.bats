#!/usr/bin/env bats
# smtpd: CHUNKING / BDAT (RFC 3030).
load helper
load lib/smtp

setup() { smtp_setup; }

TXN=$'L MAIL FROM:<a@example.org>\nR 250\nL RCPT TO:<demo@localhost>\nR 250'

@test "BDAT chunks then LAST: 250 per chunk, one message, CRLF split across chunks" {
  run chat <<EOF2
$HELLO
$TXN
S BDAT 11\r\nSubject: b\r
R 250 2.0.0 11 octets received
S BDAT 9\r\n\n\r\nline1\r
R 250 2.0.0 9 octets received
S BDAT 8 LAST\r\n\nline2\r\n
R 250 2.0.0 Ok: queued as
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(incoming_count)" -eq 1 ]
  [ "$(message_of "$(incoming_files)")" = $'Subject: b\n\nline1\nline2' ]
  grep -q 'event=accept from=<a@example.org> rcpt=1 size=28 ' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}

@test "BDAT 0 LAST ends a message; dots are data, no unstuffing" {
  run chat <<EOF2
$HELLO
$TXN
S BDAT 8\r\n..x\r\n.\r\n
R 250
S BDAT 0 LAST\r\n
R 250 2.0.0 Ok: queued
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(message_of "$(incoming_files)")" = $'..x\n.' ]
}

@test "BDAT pipelined in one write with MAIL and RCPT" {
  run chat <<'EOF2'
R 220
S EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<demo@localhost>\r\nBDAT 3\r\nab\nBDAT 4 LAST\r\ncd\r\nQUIT\r\n
R 250 HELP
R 250 2.1.0
R 250 2.1.5
R 550 5.5.2
R 503 5.5.1
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(incoming_count)" -eq 0 ]
}

@test "BDAT without MAIL: 503, the octets are still read" {
  run chat <<EOF2
$HELLO
S BDAT 10\r\nNOOP\r\nQUIT
R 503 5.5.1 Need MAIL
L NOOP
R 250 2.0.0
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "BDAT before EHLO: 503, octets read" {
  run chat <<'EOF2'
R 220
S BDAT 6\r\nQUIT\r\n
R 503 5.5.1 Send HELO/EHLO first
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "no valid recipients: BDAT 554 5.5.1" {
  run chat <<EOF2
$HELLO
L MAIL FROM:<a@example.org>
R 250
L RCPT TO:<nobody@localhost>
R 550
S BDAT 5 LAST\r\nhello
R 554 5.5.1
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "DATA after BDAT is 503; BDAT after a refused chunk is 503 until RSET or MAIL" {
  run chat <<EOF2
$HELLO
$TXN
S BDAT 3\r\nabc
R 250
L DATA
R 503 5.5.1 DATA not allowed after BDAT
L RSET
R 250
$TXN
S BDAT 3\r\na\nc
R 550 5.5.2
S BDAT 3\r\nabc
R 503 5.5.1 Transaction failed
S BDAT 3 LAST\r\nabc
R 503 5.5.1 Transaction failed
L RSET
R 250
$TXN
S BDAT 3 LAST\r\nxyz
R 250 2.0.0 Ok: queued
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(incoming_count)" -eq 1 ]
  [ "$(message_of "$(incoming_files)")" = "xyz" ]
}

@test "BDAT running total over the size limit: 552 5.3.4, then 503, nothing spooled" {
  set_mail_key MaxMsgSize 10
  run chat <<EOF2
$HELLO
$TXN
S BDAT 6\r\n12345\n
R 550 5.5.2
L RSET
R 250
$TXN
S BDAT 6\r\n1234\r\n
R 250
S BDAT 6\r\n1234\r\n
R 552 5.3.4
S BDAT 2 LAST\r\n\r\n
R 503 5.5.1
L MAIL FROM:<a@example.org>
R 250
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(incoming_count)" -eq 0 ]
  [ "$(tmp_count)" -eq 0 ]
}

@test "BDAT: NUL is 554 5.6.0; a final line without CRLF is kept as it is" {
  run chat <<EOF2
$HELLO
$TXN
S BDAT 5 LAST\r\na\0b\r\n
R 554 5.6.0
L RSET
R 250
$TXN
S BDAT 10 LAST\r\nline\r\nlast
R 250 2.0.0
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  f=$(incoming_files)
  python3 - "$f" <<'EOF2'
import sys
d = open(sys.argv[1], 'rb').read()
msg = d[d.index(b'\0\0') + 2:]
assert msg.endswith(b'\nline\nlast'), msg
EOF2
}

@test "BDAT with a bad size: 501 5.5.4; a size followed by junk still has its octets read" {
  run chat <<EOF2
$HELLO
L BDAT x
R 501 5.5.4
L BDAT 5 FIRST
S hello
R 501 5.5.4
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}
