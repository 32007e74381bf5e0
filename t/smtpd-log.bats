#!/usr/bin/env bats
# smtpd's log: session=<pid> on every line of a session, and every value a
# client chose quoted so it cannot end its field or forge another one
# (smtpd(8) LOG).
load helper
load lib/smtp

setup() { smtp_setup; }

# The log lines of one session, in order, without the wait_port probe's.
session_lines() { grep -e "^smtpd: [a-z]*: session=$1 " "$BATS_TEST_TMPDIR/SMTP_PORT.log"; }

@test "a forged ip= inside RCPT TO stays in one quoted reason; one ip= field" {
  run chat <<'EOF2'
R 220
L EHLO client.example
R 250
L MAIL FROM:<a@example.org>
R 250
L RCPT TO:<"z ip=6.6.6.6 event=auth-fail"@localhost>
R 550 5.1.1
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  sid="$(log_session "$BATS_TEST_TMPDIR/SMTP_PORT.log" 'event=reject cmd=RCPT')"
  [ -n "$sid" ]
  line="$(grep 'event=reject cmd=RCPT' "$BATS_TEST_TMPDIR/SMTP_PORT.log")"
  [ "$line" = "smtpd: notice: session=$sid event=reject cmd=RCPT code=550 status=5.1.1 ip=127.0.0.1 reason=\"z ip=6.6.6.6 event=auth-fail: no such user here\"" ]
  [ "$(log_count ip "$line")" -eq 1 ]
  [ "$(log_count event "$line")" -eq 1 ]
}

@test "connect, reject and close of one session carry the same session=; a second session another" {
  run chat <<'EOF2'
R 220
L EHLO client.example
R 250
L MAIL FROM:<a@example.org>
R 250
L RCPT TO:<nobody@localhost>
R 550
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run chat <<'EOF2'
R 220
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ]
  log="$BATS_TEST_TMPDIR/SMTP_PORT.log"
  sid="$(log_session "$log" 'event=reject cmd=RCPT')"
  [ -n "$sid" ]
  run session_lines "$sid"
  [ "${#lines[@]}" -eq 4 ] || { echo "$output"; false; }
  [ "${lines[0]}" = "smtpd: info: session=$sid event=connect ip=127.0.0.1 host=unknown local=127.0.0.1:$SMTP_PORT mode=smtp" ]
  [[ "${lines[1]}" == "smtpd: warning: session=$sid STARTTLS not offered: "* ]]
  [ "${lines[2]}" = "smtpd: notice: session=$sid event=reject cmd=RCPT code=550 status=5.1.1 ip=127.0.0.1 reason=\"nobody: no such user here\"" ]
  [ "${lines[3]}" = "smtpd: info: session=$sid event=close ip=127.0.0.1 messages=0 reason=quit" ]
  # Every line of the file has a session=, and the three chats (the port
  # probe, two sessions) have three different ones, each with one connect
  # and one close.
  [ "$(grep -vc '^smtpd: [a-z]*: session=[0-9][0-9]* ' "$log")" -eq 0 ]
  [ "$(sed -n 's/^smtpd: [a-z]*: session=\([0-9]*\) .*/\1/p' "$log" | sort -u | wc -l)" -eq 3 ]
  for s in $(sed -n 's/^smtpd: info: session=\([0-9]*\) event=connect .*/\1/p' "$log"); do
    [ "$(grep -c "^smtpd: info: session=$s event=close " "$log")" -eq 1 ]
  done
}

@test "the accept line: queue id kept, a quoted sender quoted whole, non-ASCII as \\xHH" {
  run chat <<'EOF2'
R 220
L EHLO client.example
R 250
L MAIL FROM:<"x ip=6.6.6.6"@example.org>
R 250
L RCPT TO:<demo@localhost>
R 250
L DATA
R 354
L hi
L .
R 250
L MAIL FROM:<caf\xc3\xa9@example.org> SMTPUTF8
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
  ids=($(sed -n 's/^< 250 2.0.0 Ok: queued as //p' <<<"$output"))
  [ "${#ids[@]}" -eq 2 ]
  log="$BATS_TEST_TMPDIR/SMTP_PORT.log"
  sid="$(log_session "$log" "id=${ids[0]} event=accept")"
  [ -n "$sid" ]
  [ "$(grep "id=${ids[0]} " "$log")" = "smtpd: info: session=$sid id=${ids[0]} event=accept from=\"<\\\"x ip=6.6.6.6\\\"@example.org>\" rcpt=1 size=4 ip=127.0.0.1 proto=ESMTP user=-" ]
  [ "$(grep "id=${ids[1]} " "$log")" = "smtpd: info: session=$sid id=${ids[1]} event=accept from=\"<caf\\xc3\\xa9@example.org>\" rcpt=1 size=4 ip=127.0.0.1 proto=UTF8SMTP user=-" ]
  [ "$(log_count ip "$(grep "id=${ids[0]} " "$log")")" -eq 1 ]
}

@test "AUTH user names are quoted: spaces, '=' and a tab" {
  conf_param AUTH-LOGIN-also-without-TLS
  run chat <<EOF2
R 220
L EHLO client.example
R 250
L AUTH PLAIN $(b64 '\0x ip=6.6.6.6\0pw')
R 535
L AUTH LOGIN
R 334
L $(b64 'a\tb')
R 334
L $(b64 'pw')
R 535
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  log="$BATS_TEST_TMPDIR/SMTP_PORT.log"
  sid="$(log_session "$log" 'mech=PLAIN')"
  [ "$(grep 'event=auth-fail' "$log" | sed -n 1p)" = "smtpd: notice: session=$sid event=auth-fail ip=127.0.0.1 user=\"x ip=6.6.6.6\" mech=PLAIN reason=credentials/no-such-user" ]
  [ "$(grep 'event=auth-fail' "$log" | sed -n 2p)" = "smtpd: notice: session=$sid event=auth-fail ip=127.0.0.1 user=\"a\\x09b\" mech=LOGIN reason=credentials/no-such-user" ]
  [ "$(grep -c 'event=auth-fail' "$log")" -eq 2 ]
}

@test "a HELO name refused by a pattern is logged as helo=, quoted; an unknown verb too" {
  echo 'x"ip=6.6.6.6 !Go away' >> "$HOME_DIR/etc/smtpserver.conf"
  run chat <<'EOF2'
R 220
L EHLO x"ip=6.6.6.6
R 550 5.7.1 Go away
L NO=SUCH ip=1.1.1.1
R 500 5.5.1
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  log="$BATS_TEST_TMPDIR/SMTP_PORT.log"
  sid="$(log_session "$log" 'event=reject cmd=EHLO')"
  [ "$(grep 'event=reject cmd=EHLO' "$log")" = "smtpd: notice: session=$sid event=reject cmd=EHLO code=550 status=5.7.1 ip=127.0.0.1 helo=\"x\\\"ip=6.6.6.6\" reason=\"Go away\"" ]
  [ "$(grep 'event=unknown-command' "$log")" = "smtpd: info: session=$sid event=unknown-command ip=127.0.0.1 verb=\"NO=SUCH\"" ]
  [ "$(log_count ip "$(grep 'event=reject cmd=EHLO' "$log")")" -eq 1 ]
}
