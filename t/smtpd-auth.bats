#!/usr/bin/env bats
# smtpd: SMTP AUTH (RFC 4954) PLAIN, LOGIN, CRAM-MD5 against the user
# database; what is offered in plaintext; auth-failrate; the AUTH= parameter.
load helper
load lib/smtp

setup_file() { tls_setup_file; }
setup() {
  make_home "Options = ALLOW_POP3 | ALLOW_RELAY"
  tls_home
  start_smtpd
}
log_file() { echo "$BATS_TEST_TMPDIR/SMTP_PORT.log"; }

@test "swaks --tls --auth PLAIN, LOGIN, CRAM-MD5: good password 235 2.7.0, bad 535 5.7.8" {
  local mech
  for mech in PLAIN LOGIN CRAM-MD5; do
    run swaks_to "$SMTP_PORT" --tls --auth "$mech" --auth-user demo --auth-password demo --to someone@example.org
    [ "$status" -eq 0 ] || { echo "$mech: $output"; false; }
    [[ "$output" == *"<~  235 2.7.0 Authentication successful"* ]]
    [[ "$output" == *"<~  250 2.0.0 Ok: queued as "* ]]
    grep -q "smtpd: info: session=[0-9]* event=auth ip=127.0.0.1 user=demo mech=$mech relay=yes" "$(log_file)"
    run swaks_to "$SMTP_PORT" --tls --auth "$mech" --auth-user demo --auth-password wrong --to someone@example.org
    [ "$status" -ne 0 ]
    [[ "$output" == *"<~* 535 5.7.8 Authentication credentials invalid"* ]] || { echo "$mech: $output"; false; }
    grep -q "smtpd: notice: session=[0-9]* event=auth-fail ip=127.0.0.1 user=demo mech=$mech reason=credentials/" "$(log_file)"
  done
  [ "$(incoming_count)" -eq 3 ]
  for f in $(incoming_files); do
    grep -q $'^\tby localhost (bbsmail) with ESMTPSA id ' "$f"
    [ "$(envelope_of "$f" | grep '^U ')" = "U demo" ]
  done
  # No password ever reaches the log.
  ! grep -q -e wrong -e 'demo\\x00demo' -e "$(b64 '\0demo\0demo')" "$(log_file)"
}

@test "plaintext: only CRAM-MD5 offered; PLAIN/LOGIN get 538 5.7.11; CRAM-MD5 works without TLS" {
  run chat <<EOF2
R 220
L EHLO client.example
R 250 HELP
L AUTH PLAIN $(b64 '\0demo\0demo')
R 538 5.7.11
L AUTH LOGIN
R 538 5.7.11
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"< 250-AUTH CRAM-MD5"$'\n'"< 250 HELP"* ]]
  run swaks_to "$SMTP_PORT" --auth CRAM-MD5 --auth-user demo --auth-password demo --to demo@localhost
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"<-  235 2.7.0 Authentication successful"* ]]
  grep -q $'^\tby localhost (bbsmail) with ESMTPA id ' "$(incoming_files)"
}

@test "PARAM AUTH-LOGIN-also-without-TLS: every mechanism offered and usable in plaintext" {
  conf_param AUTH-LOGIN-also-without-TLS
  run chat <<EOF2
R 220
L EHLO client.example
R 250 HELP
L AUTH PLAIN $(b64 '\0demo\0demo')
R 235 2.7.0 Authentication successful
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"< 250-AUTH PLAIN LOGIN CRAM-MD5"$'\n'"< 250 HELP"* ]]
  run swaks_to "$SMTP_PORT" --auth LOGIN --auth-user demo --auth-password demo --to demo@localhost
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "AUTH sequence: before EHLO, twice, in a transaction: 503 5.5.1; bad input 501/504/500" {
  conf_param AUTH-LOGIN-also-without-TLS
  long=$(head -c 13000 /dev/zero | tr '\0' 'A')
  run chat <<EOF2
R 220
L AUTH PLAIN $(b64 '\0demo\0demo')
R 503 5.5.1 Send HELO/EHLO first
L EHLO client.example
R 250
L AUTH
R 501 5.5.4 Syntax: AUTH mechanism
L AUTH DIGEST-MD5
R 504 5.5.4
L AUTH PLAIN not*base64
R 501 5.5.2
L AUTH LOGIN
R 334 VXNlcm5hbWU6
L *
R 501 5.7.0
L AUTH PLAIN
R 334
L $long
R 500 5.5.6 Authentication exchange line is too long
L MAIL FROM:<a@example.org>
R 250
L AUTH PLAIN $(b64 '\0demo\0demo')
R 503 5.5.1 AUTH not allowed during a mail transaction
L RSET
R 250
L AUTH PLAIN
R 334
L $(b64 '\0demo\0demo')
R 235 2.7.0
L AUTH PLAIN $(b64 '\0demo\0demo')
R 503 5.5.1 Already authenticated
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "LOGIN prompts from PARAM smtp-auth-username-prompt / -password-prompt" {
  conf_param AUTH-LOGIN-also-without-TLS 'smtp-auth-username-prompt "User Name"' 'smtp-auth-password-prompt "Pass Word"'
  run chat <<EOF2
$HELLO
L AUTH LOGIN
R 334 $(b64 'User Name')
L $(b64 demo)
R 334 $(b64 'Pass Word')
L $(b64 demo)
R 235 2.7.0
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "auth-failrate 3: the 4th AUTH in the hour fails (454 4.7.0) even with the right password" {
  conf_param AUTH-LOGIN-also-without-TLS 'auth-failrate 3'
  run chat <<EOF2
$HELLO
L AUTH PLAIN $(b64 '\0demo\0bad1')
R 535 5.7.8
L AUTH PLAIN $(b64 '\0nobody\0bad2')
R 535 5.7.8
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  # Another connection: the count lives in the shared table, not the session.
  run chat <<EOF2
$HELLO
L AUTH PLAIN $(b64 '\0demo\0bad3')
R 535 5.7.8
L AUTH PLAIN $(b64 '\0demo\0demo')
R 454 4.7.0 Too many authentication failures
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  grep -q 'event=auth-fail ip=127.0.0.1 user=nobody mech=PLAIN reason=credentials/' "$(log_file)"
  grep -q 'event=auth-fail ip=127.0.0.1 user=- mech=PLAIN reason=failrate' "$(log_file)"
  [ -f "$HOME_DIR/spool/data/logins.gdbm" ]
  # Without the limit (auth-failrate 0) the same address may log in.
  conf_param 'auth-failrate 0'
  run chat <<EOF2
$HELLO
L AUTH PLAIN $(b64 '\0demo\0demo')
R 235 2.7.0
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "no-smtp-auth-on-25: no AUTH on the relay service (503 5.5.1); submission (-m) still offers it" {
  conf_param no-smtp-auth-on-25
  run chat <<EOF2
$HELLO
L AUTH CRAM-MD5
R 503 5.5.1 AUTH not available
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  ! grep -q '^< 250-AUTH' <<< "$output"
  serve SUBMIT_PORT "$LIBEXEC/smtpd" -m
  run swaks_to "$SUBMIT_PORT" --tls --auth PLAIN --auth-user demo --auth-password demo --to someone@example.org
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"<~  250-AUTH PLAIN LOGIN CRAM-MD5"* ]]
}

@test "PARAM no-smtp-auth: AUTH offered nowhere" {
  conf_param no-smtp-auth
  serve SUBMIT_PORT "$LIBEXEC/smtpd" -m
  run chat_port "$SUBMIT_PORT" <<EOF2
$HELLO
L AUTH CRAM-MD5
R 503 5.5.1 AUTH not available
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  ! grep -q 'AUTH' <<< "$(grep '^< 250' <<< "$output")"
}

@test "MAIL AUTH=: <> and xtext accepted, kept only after AUTH; bad xtext 501" {
  conf_param AUTH-LOGIN-also-without-TLS
  run chat <<EOF2
$HELLO
L MAIL FROM:<a@example.org> AUTH=<>
R 250 2.1.0
L RSET
R 250
L MAIL FROM:<a@example.org> AUTH=demo+2Bx@localhost
R 250 2.1.0
L RSET
R 250
L MAIL FROM:<a@example.org> AUTH=bad+zz
R 501 5.5.4
L AUTH PLAIN $(b64 '\0demo\0demo')
R 235
L MAIL FROM:<demo@localhost> AUTH=demo@localhost
R 250 2.1.0
L RCPT TO:<demo@localhost>
R 250
L DATA
R 354
L Subject: a
L
L body
L .
R 250
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  grep -q 'event=accept from=<demo@localhost> rcpt=1 size=[0-9]* ip=127.0.0.1 proto=ESMTPA user=demo mailauth=<demo@localhost>' "$(log_file)"
}

@test "Received: rcvd-auth-user names the user (off by default); no-rcvd-tls-mode drops the cipher" {
  run swaks_to "$SMTP_PORT" --tls --auth PLAIN --auth-user demo --auth-password demo --to demo@localhost
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  f=$(incoming_files)
  ! grep -q 'authenticated as' "$f"
  grep -q $'^\t(using TLSv1.3 cipher ' "$f"
  rm "$f"
  conf_param rcvd-auth-user no-rcvd-tls-mode
  run swaks_to "$SMTP_PORT" --tls --auth PLAIN --auth-user demo --auth-password demo --to demo@localhost
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  f=$(incoming_files)
  grep -q $'^\t(authenticated as demo)$' "$f"
  ! grep -q 'using TLS' "$f"
  grep -q $'^\tby localhost (bbsmail) with ESMTPSA id ' "$f"
}

@test "python smtplib: starttls() + login() + sendmail; Received says ESMTPSA and the cipher" {
  run timeout 20 python3 - "$SMTP_PORT" <<'PY'
import smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=10)
s.ehlo('client.example')
print(s.starttls(context=ctx)[0])
s.ehlo('client.example')
print(s.login('demo', 'demo')[0])
print(s.sendmail('demo@localhost', ['someone@example.org'], b'Subject: py\r\n\r\nbody\r\n'))
# smtplib takes 503 to a second login as "already authenticated".
print('again', s.login('demo', 'demo')[0])
print(s.quit()[0])
PY
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$output" = $'220\n235\n{}\nagain 503\n221' ] || { echo "$output"; false; }
  f=$(incoming_files)
  grep -q $'^\t(using TLSv1.3 cipher TLS_AES_256_GCM_SHA384 bits 256)$' "$f"
  grep -q $'^\tby localhost (bbsmail) with ESMTPSA id ' "$f"
}
