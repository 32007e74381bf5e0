#!/usr/bin/env bats
# smtpd: senders and recipients at MAIL/RCPT time (the shared resolver
# decides; smtpd maps its answer to the reply).
load helper
load lib/smtp

setup() { smtp_setup; }

# rcpt_reply ADDRESS: prints the reply line to RCPT TO:<ADDRESS>.
rcpt_reply() {
  chat <<EOF2 | sed -n '$p'
$HELLO
L MAIL FROM:<a@example.org>
R 250
L RCPT TO:<$1>
N 1
EOF2
}

@test "local users by name, case-insensitively, and sysop aliases" {
  [ "$(rcpt_reply demo@localhost)" = "< 250 2.1.5 Ok" ]
  [ "$(rcpt_reply DeMo@LocalHost)" = "< 250 2.1.5 Ok" ]
  [ "$(rcpt_reply postmaster@localhost)" = "< 250 2.1.5 Ok" ]
  [ "$(rcpt_reply root@localhost)" = "< 250 2.1.5 Ok" ]
}

@test "<postmaster> without a domain is always accepted; other names need a domain (553 5.1.3)" {
  [ "$(rcpt_reply postmaster)" = "< 250 2.1.5 Ok" ]
  [ "$(rcpt_reply PostMaster)" = "< 250 2.1.5 Ok" ]
  [ "$(rcpt_reply demo)" = "< 553 5.1.3 Recipient address needs a domain" ]
}

@test "unknown local user: 550 5.1.1" {
  [[ "$(rcpt_reply nobody@localhost)" == "< 550 5.1.1 "* ]]
}

@test "no relaying: a remote recipient and every relay trick get 550 5.7.1" {
  local a
  for a in someone@example.org 'demo%example.org@localhost' '"demo@example.org"@localhost' \
           '@localhost:demo@example.org' 'example.org!demo@localhost' 'demo@[192.0.2.1]'; do
    r=$(rcpt_reply "$a")
    [[ "$r" == "< 550 5.7.1 "* ]] || { echo "$a -> $r"; false; }
  done
  grep -q 'event=reject cmd=RCPT code=550 status=5.7.1 ip=127.0.0.1' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}

@test "malformed recipients: 501 5.1.3; null recipient 501; missing TO: 501 5.5.4" {
  [[ "$(rcpt_reply 'demo@example.org@localhost')" == "< 501 5.1.3 "* ]]
  [[ "$(rcpt_reply '')" == "< 501 5.1.3 "* ]]
  [[ "$(rcpt_reply 'de mo@localhost')" == "< 501 5.1.3 "* ]]
  run chat <<EOF2
$HELLO
L MAIL FROM:<a@example.org>
R 250
L RCPT <demo@localhost>
R 501 5.5.4
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "senders: <> allowed, syntax 501 5.1.7, no domain 553 5.1.7, bad domain 501 5.1.7" {
  run chat <<EOF2
$HELLO
L MAIL FROM:<>
R 250 2.1.0
L RSET
R 250
L MAIL FROM:<a b@example.org>
R 501 5.1.7
L MAIL FROM:<user>
R 553 5.1.7
L MAIL FROM:<user@bad..example>
R 501 5.1.7 malformed domain
L MAIL TO:<a@example.org>
R 501 5.5.4
L MAIL FROM: <spaced@example.org>
R 250 2.1.0
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "user database unavailable: 451 4.3.0 at RCPT" {
  mv "$HOME_DIR/spool/data/users.gdbm" "$HOME_DIR/spool/data/users.gone"
  run rcpt_reply demo@localhost
  mv "$HOME_DIR/spool/data/users.gone" "$HOME_DIR/spool/data/users.gdbm"
  [[ "$output" == "< 451 4.3.0 "* ]]
}

@test "SMTPUTF8: UTF-8 addresses only after MAIL ... SMTPUTF8 (553 5.6.7 otherwise)" {
  run chat <<EOF2
$HELLO
L MAIL FROM:<jörg@example.org>
R 553 5.6.7
L MAIL FROM:<a@example.org>
R 250
L RCPT TO:<dëmo@localhost>
R 553 5.6.7
L RSET
R 250
L MAIL FROM:<jörg@exämple.org> SMTPUTF8
R 250 2.1.0
L RCPT TO:<demo@localhost>
R 250
L DATA
R 354
L Subject: utf8
L .
R 250
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run envelope_of "$(incoming_files)"
  [[ "$output" == *"F jörg@exämple.org"* ]]
  [[ "$output" == *"P UTF8SMTP"* ]]
  [[ "$output" == *"Y 1"* ]]
}
