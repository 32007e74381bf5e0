#!/usr/bin/env bats
# The SMTP path parser and the shared recipient resolver (src/lib/address.c,
# src/lib/resolve.c), driven through small C drivers with exact outputs.
load helper

resolve() { "$BBSMAIL_ROOT/build/t/resolve-test" "$@"; }
parse() { "$BBSMAIL_ROOT/build/t/address-test" "$@"; }

setup() {
  make_home "DefaultUser ="
  bbsmail-user add "Rob Swindell" --password x >/dev/null          # user 3
  bbsmail-user add carol --alias "Carol Q" --password x >/dev/null  # user 4
  bbsmail-user add away --password x --forward away@elsewhere.example --flags forward >/dev/null # 5
  bbsmail-user add gone --password x --flags disabled >/dev/null    # 6
  printf '; comment\ncnnreport sub:dove-deb\nhelpdesk carol\nouter helpdesk\nloop1 loop2\nloop2 loop1\nexternal friend@far.example\n' > "$HOME_DIR/etc/alias.cfg"
  printf 'bbs.example\nOther.Example.\n' > "$HOME_DIR/etc/db/localnames"
}

@test "address: plain, null path, parameters kept" {
  run parse '<demo@localhost> SIZE=100'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "ok demo@localhost|SIZE=100" ]
  [ "${lines[1]}" = "split demo|localhost" ]
  run parse '<>'
  [ "${lines[0]}" = "ok |" ]
}

@test "address: source route dropped, quoted local part kept and unquoted by split" {
  run parse '<@a.example,@b.example:user@c.example>'
  [ "${lines[0]}" = "ok user@c.example|" ]
  run parse '<"user@other"@localhost>'
  [ "${lines[0]}" = 'ok "user@other"@localhost|' ]
  [ "${lines[1]}" = 'split user@other|localhost' ]
}

@test "address: malformed input gets a precise reason" {
  run parse 'demo@localhost'
  [ "$output" = "error address must be enclosed in <>" ]
  run parse -s 'demo@localhost'
  [ "${lines[0]}" = "ok demo@localhost|" ]
  run parse $'<de\x01mo@localhost>'
  [ "$output" = "error control characters in address" ]
  run parse $'<d\xc3\xa9mo@localhost>'
  [ "$output" = "error 8-bit characters in address need SMTPUTF8" ]
  run parse -u $'<d\xc3\xa9mo@localhost>'
  [ "${lines[0]}" = $'ok d\xc3\xa9mo@localhost|' ]
  run parse '<demo@bad..domain>'
  [ "$output" = "error malformed domain" ]
  run parse "<$(printf 'a%.0s' $(seq 1 65))@localhost>"
  [ "$output" = "error local part too long" ]
  run parse '<demo@localhost'
  [ "$output" = "error malformed address" ]
  run parse '<@a.example:>'
  [ "$output" = "error empty local part" ]
}

@test "resolve: users by name, alias, dotted name, case-insensitively" {
  run resolve demo@localhost DEMO@LOCALHOST "carol q@bbs.example" rob.swindell@localhost Rob_Swindell@other.example
  [ "${lines[0]}" = "demo@localhost -> local user=2 target=- relay=0" ]
  [ "${lines[1]}" = "DEMO@LOCALHOST -> local user=2 target=- relay=0" ]
  [ "${lines[2]}" = "carol q@bbs.example -> local user=4 target=- relay=0" ]
  [ "${lines[3]}" = "rob.swindell@localhost -> local user=3 target=- relay=0" ]
  [ "${lines[4]}" = "Rob_Swindell@other.example -> local user=3 target=- relay=0" ]
}

@test "resolve: unknown user, postmaster, sysop aliases, numbers" {
  run resolve nobody@localhost postmaster Postmaster@localhost abuse@localhost 2@localhost
  [ "${lines[0]}" = "nobody@localhost -> reject 550 5.1.1 relay=0 nobody: no such user here" ]
  [ "${lines[1]}" = "postmaster -> local user=1 target=- relay=0" ]
  [ "${lines[2]}" = "Postmaster@localhost -> local user=1 target=- relay=0" ]
  [ "${lines[3]}" = "abuse@localhost -> local user=1 target=- relay=0" ]
  [ "${lines[4]}" = "2@localhost -> reject 550 5.1.1 relay=0 2: no such user here" ]
  set_mail_key Options "ALLOW_RX_BY_NUMBER"
  run resolve 2@localhost abuse@localhost postmaster@localhost
  [ "${lines[0]}" = "2@localhost -> local user=2 target=- relay=0" ]
  [ "${lines[1]}" = "abuse@localhost -> reject 550 5.1.1 relay=0 abuse: no such user here" ]
  [ "${lines[2]}" = "postmaster@localhost -> local user=1 target=- relay=0" ]
}

@test "resolve: DefaultUser takes unknown names" {
  set_mail_key DefaultUser carol
  run resolve whoever@localhost
  [ "$output" = "whoever@localhost -> local user=4 target=- relay=0" ]
}

@test "resolve: alias.cfg chains, loops and external targets" {
  run resolve outer@localhost loop1@localhost external@localhost cnnreport@localhost
  [ "${lines[0]}" = "outer@localhost -> local user=4 target=- relay=0" ]
  [ "${lines[1]}" = "loop1@localhost -> reject 550 5.4.6 relay=0 loop2: alias loop" ]
  [ "${lines[2]}" = "external@localhost -> remote user=0 target=friend@far.example relay=0" ]
  [ "${lines[3]}" = "cnnreport@localhost -> reject 550 5.1.1 relay=0 sub:dove-deb: no such sub-board" ]
}

@test "resolve: forwarding users, local: and forward: prefixes, disabled users" {
  run resolve away@localhost local:away@localhost forward:away@localhost forward:demo@localhost gone@localhost
  [ "${lines[0]}" = "away@localhost -> remote user=5 target=away@elsewhere.example relay=0" ]
  [ "${lines[1]}" = "local:away@localhost -> local user=5 target=- relay=0" ]
  [ "${lines[2]}" = "forward:away@localhost -> remote user=5 target=away@elsewhere.example relay=0" ]
  [ "${lines[3]}" = "forward:demo@localhost -> reject 550 5.1.1 relay=0 demo: no forward address" ]
  [ "${lines[4]}" = "gone@localhost -> reject 550 5.2.1 relay=0 gone: mailbox disabled" ]
}

@test "resolve: #tags pass unless listed in the user's .smtptags" {
  printf 'spammed\n' > "$HOME_DIR/spool/data/user/2.smtptags"
  run resolve demo#shop@localhost demo#SPAMMED@localhost
  [ "${lines[0]}" = "demo#shop@localhost -> local user=2 target=- relay=0" ]
  [ "${lines[1]}" = "demo#SPAMMED@localhost -> reject 550 5.1.1 relay=0 demo#SPAMMED: no such user here (tag disabled)" ]
}

@test "resolve: every relay trick is refused or marked as relay" {
  run resolve "user%far.example@localhost" '"user@far.example"@localhost' "other!user@localhost" \
    "user@far.example" "user@[127.0.0.1]" "user@far.example@localhost"
  [ "${lines[0]}" = "user%far.example@localhost -> reject 550 5.7.1 relay=1 user%far.example: relaying denied" ]
  [ "${lines[1]}" = '"user@far.example"@localhost -> reject 550 5.7.1 relay=1 user@far.example: relaying denied' ]
  [ "${lines[2]}" = "other!user@localhost -> reject 550 5.1.2 relay=0 other!user: unknown QWK network node" ]
  [ "${lines[3]}" = "user@far.example -> remote user=0 target=user@far.example relay=1" ]
  [ "${lines[4]}" = "user@[127.0.0.1] -> remote user=0 target=user@[127.0.0.1] relay=1" ]
  [ "${lines[5]}" = "user@far.example@localhost -> reject 550 5.7.1 relay=1 user@far.example: relaying denied" ]
}

@test "resolve: FidoNet addresses are parsed, refused until FidoNet is configured" {
  run resolve rob.swindell@f705.n103.z1.fidonet bad@x.fidonet
  [ "${lines[0]}" = "rob.swindell@f705.n103.z1.fidonet -> reject 550 5.1.2 relay=0 rob.swindell@f705.n103.z1.fidonet: FidoNet netmail is not configured here" ]
  [ "${lines[1]}" = "bad@x.fidonet -> reject 553 5.1.3 relay=0 bad@x.fidonet: malformed FidoNet address" ]
}

@test "resolve: alias.cfg and localnames take CRLF and a last line without LF; a long or NUL line is skipped with file:line" {
  long=$(printf '%5000s' '' | tr ' ' a)
  printf '; comment\r\nhelpdesk carol\r\n%s carol\nbad\0alias carol\nlast carol' "$long" > "$HOME_DIR/etc/alias.cfg"
  printf 'bbs.example\r\nend.example' > "$HOME_DIR/etc/db/localnames"
  out=$(resolve helpdesk@localhost last@end.example bad@localhost 2>"$BATS_TEST_TMPDIR/err")
  [ "$out" = $'helpdesk@localhost -> local user=4 target=- relay=0\nlast@end.example -> local user=4 target=- relay=0\nbad@localhost -> reject 550 5.1.1 relay=0 bad: no such user here' ]
  [ "$(cat "$BATS_TEST_TMPDIR/err")" = "resolve-test: warning: $HOME_DIR/etc/alias.cfg:3: line longer than 4096 bytes, line skipped
resolve-test: warning: $HOME_DIR/etc/alias.cfg:4: NUL byte in line, line skipped" ]
}

@test "resolve: .smtptags takes blanks and CRLF; an unreadable one defers the tagged recipient" {
  printf '  spammed \r\nother' > "$HOME_DIR/spool/data/user/2.smtptags"
  run resolve demo#spammed@localhost demo#other@localhost demo#shop@localhost
  [ "${lines[0]}" = "demo#spammed@localhost -> reject 550 5.1.1 relay=0 demo#spammed: no such user here (tag disabled)" ]
  [ "${lines[1]}" = "demo#other@localhost -> reject 550 5.1.1 relay=0 demo#other: no such user here (tag disabled)" ]
  [ "${lines[2]}" = "demo#shop@localhost -> local user=2 target=- relay=0" ]
  rm "$HOME_DIR/spool/data/user/2.smtptags"
  mkdir "$HOME_DIR/spool/data/user/2.smtptags"
  out=$(resolve demo#shop@localhost demo@localhost 2>"$BATS_TEST_TMPDIR/err")
  [ "$out" = $'demo#shop@localhost -> tempfail\ndemo@localhost -> local user=2 target=- relay=0' ]
  [ "$(cat "$BATS_TEST_TMPDIR/err")" = "resolve-test: warning: unable to read $HOME_DIR/spool/data/user/2.smtptags: Is a directory" ]
}
