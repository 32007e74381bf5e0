#!/usr/bin/env bats
# The milter peers of t/lib/milters.bash checked against a private Postfix
# (a milter host known to work), so that a failure in t/milter-*.bats
# against bbsmail's smtpd can be told apart from a broken peer set-up.
load helper
load lib/postfix
load lib/milters

setup_file() { spamd_start "$BATS_FILE_TMPDIR/spamd"; }
teardown_file() { spamd_stop; }
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

@test "opendkim under Postfix: verifies a python3-dkim signature: dkim=pass header.d=far.test" {
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

@test "opendkim under Postfix: a tampered body gives dkim=fail; mail from 127.0.0.1 is signed and python3-dkim verifies it" {
  dkim_keygen far.test s1
  dkim_keygen example.test s2
  opendkim_start domain=example.test selector=s2
  postfix_start
  postfix_milters "$OPENDKIM_SOCKET"
  msg a@far.test | dkim_tool sign "$MILTER_DIR/private/s1.private" far.test s1 | sed 's/^hi there$/hi there!/' > "$BATS_TEST_TMPDIR/bad"
  run send_from 127.0.0.3 "$BATS_TEST_TMPDIR/bad"
  [ "$output" = 250 ]
  postfix_wait_stored alice@postfix.test 1
  grep -A3 '^Authentication-Results: mx.test' "$(postfix_stored alice@postfix.test)" | grep -q 'dkim=fail .*header.d=far.test'
  msg me@example.test > "$BATS_TEST_TMPDIR/out"
  run send_from 127.0.0.1 "$BATS_TEST_TMPDIR/out"
  [ "$output" = 250 ]
  postfix_wait_stored alice@postfix.test 2
  f="$(grep -L '^Authentication-Results' $(postfix_stored alice@postfix.test))"
  grep -q '^DKIM-Signature: .*d=example.test; s=s2;' "$f"
  run dkim_tool verify "$MILTER_DIR/private/s2.txt" < "$f"
  [ "$output" = pass ]
}

@test "spamass-milter under Postfix: GTUBE rejected with -r 15; a clean note gets X-Spam-Status: No" {
  spamass_start -r 15
  postfix_start
  postfix_milters "$SPAMASS_SOCKET"
  msg a@far.test "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X" > "$BATS_TEST_TMPDIR/spam"
  run send_from 127.0.0.3 "$BATS_TEST_TMPDIR/spam"
  echo "$output"
  [ "$output" = "550 5.7.1 Blocked by SpamAssassin" ]
  msg a@far.test "lunch on friday?" > "$BATS_TEST_TMPDIR/ham"
  run send_from 127.0.0.3 "$BATS_TEST_TMPDIR/ham"
  [ "$output" = 250 ]
  postfix_wait_stored alice@postfix.test 1
  grep -q '^X-Spam-Status: No, score=' "$(postfix_stored alice@postfix.test)"
}
