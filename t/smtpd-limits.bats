#!/usr/bin/env bats
# smtpd: recipient limits, MaxMsgsWaiting, null-sender recipients.
load helper
load lib/smtp

@test "10,000 RCPTs: the first MaxRecipients taken, the rest 452 4.5.3, one message with exactly that many" {
  smtp_setup "MaxRecipients = 100"
  run chat <<'EOF2'
R 220
L EHLO c
R 250
L MAIL FROM:<a@example.org>
R 250
REP 10000 RCPT TO:<demo@localhost>\r\n
N 10000
L DATA
R 354
L Subject: many
L .
R 250 2.0.0
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output" | tail; false; }
  [ "$(grep -c '^< 250 2.1.5 Ok' <<<"$output")" -eq 100 ]
  [ "$(grep -c '^< 452 4.5.3 Too many recipients' <<<"$output")" -eq 9900 ]
  [ "$(incoming_count)" -eq 1 ]
  [ "$(envelope_of "$(incoming_files)" | grep -c '^T demo@localhost$')" -eq 100 ]
  # one log line for the limit, not 9,900
  [ "$(grep -c 'code=452 status=4.5.3' "$BATS_TEST_TMPDIR/SMTP_PORT.log")" -eq 1 ]
}

@test "PARAM RcptLimitCount smaller than MaxRecipients wins" {
  smtp_setup "MaxRecipients = 100"
  conf_param 'RcptLimitCount 2'
  run chat <<EOF2
$HELLO
L MAIL FROM:<a@example.org>
R 250
L RCPT TO:<demo@localhost>
R 250
L RCPT TO:<sysop@localhost>
R 250
L RCPT TO:<postmaster@localhost>
R 452 4.5.3
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "MAIL FROM:<> takes max-error-recipients (3) recipients, then 550 5.5.3" {
  smtp_setup
  run chat <<EOF2
$HELLO
L MAIL FROM:<>
R 250
REP 3 RCPT TO:<demo@localhost>\r\n
N 3
L RCPT TO:<demo@localhost>
R 550 5.5.3
L RSET
R 250
L MAIL FROM:<a@example.org>
R 250
REP 4 RCPT TO:<demo@localhost>\r\n
N 4
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(grep -c '^< 250 2.1.5' <<<"$output")" -eq 7 ]
}

@test "PARAM max-error-recipients 1" {
  smtp_setup
  conf_param 'max-error-recipients 1'
  run chat <<EOF2
$HELLO
L MAIL FROM:<>
R 250
L RCPT TO:<demo@localhost>
R 250
L RCPT TO:<sysop@localhost>
R 550 5.5.3
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "MaxMsgsWaiting: a full mailbox is 452 4.2.2 at RCPT; a mail-exempt user is not limited" {
  smtp_setup "MaxMsgsWaiting = 2"
  for u in 1 2; do
    mkdir -p "$HOME_DIR/spool/mailbox/$u/new" "$HOME_DIR/spool/mailbox/$u/cur" "$HOME_DIR/spool/mailbox/$u/tmp"
    echo m > "$HOME_DIR/spool/mailbox/$u/new/1.a.h"
  done
  run chat <<EOF2
$HELLO
L MAIL FROM:<a@example.org>
R 250
L RCPT TO:<demo@localhost>
R 250 2.1.5
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  echo m > "$HOME_DIR/spool/mailbox/2/cur/2.a.h:2,S"
  echo m > "$HOME_DIR/spool/mailbox/1/cur/2.a.h:2,S"
  bbsmail-user set sysop --flags mail-exempt
  run chat <<EOF2
$HELLO
L MAIL FROM:<a@example.org>
R 250
L RCPT TO:<demo@localhost>
R 452 4.2.2 Mailbox full
L RCPT TO:<sysop@localhost>
R 250 2.1.5
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  grep -q 'event=mailbox-full user=2 rcpt=<demo@localhost> messages=2' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}
