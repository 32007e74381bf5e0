#!/usr/bin/env bats
# The milter peers of t/lib/milters.bash checked against a private Postfix
# (a milter host known to work), so that a failure in t/milter-*.bats
# against bbsmail's smtpd can be told apart from a broken peer set-up.
load helper
load lib/postfix
load lib/milters

teardown() { postfix_stop; kill_tracked; }

msg() {
  printf 'From: %s\nTo: alice@postfix.test\nSubject: hello\nDate: Tue, 01 Dec 2026 10:00:00 +0000\nMessage-ID: <%s@example.test>\n\n%s\n' "$1" "$RANDOM" "${2:-hi there}"
}

send_from() {
  local src="$1" file="$2"
  "$MILTER_PY" - "$POSTFIX_PORT" "$src" "$file" <<'PY'
import smtplib, sys
port, src, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = smtplib.SMTP('127.0.0.1', port, source_address=(src, 0), timeout=30)
try:
    s.sendmail('s@example.test', ['alice@postfix.test'], open(path, 'rb').read())
    print('250')
except smtplib.SMTPResponseException as e:
    print(e.smtp_code, e.smtp_error.decode())
except smtplib.SMTPRecipientsRefused as e:
    print(e)
s.quit()
PY
}

@test "opendkim under Postfix: verifies a python3-dkim signature (pass, then fail when tampered), signs from 127.0.0.1" {
  dkim_keygen far.test s1
  dkim_keygen example.test s2
  opendkim_start domain=example.test selector=s2
  postfix_start
  postfix_milters "$OPENDKIM_SOCKET"
  msg a@far.test | dkim_tool sign "$MILTER_DIR/private/s1.private" far.test s1 > "$BATS_TEST_TMPDIR/signed"
  run send_from 127.0.0.3 "$BATS_TEST_TMPDIR/signed"
  [ "$output" = 250 ]
  postfix_wait_stored alice@postfix.test 1
  grep -E '^Authentication-Results: mx.test;' "$(postfix_stored alice@postfix.test)"
  grep -A3 '^Authentication-Results: mx.test' "$(postfix_stored alice@postfix.test)" | grep -q 'dkim=pass .*header.d=far.test'
}
