#!/usr/bin/env bats
# pop3d AUTH (RFC 5034): SASL PLAIN, LOGIN and CRAM-MD5 over src/lib/sasl,
# the failed-login accounting shared with PASS, #nospam inside SASL, and
# the POP-before-SMTP record (SMTP_AUTH_VIA_IP).
load helper
load lib/pop3

AUTHVIA="$BBSMAIL_ROOT/build/t/authvia-record"

setup() {
  pop3_home "LoginAttemptTempBanThreshold = 3"
  printf 'From: a@example.org\nSubject: first\n\nbody one\n' | put_message 2 1700000001.M1P1.test
  printf 'From: s@example.org\nX-Spam-Flag: YES\nSubject: spam\n\nbuy\n' | put_message 2 1700000002.M2P1.test
  start_pop3d
}

@test "CAPA lists SASL PLAIN LOGIN CRAM-MD5; AUTH alone lists the mechanisms" {
  run pop3_chat <<< $'CAPA\nAUTH\nQUIT'
  [ "$status" -eq 0 ]
  [[ "$output" == *$'\nSASL PLAIN LOGIN CRAM-MD5\n.\n'* ]]
  [[ "$output" == *$'\n+OK SASL mechanisms follow\nPLAIN\nLOGIN\nCRAM-MD5\n.\n+OK bbsmail POP3 server signing off\n'* ]]
}

@test "AUTH PLAIN with and without an initial response; AUTH LOGIN; logged method=auth-<mech>" {
  run pop3_chat <<EOF
AUTH PLAIN $(pop3_b64 '\0demo\0demo')
STAT
QUIT
EOF
  [ "${lines[1]}" = "+OK demo has 2 messages (110 octets)" ]
  [ "${lines[2]}" = "+OK 2 110" ]
  run pop3_chat <<EOF
AUTH plain
$(pop3_b64 'demo\0demo\0demo')
QUIT
EOF
  [ "${lines[1]}" = "+ " ]
  [ "${lines[2]}" = "+OK demo has 2 messages (110 octets)" ]
  run pop3_chat <<EOF
AUTH LOGIN
$(pop3_b64 'Demo')
$(pop3_b64 'demo')
QUIT
EOF
  [ "${lines[1]}" = "+ VXNlcm5hbWU6" ]
  [ "${lines[2]}" = "+ UGFzc3dvcmQ6" ]
  [ "${lines[3]}" = "+OK demo has 2 messages (110 octets)" ]
  log="$BATS_TEST_TMPDIR/POP3_PORT.log"
  [ "$(grep -c 'event=login ip=127.0.0.1 user=demo number=2 method=auth-plain tls=0 nospam=0 messages=2 octets=110$' "$log")" -eq 2 ]
  grep -q 'event=login ip=127.0.0.1 user=demo number=2 method=auth-login tls=0 ' "$log"
}

@test "AUTH CRAM-MD5 from python (HMAC-MD5 of the challenge); a wrong digest fails" {
  run timeout 20 python3 - "$POP3_PORT" <<'PY'
import base64, hmac, poplib, sys
for secret in (b"demo", b"wrong"):
    p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
    challenge = p._shortcmd("AUTH CRAM-MD5")
    assert challenge.startswith(b"+ "), challenge
    plain = base64.b64decode(challenge[2:])
    print(plain.startswith(b"<") and plain.endswith(b"@localhost>"))
    digest = hmac.new(secret, plain, "md5").hexdigest()
    try:
        print(p._shortcmd(base64.b64encode(b"demo " + digest.encode()).decode()).decode())
        print(p.stat())
    except poplib.error_proto as e:
        print(e.args[0].decode())
    p.quit()
PY
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "${lines[0]}" = "True" ]
  [ "${lines[1]}" = "+OK demo has 2 messages (110 octets)" ]
  [ "${lines[2]}" = "(2, 110)" ]
  [ "${lines[3]}" = "True" ]
  [ "${lines[4]}" = "-ERR [AUTH] Authentication failed" ]
  grep -q 'event=login ip=127.0.0.1 user=demo number=2 method=auth-cram-md5 tls=0 ' "$BATS_TEST_TMPDIR/POP3_PORT.log"
  grep -q 'event=login-failed ip=127.0.0.1 user=demo method=auth-cram-md5 tls=0 reason=bad-credentials failures=1$' \
    "$BATS_TEST_TMPDIR/POP3_PORT.log"
}

@test "AUTH failures: bad password counted with PASS's, then [LOGIN-DELAY]; cancel, bad base64, unknown mechanism not counted" {
  run pop3_chat <<EOF
AUTH PLAIN $(pop3_b64 '\0demo\0bad')
AUTH LOGIN
*
AUTH PLAIN !!!!
AUTH FOO
AUTH x=y
AUTH CRAM-MD5 abc
USER ghost
PASS nope
AUTH PLAIN $(pop3_b64 '\0ghost\0bad')
AUTH PLAIN $(pop3_b64 '\0demo\0demo')
QUIT
EOF
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "${lines[1]}" = "-ERR [AUTH] Authentication failed" ]
  [ "${lines[2]}" = "+ VXNlcm5hbWU6" ]
  [ "${lines[3]}" = "-ERR Authentication cancelled" ]
  [ "${lines[4]}" = "-ERR Cannot decode response" ]
  [ "${lines[5]}" = "-ERR Unrecognized authentication type" ]
  [ "${lines[6]}" = "-ERR Unrecognized authentication type" ]
  [ "${lines[7]}" = "-ERR Cannot decode response" ]
  [ "${lines[8]}" = "+OK send PASS" ]
  [ "${lines[9]}" = "-ERR [AUTH] invalid user name or password" ]
  [ "${lines[10]}" = "-ERR [AUTH] Authentication failed" ]
  # Third failure reached LoginAttemptTempBanThreshold: even the right password waits.
  [[ "${lines[11]}" == "-ERR [LOGIN-DELAY] too many failed logins from 127.0.0.1, try again in "* ]]
  log="$BATS_TEST_TMPDIR/POP3_PORT.log"
  grep -q 'event=login-failed ip=127.0.0.1 user=demo method=auth-plain tls=0 reason=bad-credentials failures=1$' "$log"
  grep -q 'event=auth-failed ip=127.0.0.1 user=- method=auth-login tls=0 reason=cancelled$' "$log"
  grep -q 'event=auth-failed ip=127.0.0.1 user=- method=auth-foo tls=0 reason=unknown-mechanism$' "$log"
  grep -q 'event=login-failed ip=127.0.0.1 user=ghost method=user tls=0 reason=unknown-user failures=2$' "$log"
  grep -q 'event=login-failed ip=127.0.0.1 user=ghost method=auth-plain tls=0 reason=unknown-user failures=3$' "$log"
  grep -q 'event=login-refused ip=127.0.0.1 reason=temp-ban' "$log"
}

@test "#nospam in the SASL name (PLAIN, LOGIN, CRAM-MD5): the spam-tagged message is hidden" {
  run pop3_chat <<EOF
AUTH PLAIN $(pop3_b64 'demo#nospam\0Demo#NoSpam\0demo')
QUIT
EOF
  [ "${lines[1]}" = "+OK demo has 1 message (49 octets)" ]
  run pop3_chat <<EOF
AUTH LOGIN $(pop3_b64 'demo#nospam')
$(pop3_b64 'demo')
QUIT
EOF
  [ "${lines[2]}" = "+OK demo has 1 message (49 octets)" ]
  run timeout 20 python3 - "$POP3_PORT" <<'PY'
import base64, hmac, poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
plain = base64.b64decode(p._shortcmd("AUTH CRAM-MD5")[2:])
digest = hmac.new(b"demo", plain, "md5").hexdigest()
print(p._shortcmd(base64.b64encode(b"demo#nospam " + digest.encode()).decode()).decode())
p.quit()
PY
  [ "$output" = "+OK demo has 1 message (49 octets)" ]
  [ "$(grep -c 'event=login ip=127.0.0.1 user=demo number=2 method=auth-[a-z0-9-]* tls=0 nospam=1 messages=1 ' \
       "$BATS_TEST_TMPDIR/POP3_PORT.log")" -eq 3 ]
}

@test "SMTP_AUTH_VIA_IP: each kind of login records the address; without the option no table is made" {
  run pop3_chat <<< $'USER demo\nPASS demo\nQUIT'
  [ "${lines[2]}" = "+OK demo has 2 messages (110 octets)" ]
  [ ! -e "$HOME_DIR/spool/data/authvia.gdbm" ]
  set_mail_key Options 'ALLOW_POP3 SMTP_AUTH_VIA_IP'
  run pop3_chat <<< $'USER demo\nPASS bad\nQUIT'
  [ ! -e "$HOME_DIR/spool/data/authvia.gdbm" ]
  bbsmail-user apop demo --secret tanstaaf
  for how in user apop auth; do
    rm -f "$HOME_DIR/spool/data/authvia.gdbm"
    run timeout 20 python3 - "$POP3_PORT" "$how" <<'PY'
import base64, poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=10)
if sys.argv[2] == "user":
    p.user("demo"); p.pass_("demo")
elif sys.argv[2] == "apop":
    p.apop("demo", "tanstaaf")
else:
    p._shortcmd("AUTH PLAIN " + base64.b64encode(b"\0demo\0demo").decode())
print(p.quit().decode())
PY
    [ "$status" -eq 0 ] || { echo "$how: $output"; false; }
    run "$AUTHVIA" -q 127.0.0.1 60
    [ "$output" = 1 ] || { echo "$how: $output"; false; }
  done
  run "$AUTHVIA" -q 127.0.0.2 60
  [ "$output" = 0 ]
}

@test "AUTH inside STLS; DEBUG_POP3 masks the initial response" {
  set_mail_key Options 'ALLOW_POP3 DEBUG_POP3'
  set_mail_key LogLevel debug
  "$BBSMAIL_ROOT/scripts/make-cert" "$HOME_DIR" localhost >/dev/null 2>&1
  run pop3_chat <<EOF
STLS
AUTH PLAIN $(pop3_b64 '\0demo\0demo')
QUIT
EOF
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "${lines[3]}" = "tls: +OK demo has 2 messages (110 octets)" ]
  log="$BATS_TEST_TMPDIR/POP3_PORT.log"
  grep -q 'event=login ip=127.0.0.1 user=demo number=2 method=auth-plain tls=1 ' "$log"
  grep -q 'command="AUTH PLAIN \*\*\*\*\*\*\*\*"' "$log"
  ! grep -q "$(pop3_b64 '\0demo\0demo')" "$log"
}
