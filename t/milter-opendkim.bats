#!/usr/bin/env bats
# Debian's opendkim as a milter of smtpd (PARAM milter): verification of
# mail from outside (127.0.0.3) with the public key from opendkim's test
# key file (no DNS), and signing of mail submitted with AUTH, checked with
# python3-dkim and the generated public key.  The local domain is bbs.test.
load helper
load lib/session
load lib/smtp
load lib/milters

setup_file() { tls_setup_file; }

setup() {
  make_home "Options = ALLOW_POP3 | ALLOW_RELAY | NO_SENDMAIL"
  set_mail_key HostName bbs.test
  tls_home
  dkim_keygen far.test s1
  dkim_keygen bbs.test s2
}

# dkim_on [socket=inet]: opendkim signing for bbs.test, smtpd's PARAM milter line.
dkim_on() {
  opendkim_start domain=bbs.test selector=s2 "$@"
  echo "PARAM milter $OPENDKIM_SOCKET name=opendkim default=tempfail" > "$HOME_DIR/etc/smtpserver.conf"
}

# msg FROM [BODY]: a message to demo@bbs.test on stdout.
msg() {
  printf 'From: %s\nTo: demo@bbs.test\nSubject: hello\nDate: Tue, 01 Dec 2026 10:00:00 +0000\nMessage-ID: <%s@test>\n\n%s\n' \
    "$1" "$RANDOM" "${2:-hi there}"
}

send_from() {
  session "$1" 'EHLO client.far.test' "MAIL FROM:<$2>" 'RCPT TO:<demo@bbs.test>' "DATA:$3" QUIT
}

# stored_message: the message of the one spooled file (after the envelope,
# which ends in a NUL), its header fields unfolded, one a line, then the body.
stored_message() {
  "$MILTER_PY" -c 'import sys, re
m = open(sys.argv[1], "rb").read().rsplit(b"\0", 1)[1].decode()
h, b = m.split("\n\n", 1)
print(re.sub(r"\n[ \t]+", " ", h)); print(); print(b, end="")' "$(spooled)"
}

@test "opendkim: a python3-dkim signature from outside: one Authentication-Results with dkim=pass header.d=far.test" {
  dkim_on
  start_smtpd
  msg a@far.test | dkim_tool sign "$MILTER_DIR/private/s1.private" far.test s1 > "$BATS_TEST_TMPDIR/m"
  run send_from 127.0.0.3 a@far.test "$BATS_TEST_TMPDIR/m"
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]] || { echo "$output"; cat "$BATS_TEST_TMPDIR/SMTP_PORT.log"; false; }
  run stored_message
  [ "$(printf '%s\n' "$output" | grep -c '^Authentication-Results: ')" -eq 1 ]
  printf '%s\n' "$output" | grep -Eq '^Authentication-Results: mx\.test; dkim=pass \(1024-bit key\) header\.d=far\.test header\.i=@far\.test header\.a=rsa-sha256 header\.s=s1 header\.b=[A-Za-z0-9+/]{8}; dkim-atps=neutral$'
  [ "${lines[-1]}" = "hi there" ]
}

@test "opendkim: the same message with its body changed after signing: dkim=fail, reason signature verification failed" {
  dkim_on
  start_smtpd
  msg a@far.test | dkim_tool sign "$MILTER_DIR/private/s1.private" far.test s1 | sed 's/^hi there$/hi there, changed/' > "$BATS_TEST_TMPDIR/m"
  run send_from 127.0.0.3 a@far.test "$BATS_TEST_TMPDIR/m"
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  run stored_message
  [ "$(printf '%s\n' "$output" | grep -c '^Authentication-Results: ')" -eq 1 ]
  printf '%s\n' "$output" | grep -Eq '^Authentication-Results: mx\.test; dkim=fail reason="signature verification failed" \(1024-bit key\) header\.d=far\.test header\.i=@far\.test header\.a=rsa-sha256 header\.s=s1 header\.b=[A-Za-z0-9+/]{8}; dkim-atps=neutral$' ||
    { printf '%s\n' "$output" | grep '^Authentication-Results: '; false; }
  [ "${lines[-1]}" = "hi there, changed" ]
}

# submit [swaks args...]: demo submits a message From: demo@bbs.test on
# the submission port (-m) from 127.0.0.3, which is not an internal host
# of opendkim: only the AUTH makes it sign.
submit() {
  swaks_to "$SUBMIT_PORT" --local-interface 127.0.0.3 --to demo@bbs.test --from demo@bbs.test \
    --data "$(msg demo@bbs.test "signed by the milter")" "$@"
}

@test "opendkim: mail submitted with AUTH is signed (d=bbs.test s=s2) and python3-dkim verifies it with the key" {
  dkim_on
  serve SUBMIT_PORT "$LIBEXEC/smtpd" -m
  run submit --tls --auth PLAIN --auth-user demo --auth-password demo
  [[ "$output" == *"<~  250 2.0.0 Ok: queued as "* ]] || { echo "$output"; cat "$BATS_TEST_TMPDIR/SUBMIT_PORT.log"; false; }
  run stored_message
  [ "$(printf '%s\n' "$output" | grep -c '^DKIM-Signature: ')" -eq 1 ]
  printf '%s\n' "$output" | grep -Eq '^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/simple; d=bbs\.test; s=s2; '
  ! printf '%s\n' "$output" | grep -q '^Authentication-Results: '
  "$MILTER_PY" -c 'import sys; sys.stdout.buffer.write(open(sys.argv[1], "rb").read().rsplit(b"\0", 1)[1])' "$(spooled)" > "$BATS_TEST_TMPDIR/stored"
  run dkim_tool verify "$MILTER_DIR/private/s2.txt" < "$BATS_TEST_TMPDIR/stored"
  [ "$output" = pass ]
  # The check can fail: the other key does not verify it.
  run dkim_tool verify "$MILTER_DIR/private/s1.txt" < "$BATS_TEST_TMPDIR/stored"
  [ "$output" = fail ]
}

@test "opendkim on a TCP port (inet:PORT@127.0.0.1): it verifies (dkim=pass); a message From: bbs.test from 127.0.0.3 without AUTH is not signed" {
  dkim_on socket=inet
  [[ "$OPENDKIM_SOCKET" == inet:*@127.0.0.1 ]]
  start_smtpd
  msg a@far.test | dkim_tool sign "$MILTER_DIR/private/s1.private" far.test s1 > "$BATS_TEST_TMPDIR/m"
  run send_from 127.0.0.3 a@far.test "$BATS_TEST_TMPDIR/m"
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  run stored_message
  printf '%s\n' "$output" | grep -q '^Authentication-Results: mx\.test; dkim=pass (1024-bit key) header\.d=far\.test '
  rm "$(spooled)"
  msg demo@bbs.test "not signed" > "$BATS_TEST_TMPDIR/m"
  run send_from 127.0.0.3 demo@bbs.test "$BATS_TEST_TMPDIR/m"
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  run stored_message
  ! printf '%s\n' "$output" | grep -q '^DKIM-Signature: '
  [ "${lines[-1]}" = "not signed" ]
}
