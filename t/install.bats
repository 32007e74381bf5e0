#!/usr/bin/env bats
# make install's layout (scripts/install-files): the installed commands
# find the installed stages and deliver end to end.
load helper

@test "installed tree: every program, page and default file in place; runq finds libexec/bbsmail" {
  make_home
  dest="$BATS_TEST_TMPDIR/dest"
  run "$BBSMAIL_ROOT/scripts/install-files" "$dest" /usr/local
  [ "$status" -eq 0 ]
  for p in smtpd pop3d route deliver-local; do [ -x "$dest/usr/local/libexec/bbsmail/$p" ]; done
  for p in runq sendmail mailq bbsmail-user bbsmail-config; do [ -x "$dest/usr/local/bin/$p" ]; done
  [ -f "$dest/usr/local/share/man/man8/smtpd.8" ]
  [ -f "$dest/usr/local/share/man/man5/mail.ini.5" ]
  [ -f "$dest/usr/local/share/bbsmail/etc/mail.ini" ]
  printf 'Subject: installed\n\nvia the installed tree\n' | "$dest/usr/local/bin/sendmail" demo@localhost
  run "$dest/usr/local/bin/runq"
  [ "$status" -eq 0 ]
  [ "$(mailbox_count 2)" -eq 1 ]
  [ "$(tail -n 1 "$(mailbox_files 2)")" = "via the installed tree" ]
}
