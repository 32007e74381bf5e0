#!/usr/bin/env bats
# smtpd: submission (-m, RFC 6409), authenticated relay (ALLOW_RELAY),
# POP-before-SMTP (SMTP_AUTH_VIA_IP) and Date/Message-ID for submitted mail.
load helper
load lib/smtp

AUTHVIA="$BATS_TEST_DIRNAME/../build/t/authvia-record"

setup_file() { tls_setup_file; }
setup() {
  make_home "Options = ALLOW_POP3 | ALLOW_RELAY | NO_SENDMAIL"
  tls_home
}

# relay_script: EHLO, MAIL, RCPT to an outside address; prints the RCPT reply.
relay_plain() {
  chat_port "$1" <<EOF2 | sed -n '$p'
$HELLO
L MAIL FROM:<demo@localhost>
N 1
L RCPT TO:<someone@example.org>
N 1
EOF2
}

@test "no relay without AUTH on every service: plain 550 5.7.1, -m 530 5.7.0, -s -m 530 5.7.0" {
  start_smtpd
  serve SUBMIT_PORT "$LIBEXEC/smtpd" -m
  serve SMTPS_PORT "$LIBEXEC/smtpd" -s -m
  [ "$(relay_plain "$SMTP_PORT")" = "< 550 5.7.1 Relaying denied" ]
  run chat_port "$SUBMIT_PORT" <<EOF2
$HELLO
L MAIL FROM:<demo@localhost>
R 530 5.7.0 Authentication required
L RCPT TO:<someone@example.org>
R 503 5.5.1 Need MAIL command
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run chats "$SMTPS_PORT" <<EOF2
$HELLO
L MAIL FROM:<demo@localhost>
R 530 5.7.0 Authentication required
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  grep -q 'event=reject cmd=MAIL code=530 status=5.7.0 ip=127.0.0.1 reason=auth-required' "$BATS_TEST_TMPDIR/SUBMIT_PORT.log"
  [ "$(incoming_count)" -eq 0 ]
}

@test "submission: AUTH then relay; bin/runq puts the job in spool/queue/remote/" {
  serve SUBMIT_PORT "$LIBEXEC/smtpd" -m
  run swaks_to "$SUBMIT_PORT" --tls --auth PLAIN --auth-user demo --auth-password demo --to someone@example.org \
    --data $'Date: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <own@client.example>\nSubject: out\n\nto the world'
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"<~  250 2.1.5 Ok"* ]]
  serve SMTPS_PORT "$LIBEXEC/smtpd" -s -m
  run swaks_to "$SMTPS_PORT" --tlsc --auth LOGIN --auth-user demo --auth-password demo --to other@example.net
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(incoming_count)" -eq 2 ]
  run_stages
  [ "$(incoming_count)" -eq 0 ]
  [ "$(remote_jobs | wc -l)" -eq 2 ]
  grep -l 'Subject: out' $(remote_bodies) | grep -q .
  # The client's own Date and Message-ID are kept, nothing added.
  f=$(grep -l 'Subject: out' $(remote_bodies))
  [ "$(grep -c '^Date: ' "$f")" -eq 1 ]
  [ "$(grep -c '^Message-ID: ' "$f")" -eq 1 ]
  grep -q '^Message-ID: <own@client.example>$' "$f"
}

@test "authenticated but no ALLOW_RELAY: outside recipients 550 5.7.1, local ones accepted" {
  set_options "ALLOW_POP3"
  serve SUBMIT_PORT "$LIBEXEC/smtpd" -m
  run chat_port "$SUBMIT_PORT" <<EOF2
$HELLO
L STARTTLS
R 220
TLS
L EHLO client.example
R 250
L AUTH PLAIN $(b64 '\0demo\0demo')
R 235 2.7.0
L MAIL FROM:<demo@localhost>
R 250
L RCPT TO:<someone@example.org>
R 550 5.7.1 Relaying denied
L RCPT TO:<sysop@localhost>
R 250 2.1.5
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  grep -q 'event=auth ip=127.0.0.1 user=demo mech=PLAIN relay=no' "$BATS_TEST_TMPDIR/SUBMIT_PORT.log"
}

@test "port 25 service: an authenticated user with ALLOW_RELAY may relay too" {
  start_smtpd
  run swaks_to "$SMTP_PORT" --tls --auth CRAM-MD5 --auth-user demo --auth-password demo --to someone@example.org
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"<~  250 2.0.0 Ok: queued as"* ]]
  run_stages
  [ "$(remote_jobs | wc -l)" -eq 1 ]
}

@test "RFC 6409 §8: a submitted message without Date/Message-ID gets both, after Received" {
  serve SUBMIT_PORT "$LIBEXEC/smtpd" -m
  run chat_port "$SUBMIT_PORT" <<EOF2
$HELLO
L STARTTLS
R 220
TLS
L EHLO client.example
R 250
L AUTH PLAIN $(b64 '\0demo\0demo')
R 235
L MAIL FROM:<demo@localhost>
R 250
L RCPT TO:<sysop@localhost>
R 250
L DATA
R 354
L Subject: no date
L From: demo@localhost
L
L body
L .
R 250
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  f=$(incoming_files)
  id=$(basename "$f")
  run message_of "$f"
  [ "${lines[0]}" = "Subject: no date" ]
  [ "${lines[1]}" = "From: demo@localhost" ]
  [[ "${lines[2]}" =~ ^Date:\ [A-Z][a-z]{2},\ [0-9]{2}\ [A-Z][a-z]{2}\ 20[0-9]{2}\ [0-9:]{8}\ \+0000$ ]]
  [ "${lines[3]}" = "Message-ID: <$id@localhost>" ]
  [ "${lines[4]}" = "body" ]
}

@test "unauthenticated mail gets no Date/Message-ID; a header-only submitted message gets them at the end" {
  start_smtpd
  run chat <<EOF2
$HELLO
$TO_DEMO_DATA
L Subject: plain
L
L body
L .
R 250
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  f=$(incoming_files)
  [ "$(message_of "$f")" = $'Subject: plain\n\nbody' ]
  rm "$f"
  conf_param AUTH-LOGIN-also-without-TLS
  run chat <<EOF2
$HELLO
L AUTH PLAIN $(b64 '\0demo\0demo')
R 235
L MAIL FROM:<demo@localhost>
R 250
L RCPT TO:<sysop@localhost>
R 250
L BDAT 27 LAST
S Subject: only\r\ndate: x\r\nEnd
R 250
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  f=$(incoming_files)
  run message_of "$f"
  [ "${lines[0]}" = "Subject: only" ]
  [ "${lines[1]}" = "date: x" ]
  [ "${lines[2]}" = "End" ]
  [ "${lines[3]}" = "Message-ID: <$(basename "$f")@localhost>" ]
  [ "${#lines[@]}" -eq 4 ]
}

@test "SMTP_AUTH_VIA_IP: a POP3 login opens the relay window; it closes after AuthViaIPWindow" {
  set_options "ALLOW_POP3 | ALLOW_RELAY | SMTP_AUTH_VIA_IP"
  set_mail_key AuthViaIPWindow 30M
  start_smtpd
  serve SUBMIT_PORT "$LIBEXEC/smtpd" -m
  [ "$(relay_plain "$SMTP_PORT")" = "< 550 5.7.1 Relaying denied" ]
  "$AUTHVIA" 127.0.0.1 60
  [ "$(relay_plain "$SMTP_PORT")" = "< 250 2.1.5 Ok" ]
  [ "$(relay_plain "$SUBMIT_PORT")" = "< 250 2.1.5 Ok" ]
  grep -q 'event=auth-via-ip ip=127.0.0.1 window=1800' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  # 31 minutes ago: outside the window again.
  "$AUTHVIA" 127.0.0.1 1860
  [ "$(relay_plain "$SMTP_PORT")" = "< 550 5.7.1 Relaying denied" ]
  run chat_port "$SUBMIT_PORT" <<EOF2
$HELLO
L MAIL FROM:<demo@localhost>
R 530 5.7.0
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  # Without the option the table is not even consulted.
  "$AUTHVIA" 127.0.0.1 0
  set_options "ALLOW_POP3 | ALLOW_RELAY"
  [ "$(relay_plain "$SMTP_PORT")" = "< 550 5.7.1 Relaying denied" ]
  # And without ALLOW_RELAY a recent POP3 login is not enough either.
  set_options "ALLOW_POP3 | SMTP_AUTH_VIA_IP"
  [ "$(relay_plain "$SMTP_PORT")" = "< 550 5.7.1 Relaying denied" ]
  [ "$("$AUTHVIA" -q 127.0.0.1 60)" = 1 ]
  [ "$("$AUTHVIA" -q 127.0.0.2 60)" = 0 ]
}

@test "SMTP_AUTH_VIA_IP end to end: a real pop3d login lets the same address relay through smtpd" {
  set_options "ALLOW_POP3 | ALLOW_RELAY | SMTP_AUTH_VIA_IP"
  start_smtpd
  serve POP3_PORT "$LIBEXEC/pop3d"
  [ "$(relay_plain "$SMTP_PORT")" = "< 550 5.7.1 Relaying denied" ]
  run timeout 20 python3 - "$POP3_PORT" <<'PY'
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
p.user("demo"); p.pass_("demo")
print(p.quit().decode()[:3])
PY
  [ "$output" = "+OK" ] || { echo "$output"; false; }
  [ "$(relay_plain "$SMTP_PORT")" = "< 250 2.1.5 Ok" ]
}

@test "authvia table (driver): window edges, a future time, malformed addresses" {
  "$AUTHVIA" 192.0.2.1 100
  [ "$("$AUTHVIA" -q 192.0.2.1 101)" = 1 ]
  [ "$("$AUTHVIA" -q 192.0.2.1 99)" = 0 ]
  "$AUTHVIA" 2001:db8::1 -60          # a minute in the future: never trusted
  [ "$("$AUTHVIA" -q 2001:db8::1 86400)" = 0 ]
  "$AUTHVIA" 2001:db8::1 0
  [ "$("$AUTHVIA" -q 2001:db8::1 1)" = 1 ]
  run "$AUTHVIA" 'bad ip'
  [ "$status" -eq 111 ]
  [ "$("$AUTHVIA" -q 'bad ip' 60)" = 0 ]
  [ "$(stat -c %a "$HOME_DIR/spool/data/authvia.gdbm")" = 600 ]
}
