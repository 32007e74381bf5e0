#!/usr/bin/env bats
# A home prepared by scripts/set-permissions, served by an unprivileged mail
# user: smtpd and pop3d under tcpserver -u/-g, the stages under setpriv,
# sendmail setgid to the drop group for a plain local user; and what a
# plain user (or a drop-group member) is refused.  CI runs as root: the
# users and group are made here and removed in teardown_file.

load helper
load lib/stages

setup_file() {
  local tag="$$"
  echo "bbsmt-mail-$tag bbsmt-drop-$tag bbsmt-plain-$tag" > "$BATS_FILE_TMPDIR/names"
  groupadd "bbsmt-drop-$tag"
  useradd -M -U -s /usr/sbin/nologin "bbsmt-mail-$tag"
  useradd -M -N -g nogroup -s /usr/sbin/nologin "bbsmt-plain-$tag"
}

teardown_file() {
  local mail drop plain
  read -r mail drop plain < "$BATS_FILE_TMPDIR/names"
  userdel "$mail" 2>/dev/null || true
  userdel "$plain" 2>/dev/null || true
  groupdel "$mail" 2>/dev/null || true
  groupdel "$drop" 2>/dev/null || true
}

setup() {
  read -r MAIL_USER DROP_GROUP PLAIN_USER < "$BATS_FILE_TMPDIR/names"
  HOME_ROOT="$(mktemp -d /tmp/bbsmt-priv.XXXXXX)"
  chmod 0755 "$HOME_ROOT"
  BATS_TEST_TMPDIR="$HOME_ROOT" make_home
  run "$BBSMAIL_ROOT/scripts/set-permissions" -u "$MAIL_USER" -g "$DROP_GROUP" "$HOME_DIR"
  [ "$status" -eq 0 ]
  [ "$output" = "set-permissions: $HOME_DIR: owner $MAIL_USER, spool/drop $MAIL_USER:$DROP_GROUP 3730" ]
  MAIL_UID="$(id -u "$MAIL_USER")" MAIL_GID="$(id -g "$MAIL_USER")"
}

teardown() {
  kill_tracked
  rm -rf "$HOME_ROOT"
}

as_mail() { setpriv --reuid "$MAIL_USER" --regid "$MAIL_USER" --init-groups "$@"; }
as_plain() { setpriv --reuid "$PLAIN_USER" --regid nogroup --clear-groups "$@"; }
as_member() { setpriv --reuid "$PLAIN_USER" --regid nogroup --groups "$DROP_GROUP" "$@"; }

@test "set-permissions: owners and modes of the home" {
  [ "$(stat -c '%U %a' "$HOME_DIR")" = "$MAIL_USER 755" ]
  [ "$(stat -c '%U %G %a' "$HOME_DIR/etc")" = "$MAIL_USER $DROP_GROUP 750" ]
  [ "$(stat -c '%U %G %a' "$HOME_DIR/etc/mail.ini")" = "$MAIL_USER $DROP_GROUP 640" ]
  [ "$(stat -c '%U %G %a' "$HOME_DIR/etc/smtpserver.conf")" = "$MAIL_USER $MAIL_USER 640" ]
  [ "$(stat -c '%U %a' "$HOME_DIR/spool")" = "$MAIL_USER 711" ]
  [ "$(stat -c '%U %G %a' "$HOME_DIR/spool/drop")" = "$MAIL_USER $DROP_GROUP 3730" ]
  [ "$(stat -c '%U %a' "$HOME_DIR/spool/drop-bad")" = "$MAIL_USER 700" ]
  [ "$(stat -c '%U %a' "$HOME_DIR/spool/data")" = "$MAIL_USER 700" ]
  [ "$(stat -c '%U %a' "$HOME_DIR/spool/incoming")" = "$MAIL_USER 700" ]
  [ "$(find "$HOME_DIR" ! -user "$MAIL_USER" | wc -l)" -eq 0 ]
}

@test "set-permissions: refuses a mail user in the drop group, and a home without etc/ and spool/" {
  run "$BBSMAIL_ROOT/scripts/set-permissions" -u "$MAIL_USER" -g "$MAIL_USER" "$HOME_DIR"
  [ "$status" -eq 100 ]
  [ "$output" = "set-permissions: fatal: $MAIL_USER is in $MAIL_USER: it could not read the drop files" ]
  run "$BBSMAIL_ROOT/scripts/set-permissions" -u "$MAIL_USER" -g "$DROP_GROUP" "$HOME_ROOT"
  [ "$status" -eq 100 ]
}

@test "privileges: a plain user and a drop-group member are refused the spool, the user database and etc/" {
  for who in as_plain as_member; do
    run $who sh -c "echo x >> '$HOME_DIR/spool/data/users.gdbm'"
    [ "$status" -ne 0 ]
    run $who cat "$HOME_DIR/spool/data/users.gdbm"
    [ "$status" -ne 0 ]
    run $who sh -c "echo x > '$HOME_DIR/etc/alias.cfg'"
    [ "$status" -ne 0 ]
    run $who sh -c "echo x > '$HOME_DIR/spool/incoming/planted'"
    [ "$status" -ne 0 ]
    run $who sh -c "echo x > '$HOME_DIR/spool/tmp/planted'"
    [ "$status" -ne 0 ]
    run $who ls "$HOME_DIR/spool/drop"
    [ "$status" -ne 0 ]
    run $who ls "$HOME_DIR/spool/mailbox"
    [ "$status" -ne 0 ]
  done
  run as_plain cat "$HOME_DIR/etc/mail.ini"
  [ "$status" -ne 0 ]
  run as_plain sh -c "echo x > '$HOME_DIR/spool/drop/planted'"
  [ "$status" -ne 0 ]
  [ "$(find "$HOME_DIR/spool" -name planted | wc -l)" -eq 0 ]
}

@test "privileges: smtpd and pop3d under tcpserver -u/-g as the mail user, the stages under setpriv: accepted, delivered, fetched" {
  port="$(free_port)"
  tcpserver -u "$MAIL_UID" -g "$MAIL_GID" -c 10 -H -R -l localhost 127.0.0.1 "$port" "$LIBEXEC/smtpd" \
    2>>"$BATS_TEST_TMPDIR/smtpd.log" &
  track_pid $!
  wait_port "$port"
  run python3 - "$port" <<'EOF'
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=30)
s.sendmail('tester@example.org', ['demo@localhost'], 'Subject: unprivileged\r\n\r\nover smtp\r\n')
s.quit()
EOF
  [ "$status" -eq 0 ]
  [ "$(stat -c '%U' "$(find "$HOME_DIR/spool/incoming" -type f)")" = "$MAIL_USER" ]
  run as_mail "$BBSMAIL_ROOT/bin/runq"
  [ "$status" -eq 0 ]
  [ "$(mailbox_count 2)" -eq 1 ]
  [ "$(stat -c '%U' "$(mailbox_files 2)")" = "$MAIL_USER" ]
  pport="$(free_port)"
  tcpserver -u "$MAIL_UID" -g "$MAIL_GID" -c 10 -H -R -l localhost 127.0.0.1 "$pport" "$LIBEXEC/pop3d" \
    2>>"$BATS_TEST_TMPDIR/pop3d.log" &
  track_pid $!
  wait_port "$pport"
  run python3 - "$pport" <<'EOF'
import poplib, sys
p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=30)
p.user('demo'); p.pass_('demo')
count, _ = p.stat()
lines = p.retr(1)[1]
p.dele(1); p.quit()
print(count, lines[-1].decode())
EOF
  [ "$status" -eq 0 ]
  [ "$output" = "1 over smtp" ]
  [ "$(mailbox_count 2)" -eq 0 ]
}

@test "privileges: a plain user's setgid sendmail on a prepared home: dropped, picked up and delivered by the mail user's runq" {
  uid="$(id -u "$PLAIN_USER")"
  mkdir -m 0755 "$HOME_ROOT/sbin"
  cp "$BBSMAIL_ROOT/bin/sendmail" "$HOME_ROOT/sbin/sendmail"
  chgrp "$DROP_GROUP" "$HOME_ROOT/sbin/sendmail"
  chmod 2755 "$HOME_ROOT/sbin/sendmail"
  printf 'Subject: local\n\nfrom a local user\n' > "$HOME_ROOT/msg"
  # LeakSanitizer cannot run in a set-id process: a SANITIZE=1 build is run
  # with the drop group as a supplementary group instead of setgid.
  groups=(--clear-groups)
  ! grep -q __asan_init "$HOME_ROOT/sbin/sendmail" || { groups=(--groups "$DROP_GROUP"); chmod g-s "$HOME_ROOT/sbin/sendmail"; }
  run setpriv --reuid "$PLAIN_USER" --regid nogroup "${groups[@]}" "$HOME_ROOT/sbin/sendmail" demo < "$HOME_ROOT/msg"
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^sendmail:\ info:\ event=drop\ name=[0-9a-f.]+\ rcpt=1\ uid=$uid$ ]]
  run as_mail "$BBSMAIL_ROOT/bin/runq"
  [ "$status" -eq 0 ]
  [ "$(mailbox_count 2)" -eq 1 ]
  grep -qx "From: $PLAIN_USER@localhost" "$(mailbox_files 2)"
  [ "$(tail -n 1 "$(mailbox_files 2)")" = "from a local user" ]
}

@test "install-files: sendmail setgid to the drop group when it exists (as root), plain and said so when not" {
  run env BBSMAIL_DROP_GROUP="$DROP_GROUP" "$BBSMAIL_ROOT/scripts/install-files" "$HOME_ROOT/dest" /usr/local
  [ "$status" -eq 0 ]
  [[ "$output" == *"sendmail: setgid $DROP_GROUP"* ]]
  [ "$(stat -c '%G %a' "$HOME_ROOT/dest/usr/local/bin/sendmail")" = "$DROP_GROUP 2755" ]
  [ -x "$HOME_ROOT/dest/usr/local/share/bbsmail/set-permissions" ]
  run env BBSMAIL_DROP_GROUP=bbsmt-no-such-group "$BBSMAIL_ROOT/scripts/install-files" "$HOME_ROOT/dest2" /usr/local
  [ "$status" -eq 0 ]
  [[ "$output" == *"sendmail: installed without setgid (no group bbsmt-no-such-group, or not root)"* ]]
  [ "$(stat -c '%a' "$HOME_ROOT/dest2/usr/local/bin/sendmail")" = "755" ]
}
