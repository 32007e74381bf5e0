#!/usr/bin/env bats
# rspamd (Debian's, stock rules) as a milter: its rspamd_proxy worker in
# milter mode, in a private network namespace (t/lib/milters.bash).  GTUBE
# is refused with rspamd's reject message; a clean note gets rspamd's
# X-Spamd-Result header.  The first test checks the same peer under a
# private Postfix, the reference milter host.
load helper
load lib/postfix
load lib/session
load lib/milters

GTUBE='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'

setup_file() {
  rspamd_start "$BATS_FILE_TMPDIR/rspamd" || skip "rspamd cannot run here (needs root, unshare, rspamd)"
}
teardown_file() { rspamd_stop; }
teardown() { postfix_stop; kill_tracked; }

msg() {
  printf 'From: a@far.test\nTo: alice@postfix.test\nSubject: hello\nDate: Tue, 01 Dec 2026 10:00:00 +0000\nMessage-ID: <%s@far.test>\n\n%s\n' "$RANDOM" "$1"
}

postfix_send() {
  "$MILTER_PY" - "$POSTFIX_PORT" "$1" <<'PY'
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), source_address=('127.0.0.3', 0), timeout=60)
try:
    s.sendmail('a@far.test', ['alice@postfix.test'], open(sys.argv[2], 'rb').read())
    print('250')
except smtplib.SMTPResponseException as e:
    print(e.smtp_code, e.smtp_error.decode())
s.quit()
PY
}

@test "rspamd under Postfix: GTUBE refused, a clean note stored with X-Spamd-Result and X-Spam-Status: No" {
  postfix_start
  postfix_milters "$RSPAMD_SOCKET"
  msg "$GTUBE" > "$BATS_TEST_TMPDIR/spam"
  run postfix_send "$BATS_TEST_TMPDIR/spam"
  echo "$output"
  [ "$output" = "554 5.7.1 Gtube pattern" ]
  msg "lunch on friday?" > "$BATS_TEST_TMPDIR/ham"
  run postfix_send "$BATS_TEST_TMPDIR/ham"
  [ "$output" = 250 ]
  postfix_wait_stored alice@postfix.test 1
  grep -q '^X-Spamd-Result: default: False ' "$(postfix_stored alice@postfix.test)"
  grep -q '^X-Spam-Status: No, score=' "$(postfix_stored alice@postfix.test)"
}

send_body() {
  printf 'From: a@far.test\nTo: demo@localhost\nSubject: note\nDate: Tue, 01 Dec 2026 10:00:00 +0000\nMessage-ID: <%s@far.test>\n\n%s\n' "$RANDOM" "$1" > "$BATS_TEST_TMPDIR/m"
  session 127.0.0.3 'EHLO client.far.test' 'MAIL FROM:<a@far.test>' 'RCPT TO:<demo@localhost>' \
    "DATA:$BATS_TEST_TMPDIR/m" QUIT
}

stored_header() {
  "$MILTER_PY" -c 'import sys, re
m = open(sys.argv[1], "rb").read().rsplit(b"\0", 1)[1].decode()
print(re.sub(r"\n[ \t]+", " ", m.split("\n\n", 1)[0]))' "$(spooled)"
}

@test "rspamd under smtpd: GTUBE refused with 554 5.7.1 Gtube pattern; nothing spooled" {
  make_home
  echo "PARAM milter $RSPAMD_SOCKET name=rspamd default=tempfail content-timeout=60s" > "$HOME_DIR/etc/smtpserver.conf"
  start_smtpd
  run send_body "$GTUBE"
  [ "${lines[5]}" = "554 5.7.1 Gtube pattern" ] || { echo "$output"; cat "$BATS_TEST_TMPDIR/SMTP_PORT.log"; false; }
  [ -z "$(spooled)" ]
}

@test "rspamd under smtpd: a clean note is stored with X-Spamd-Result: default: False and X-Spam-Status: No" {
  make_home
  echo "PARAM milter $RSPAMD_SOCKET name=rspamd default=tempfail content-timeout=60s" > "$HOME_DIR/etc/smtpserver.conf"
  start_smtpd
  run send_body "hi friend, lunch on friday?"
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]] || { echo "$output"; cat "$BATS_TEST_TMPDIR/SMTP_PORT.log"; false; }
  run stored_header
  [ "$(printf '%s\n' "$output" | grep -c '^X-Spamd-Result: default: False \[')" -eq 1 ]
  [ "$(printf '%s\n' "$output" | grep -c '^X-Spam-Status: No, score=')" -eq 1 ]
  ! printf '%s\n' "$output" | grep -q '^X-Spam-Flag'
}
