#!/usr/bin/env bats
# Telegrams: smtpd's SEND, SOML and SAML (RFC 821 §3.4), the presence files,
# bin/bbsmail-telegram, and deliver-local's NewMailNotice.
load helper
load lib/smtp
load lib/stages

setup() { smtp_setup; }

TG() { echo "$HOME_DIR/spool/telegram/$1"; }
telegram_files() { find "$(TG "$1")" -type f 2>/dev/null | sort; }
telegram_count() { telegram_files "$1" | wc -l; }
# on_line USERNUM / off_line USERNUM [AGE]: the presence file a BBS touches.
on_line() { mkdir -p "$HOME_DIR/spool/presence" && touch "$HOME_DIR/spool/presence/$1"; }
stale() { mkdir -p "$HOME_DIR/spool/presence" && touch -d '-20 minutes' "$HOME_DIR/spool/presence/$1"; }
# The telegram file without its Date line (checked on its own).
without_date() { grep -v '^Date: ' "$1"; }

# verb FROM RCPT BODYLINES...: a whole transaction opened by verb.
transaction() {
  local verb="$1" rcpt="$2" line
  shift 2
  printf '%s\n' "$HELLO" "L $verb FROM:<a@example.org>" "R 250" "L RCPT TO:<$rcpt>" "R 250" "L DATA" "R 354"
  for line in "$@"; do printf 'L %s\n' "$line"; done
  printf '%s\n' "L ." "R 250" "L QUIT" "R 221"
}

@test "HELP lists SEND SOML SAML" {
  run chat <<'EOF2'
R 220
L EHLO client.example
R 250
L HELP
R 214
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"< 214-2.0.0 Commands: HELO EHLO AUTH MAIL RCPT DATA BDAT SEND SOML SAML RSET NOOP QUIT HELP VRFY ETRN"$'\n'* ]]
}

@test "SEND to a user on line: 250, the telegram stored with headers removed, no mail" {
  on_line 2
  run chat < <(transaction SEND demo@localhost "Subject: hi" "X-Other: y" "" "Hello demo," "  are you there?")
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"< 250 2.1.0 Ok"*"< 250 2.1.5 Ok"*"< 250 2.0.0 Ok: telegram delivered to 1 recipient(s)"* ]]
  [ "$(telegram_count 2)" -eq 1 ]
  f="$(telegram_files 2)"
  [ "$(without_date "$f")" = "$(printf 'From: <a@example.org>\n\nHello demo,\n  are you there?')" ]
  [ "$(sed -n 2p "$f" | grep -cE '^Date: [A-Z][a-z]{2}, [0-9]{1,2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} [+-][0-9]{4}$')" -eq 1 ]
  [ "$(stat -c %a "$f")" = 600 ]
  [ "$(incoming_count)" -eq 0 ]
  [ "$(tmp_count)" -eq 0 ]
  id="$(basename "$f")"
  grep -q "id=$id event=telegram cmd=SEND from=<a@example.org> rcpt=<demo@localhost> user=2 file=telegram/2/$id size=" "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  grep -q "session=[0-9]* id=$id event=telegram" "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}

@test "SEND: a message without header lines is all text" {
  on_line 2
  run chat < <(transaction SEND demo@localhost "just text: here" "second line")
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  # "just text: here" has a space before the colon: not a field name.
  [ "$(without_date "$(telegram_files 2)")" = "$(printf 'From: <a@example.org>\n\njust text: here\nsecond line')" ]
}

@test "SEND to a user off line (no presence file, or a stale one): 450 4.2.1 at RCPT" {
  run chat <<EOF2
$HELLO
L SEND FROM:<a@example.org>
R 250 2.1.0 Ok
L RCPT TO:<demo@localhost>
R 450
L RCPT TO:<sysop@localhost>
R 450
L DATA
R 554
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"< 450 4.2.1 User not logged in"*"< 450 4.2.1 User not logged in"*"< 554 5.5.1 No valid recipients"* ]]
  stale 2
  run chat <<EOF2
$HELLO
L SEND FROM:<a@example.org>
R 250
L RCPT TO:<demo@localhost>
R 450 User not logged in
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(telegram_count 2)" -eq 0 ]
  grep -q 'event=reject cmd=RCPT code=450 status=4.2.1 ip=127.0.0.1 reason="User not logged in"' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}

@test "SEND/SOML/SAML: only local users (unknown user: the resolver's 550; outside: 550 5.7.1)" {
  on_line 2
  run chat <<EOF2
$HELLO
L SEND FROM:<a@example.org>
R 250
L RCPT TO:<nobody@localhost>
R 550 5.1.1
L RCPT TO:<someone@example.net>
R 550 5.7.1
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"< 550 5.1.1 nobody: no such user here"* ]]
  # An alias to an outside address needs no relay rights, but is no user.
  echo "outside someone@example.net" > "$HOME_DIR/etc/alias.cfg"
  echo "dee demo" >> "$HOME_DIR/etc/alias.cfg"
  run chat <<EOF2
$HELLO
L SOML FROM:<a@example.org>
R 250
L RCPT TO:<outside@localhost>
R 550
L RCPT TO:<dee@localhost>
R 250
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"< 550 5.7.1 Telegrams only to local users"* ]]
  grep -q 'event=reject cmd=RCPT code=550 status=5.7.1 ip=127.0.0.1 reason="Telegrams only to local users"' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}

@test "SEND: syntax and sequence like MAIL" {
  run chat <<EOF2
$HELLO
L SEND TO:<a@example.org>
R 501
L SAML FROM:<a@example.org>
R 250
L SOML FROM:<a@example.org>
R 503
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"< 501 5.5.4 Syntax: SEND FROM:<address>"*"< 503 5.5.1 Nested MAIL command"* ]]
}

@test "SEND with BDAT: the same telegram" {
  on_line 2
  run chat <<EOF2
$HELLO
L SEND FROM:<a@example.org>
R 250
L RCPT TO:<demo@localhost>
R 250
S BDAT 16 LAST\r\nSubject: x\r\n\r\nhi
R 250 2.0.0 Ok: telegram delivered to 1 recipient(s)
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(without_date "$(telegram_files 2)")" = "$(printf 'From: <a@example.org>\n\nhi')" ]
  [ "$(incoming_count)" -eq 0 ]
}

@test "SOML: a telegram to a user on line, no mail" {
  on_line 2
  run chat < <(transaction SOML demo@localhost "" "ping")
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"< 250 2.0.0 Ok: telegram delivered to 1 recipient(s)"* ]]
  [ "$(without_date "$(telegram_files 2)")" = "$(printf 'From: <a@example.org>\n\nping')" ]
  [ "$(incoming_count)" -eq 0 ]
}

@test "SOML: mail (the normal spool path) to a user off line, no telegram" {
  stale 2
  run chat < <(transaction SOML demo@localhost "Subject: s" "" "ping")
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" =~ "< 250 2.0.0 Ok: queued as "[0-9a-f.]+$'\n' ]]
  [ "$(telegram_count 2)" -eq 0 ]
  [ "$(incoming_count)" -eq 1 ]
  [ "$(envelope_of "$(incoming_files)" | grep -c '^T ')" -eq 1 ]
  [ "$(message_of "$(incoming_files)")" = "$(printf 'Subject: s\n\nping')" ]
}

@test "SOML to two users: the one on line gets a telegram, the other mail" {
  on_line 1
  run chat <<EOF2
$HELLO
L SOML FROM:<a@example.org>
R 250
L RCPT TO:<sysop@localhost>
R 250
L RCPT TO:<demo@localhost>
R 250
L DATA
R 354
L hello both
L .
R 250 telegram delivered to 1 recipient(s)
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(telegram_count 1)" -eq 1 ]
  [ "$(telegram_count 2)" -eq 0 ]
  [ "$(envelope_of "$(incoming_files)" | grep '^T ')" = "T demo@localhost" ]
}

@test "SAML: a telegram and mail, on line or not" {
  on_line 2
  run chat < <(transaction SAML demo@localhost "Subject: s" "" "both ways")
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" =~ "< 250 2.0.0 Ok: queued as "[0-9a-f.]+", telegram delivered to 1 recipient(s)" ]]
  [ "$(without_date "$(telegram_files 2)")" = "$(printf 'From: <a@example.org>\n\nboth ways')" ]
  [ "$(incoming_count)" -eq 1 ]
  rm -f "$HOME_DIR/spool/presence/2"
  run chat < <(transaction SAML sysop@localhost "" "again")
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(telegram_count 1)" -eq 1 ]
  [ "$(incoming_count)" -eq 2 ]
}

@test "SEND: control characters are removed, LF kept, 8-bit text kept" {
  on_line 2
  run chat <<EOF2
$HELLO
L SEND FROM:<a@example.org>
R 250
L RCPT TO:<demo@localhost>
R 250
L DATA
R 354
S \x1b[2Jcls\x07 bell\ttab\x7fdel\x01\r\n
S caf\xc3\xa9\r\n
L .
R 250
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(without_date "$(telegram_files 2)")" = "$(printf 'From: <a@example.org>\n\n[2Jcls belltabdel\ncaf\xc3\xa9')" ]
}

@test "SEND/SAML: over 1024 octets of text is refused with 552 5.3.4, nothing kept" {
  on_line 2
  long="$(printf 'x%.0s' $(seq 1 99))"
  for verb in SEND SAML; do
    run chat <<EOF2
$HELLO
L $verb FROM:<a@example.org>
R 250
L RCPT TO:<demo@localhost>
R 250
L DATA
R 354
REP 11 $long\r\n
L .
R 552
L QUIT
R 221
EOF2
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [[ "$output" == *"< 552 5.3.4 Telegram too long (more than 1024 octets of text)"* ]]
  done
  [ "$(telegram_count 2)" -eq 0 ]
  [ "$(incoming_count)" -eq 0 ]
  [ "$(tmp_count)" -eq 0 ]
  # SOML to a user off line: mail only, no limit.
  rm -f "$HOME_DIR/spool/presence/2"
  run chat < <(transaction SOML demo@localhost $(for i in $(seq 1 11); do echo "$long"; done))
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" =~ "< 250 2.0.0 Ok: queued as "[0-9a-f.]+$'\n' ]]
  [ "$(incoming_count)" -eq 1 ]
  on_line 2
  # 10 lines of 99 + LF = 1000 octets: stored.
  run chat < <(transaction SEND demo@localhost $(for i in $(seq 1 10); do echo "$long"; done))
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(telegram_count 2)" -eq 1 ]
}

@test "bbsmail-telegram shows the telegrams oldest first and removes them; -k keeps" {
  mkdir -p "$(TG 2)"
  printf 'From: <b@example.org>\nDate: x\n\nsecond\n' > "$(TG 2)/b"
  printf 'From: <a@example.org>\nDate: x\n\nfirst' > "$(TG 2)/z"
  touch -d '-2 minutes' "$(TG 2)/z"
  run bbsmail-telegram -k demo
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'From: <a@example.org>\nDate: x\n\nfirst\n\nFrom: <b@example.org>\nDate: x\n\nsecond')" ]
  [ "$(telegram_count 2)" -eq 2 ]
  run bbsmail-telegram 2
  [ "$status" -eq 0 ]
  [ "${lines[3]}" = "From: <b@example.org>" ]
  [ "$(telegram_count 2)" -eq 0 ]
  run bbsmail-telegram demo
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run bbsmail-telegram nosuchuser
  [ "$status" -eq 100 ]
  [ "$output" = "bbsmail-telegram: fatal: no such user: nosuchuser" ]
  run bbsmail-telegram
  [ "$status" -eq 100 ]
}

@test "deliver-local: a NewMailNotice telegram per delivery, from MAILER-DAEMON" {
  inject 1 demo
  run_stages 2>/dev/null
  [ "$(mailbox_count 2)" -eq 1 ]
  [ "$(telegram_count 2)" -eq 1 ]
  f="$(telegram_files 2)"
  [[ "$(basename "$f")" == mail.* ]]
  [ "$(without_date "$f")" = "$(printf 'From: <MAILER-DAEMON@localhost>\n\nNew e-mail from <tester@localhost>')" ]
  [ "$(telegram_count 1)" -eq 0 ]
  shown="$(cat "$f")"
  run bbsmail-telegram demo
  [ "$status" -eq 0 ]
  [ "$output" = "$shown" ]
  [ "$(telegram_count 2)" -eq 0 ]
}

@test "deliver-local: a rerun of the same job rewrites the same notice, not a second one" {
  inject 1 demo
  "$LIBEXEC/route" 2>/dev/null
  job="$(ls "$(SPOOL)/queue/local")"
  save_job "$job"
  "$LIBEXEC/deliver-local" 2>/dev/null
  [ "$(telegram_count 2)" -eq 1 ]
  [ "$(basename "$(telegram_files 2)")" = "mail.$job" ]
  restore_job "$job"
  run "$LIBEXEC/deliver-local"
  [ "$status" -eq 0 ]
  [[ "$output" == *"result=already-delivered"* ]]
  [[ "$output" == *"id=$job event=notice user=2 file=telegram/2/mail.$job"* ]]
  [ "$(telegram_count 2)" -eq 1 ]
  [ "$(mailbox_count 2)" -eq 1 ]
}

@test "deliver-local: no notice with NO_NOTIFY" {
  set_options "ALLOW_POP3 | NO_SENDMAIL | NO_NOTIFY"
  inject 1 demo
  run_stages 2>/dev/null
  [ "$(mailbox_count 2)" -eq 1 ]
  [ "$(telegram_count 2)" -eq 0 ]
}

@test "NewMailNotice is data: %n%n%s is harmless, %s once, %% is %, \\r dropped" {
  printf 'NewMailNotice = %%n%%n%%s got %%s 100%%%% %%d\\r\\nline2\n' >> "$HOME_DIR/etc/mail.ini"
  grep -q '^NewMailNotice = %n%n%s got %s 100%% %d\\r\\nline2$' "$HOME_DIR/etc/mail.ini"
  inject 1 demo
  run_stages 2>/dev/null
  [ "$(mailbox_count 2)" -eq 1 ]
  [ "$(without_date "$(telegram_files 2)")" = "$(printf 'From: <MAILER-DAEMON@localhost>\n\n%%n%%ntester@localhost got %%s 100%% %%d\nline2')" ]
}

@test "route: a user's forwarded mail gives the user NewMailNotice + ForwardNotice" {
  bbsmail-user set demo --forward demo@elsewhere.example --flags forward
  inject 1 demo
  run "$LIBEXEC/route"
  [ "$status" -eq 0 ]
  job="$(ls "$(SPOOL)/queue/remote")"
  [[ "$output" == *"id=$job event=notice user=2 file=telegram/2/forward.$job"* ]]
  [ "$(telegram_count 2)" -eq 1 ]
  [ "$(without_date "$(telegram_files 2)")" = "$(printf 'From: <MAILER-DAEMON@localhost>\n\nNew e-mail from <tester@localhost>\nand it was forwarded to: demo@elsewhere.example')" ]
  [ "$(mailbox_count 2)" -eq 0 ]
}

@test "route: ForwardNotice is data too (%n harmless, %s once)" {
  bbsmail-user set demo --forward demo@elsewhere.example --flags forward
  printf 'ForwardNotice = %%n fwd %%s %%s\\n\n' >> "$HOME_DIR/etc/mail.ini"
  inject 1 demo
  run "$LIBEXEC/route"
  [ "$status" -eq 0 ]
  job="$(ls "$(SPOOL)/queue/remote")"
  [[ "$output" == *"id=$job event=notice user=2 file=telegram/2/forward.$job"* ]]
  [ "$(telegram_count 2)" -eq 1 ]
  [ "$(without_date "$(telegram_files 2)")" = "$(printf 'From: <MAILER-DAEMON@localhost>\n\nNew e-mail from <tester@localhost>\n%%n fwd demo@elsewhere.example %%s')" ]
  [ "$(mailbox_count 2)" -eq 0 ]
}

@test "route: no forward notice with NO_NOTIFY; none for mail that is not a user's" {
  set_options "ALLOW_POP3 | NO_SENDMAIL | NO_NOTIFY"
  bbsmail-user set demo --forward demo@elsewhere.example --flags forward
  inject 1 demo
  "$LIBEXEC/route" 2>/dev/null
  [ "$(job_count remote)" -eq 1 ]
  [ "$(telegram_count 2)" -eq 0 ]
  set_options "ALLOW_POP3 | NO_SENDMAIL"
  inject 2 someone@example.net
  "$LIBEXEC/route" 2>/dev/null
  [ "$(job_count remote)" -eq 2 ]
  [ -z "$(find "$HOME_DIR/spool/telegram" -type f)" ]
}
