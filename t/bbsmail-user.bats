#!/usr/bin/env bats
# bin/bbsmail-user: the user database commands, their exact output, their
# refusals (exit 100) and an unusable database (exit 111).
# build/t/userdb-check says what a receiver would decide for a password.

load helper

CHECK="$BBSMAIL_ROOT/build/t/userdb-check"
U() { "$BBSMAIL_ROOT/bin/bbsmail-user" "$@"; }

setup() { make_home; }

@test "init builds the spool skeleton and the database, twice without harm" {
  d="$BATS_TEST_TMPDIR/fresh"
  mkdir "$d"
  run U -d "$d" init
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run U -d "$d" init
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  for sub in tmp incoming queue/local queue/remote trash bad mailbox data; do
    [ -d "$d/spool/$sub" ]
  done
  [ -p "$d/spool/trigger" ]
  [ -f "$d/spool/data/users.gdbm" ]
  [ "$(stat -c %a "$d/spool/data")" = 700 ]
  [ "$(stat -c %a "$d/spool/data/users.gdbm")" = 600 ]
  run U -d "$d" list
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "-d DIR wins over BBSMAIL_HOME" {
  d="$BATS_TEST_TMPDIR/other"
  mkdir "$d"
  U -d "$d" init
  run U -d "$d" add only --password x
  [ "$status" -eq 0 ]
  [ "$output" = 1 ]
  run U -d "$d" list
  [ "$output" = "$(printf '1\tonly\t\t\t')" ]
  run U list
  [ "$output" = "$(printf '1\tsysop\t\t\t\n2\tdemo\t\t\t')" ]
}

@test "add prints the new number; list is tab-separated number name alias forward flags" {
  run U add bob --alias Robert --password pw --forward bob@remote.example --flags forward,mail-exempt
  [ "$status" -eq 0 ]
  [ "$output" = 3 ]
  run U list
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '1\tsysop\t\t\t\n2\tdemo\t\t\t\n3\tbob\tRobert\tbob@remote.example\tmail-exempt,forward')" ]
}

@test "show prints key: value lines and never a hash or secret" {
  U add bob --alias Robert --password pw --forward bob@remote.example --flags forward >/dev/null
  U apop bob --secret apopsecret
  run U show bob
  [ "$status" -eq 0 ]
  [ "$output" = "number: 3
name: bob
alias: Robert
forward: bob@remote.example
flags: forward
password: set
cram-md5: set
apop: set" ]
  [[ "$output" != *pbkdf2* && "$output" != *apopsecret* ]]
  run U show 3
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = "name: bob" ]
  run U show robert
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "number: 3" ]
  run U show SYSOP
  [ "$output" = "number: 1
name: sysop
alias:
forward:
flags:
password: set
cram-md5: set
apop: none" ]
}

@test "a user without a password has none, and no login" {
  run U add guest
  [ "$status" -eq 0 ]
  [ "$output" = 3 ]
  run U show guest
  [ "${lines[5]}" = "password: none" ]
  [ "${lines[6]}" = "cram-md5: none" ]
  run "$CHECK" guest anything
  [ "$status" -eq 0 ]
  [ "$output" = "login none
cram-md5 none" ]
}

@test "duplicate names and aliases are refused, case-insensitively (exit 100)" {
  run U add SYSOP --password x
  [ "$status" -eq 100 ]
  [ "$output" = "bbsmail-user: fatal: name or alias already in use: SYSOP" ]
  run U add carol --alias Demo
  [ "$status" -eq 100 ]
  [ "$output" = "bbsmail-user: fatal: name or alias already in use: carol, Demo" ]
  U add carol --alias Caz >/dev/null
  run U add caz
  [ "$status" -eq 100 ]
  run U set demo --alias CAROL
  [ "$status" -eq 100 ]
  run U list
  [ "${#lines[@]}" -eq 3 ]
}

@test "bad names are refused with the rule (exit 100)" {
  rule="1-25 printable characters, not all digits, none of / @ : # ! % < > \" , ; or backslash, and no leading or trailing space"
  run U add 'a/b'
  [ "$status" -eq 100 ]
  [ "$output" = "bbsmail-user: fatal: invalid user name 'a/b': $rule" ]
  run U add $'a\x01b'
  [ "$status" -eq 100 ]
  [ "$output" = "bbsmail-user: fatal: invalid user name 'a\\x01b': $rule" ]
  run U add abcdefghijklmnopqrstuvwxyz
  [ "$status" -eq 100 ]
  run U add 12345
  [ "$status" -eq 100 ]
  for bad in '' ' lead' 'trail ' 'a@b' 'a:b' 'a#b' $'a\tb' $'caf\xc3\xa9'; do
    run U add "$bad"
    [ "$status" -eq 100 ]
    [[ "$output" == "bbsmail-user: fatal: invalid user name"* ]]
  done
  run U add demo2 --alias 'x/y'
  [ "$status" -eq 100 ]
  [[ "$output" == "bbsmail-user: fatal: invalid alias 'x/y': "* ]]
  run U add abcdefghijklmnopqrstuvwxy
  [ "$status" -eq 0 ]
  [ "$output" = 3 ]
  run U add 'Joe Q. Sysop2'
  [ "$status" -eq 0 ]
  [ "$output" = 4 ]
  run U list
  [ "${#lines[@]}" -eq 4 ]
}

@test "bad flags and forward addresses are refused (exit 100)" {
  run U add x --flags mail-exempt,bogus
  [ "$status" -eq 100 ]
  [ "$output" = "bbsmail-user: fatal: unknown flag in 'mail-exempt,bogus': known flags are mail-exempt, forward, disabled" ]
  run U add x --flags forward
  [ "$status" -eq 100 ]
  [ "$output" = "bbsmail-user: fatal: flag forward needs a forward address (--forward ADDR)" ]
  for bad in no-at-sign '@example.org' 'user@' 'a b@example.org' $'a@b\r\nRCPT TO:<c@d>' '<a@example.org>' $'a\x7f@b'; do
    run U add x --forward "$bad"
    [ "$status" -eq 100 ]
    [[ "$output" == "bbsmail-user: fatal: invalid forward address"* ]]
  done
  run U list
  [ "${#lines[@]}" -eq 2 ]
}

@test "--number picks the number; later users continue after it; numbers are never reused" {
  run U add carol --number 10
  [ "$status" -eq 0 ]
  [ "$output" = 10 ]
  run U add dave
  [ "$output" = 11 ]
  run U add erin --number 10
  [ "$status" -eq 100 ]
  [ "$output" = "bbsmail-user: fatal: user number 10 already in use" ]
  for bad in 0 abc -3 10x 99999999999; do
    run U add erin --number "$bad"
    [ "$status" -eq 100 ]
    [[ "$output" == "bbsmail-user: fatal: invalid user number '$bad'"* ]]
  done
  U del dave
  run U add erin
  [ "$output" = 12 ]
}

@test "passwd changes the login and the CRAM-MD5 states" {
  run "$CHECK" demo demo
  [ "$status" -eq 0 ]
  [ "$output" = "login ok
cram-md5 ok" ]
  run U passwd demo --password 'n3w pass'
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run "$CHECK" demo 'n3w pass'
  [ "$output" = "login ok
cram-md5 ok" ]
  run "$CHECK" demo demo
  [ "$output" = "login bad
cram-md5 bad" ]
  run U passwd 2 --password again
  [ "$status" -eq 0 ]
  run "$CHECK" demo again
  [ "$output" = "login ok
cram-md5 ok" ]
  # sysop is untouched
  run "$CHECK" sysop demo
  [ "$output" = "login ok
cram-md5 ok" ]
}

@test "--password-stdin reads one line (LF or CRLF) and refuses an empty one" {
  run bash -c "printf 'from stdin\n' | '$BBSMAIL_ROOT/bin/bbsmail-user' add eve --password-stdin"
  [ "$status" -eq 0 ]
  [ "$output" = 3 ]
  run "$CHECK" eve 'from stdin'
  [ "$output" = "login ok
cram-md5 ok" ]
  run bash -c "printf 'crlf pass\r\n' | '$BBSMAIL_ROOT/bin/bbsmail-user' passwd eve --password-stdin"
  [ "$status" -eq 0 ]
  run "$CHECK" eve 'crlf pass'
  [ "${lines[0]}" = "login ok" ]
  run bash -c "printf '\n' | '$BBSMAIL_ROOT/bin/bbsmail-user' passwd eve --password-stdin"
  [ "$status" -eq 100 ]
  [ "$output" = "bbsmail-user: fatal: empty password" ]
  run bash -c "head -c 2000 /dev/zero | tr '\\0' x | '$BBSMAIL_ROOT/bin/bbsmail-user' passwd eve --password-stdin"
  [ "$status" -eq 100 ]
  [ "$output" = "bbsmail-user: fatal: password longer than 1024 bytes" ]
  run "$CHECK" eve 'crlf pass'
  [ "${lines[0]}" = "login ok" ]
}

@test "--no-cram keeps no CRAM-MD5 states" {
  run U add frank --password pw --no-cram
  [ "$status" -eq 0 ]
  run "$CHECK" frank pw
  [ "$output" = "login ok
cram-md5 none" ]
  U passwd demo --password other --no-cram
  run U show demo
  [ "${lines[5]}" = "password: set" ]
  [ "${lines[6]}" = "cram-md5: none" ]
  U passwd demo --password other
  run "$CHECK" demo other
  [ "$output" = "login ok
cram-md5 ok" ]
}

@test "passwd needs exactly one password source" {
  run U passwd demo
  [ "$status" -eq 100 ]
  [ "$output" = "bbsmail-user: fatal: give exactly one of --password or --password-stdin" ]
  run U passwd demo --password a --password-stdin
  [ "$status" -eq 100 ]
  run U passwd demo --password ''
  [ "$status" -eq 100 ]
  [ "$output" = "bbsmail-user: fatal: empty password" ]
  run U passwd nobody --password a
  [ "$status" -eq 100 ]
  [ "$output" = "bbsmail-user: fatal: no such user: nobody" ]
  run "$CHECK" demo demo
  [ "${lines[0]}" = "login ok" ]
}

@test "apop stores a separate secret and leaves the login alone" {
  run U apop demo --secret 'tanstaaf'
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run "$CHECK" demo demo tanstaaf
  [ "$output" = "login ok
cram-md5 ok
apop ok" ]
  run "$CHECK" demo demo demo
  [ "${lines[2]}" = "apop bad" ]
  run bash -c "printf 'piped\n' | '$BBSMAIL_ROOT/bin/bbsmail-user' apop 2 --secret-stdin"
  [ "$status" -eq 0 ]
  run "$CHECK" demo demo piped
  [ "${lines[2]}" = "apop ok" ]
  run U apop demo --clear
  [ "$status" -eq 0 ]
  run U show demo
  [ "${lines[7]}" = "apop: none" ]
  run U apop demo
  [ "$status" -eq 100 ]
  [ "$output" = "bbsmail-user: fatal: give exactly one of --secret, --secret-stdin or --clear" ]
  run U apop demo --secret x --clear
  [ "$status" -eq 100 ]
  run U apop demo --secret $'tab\there'
  [ "$status" -eq 100 ]
  [ "$output" = "bbsmail-user: fatal: APOP secret must be printable ASCII" ]
}

@test "set changes alias, forward, flags and name" {
  run U set demo --alias Dee --forward demo@elsewhere.example --flags forward
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run U list
  [ "${lines[1]}" = "$(printf '2\tdemo\tDee\tdemo@elsewhere.example\tforward')" ]
  run U set dee --name Dora
  [ "$status" -eq 0 ]
  run U show demo
  [ "$status" -eq 100 ]
  [ "$output" = "bbsmail-user: fatal: no such user: demo" ]
  run U show dora
  [ "${lines[0]}" = "number: 2" ]
  [ "${lines[1]}" = "name: Dora" ]
  run "$CHECK" Dora demo
  [ "${lines[0]}" = "login ok" ]
  # the old name is free again
  run U add demo
  [ "$status" -eq 0 ]
  [ "$output" = 3 ]
  # clearing the forward address while the flag is on is refused
  run U set Dora --forward ''
  [ "$status" -eq 100 ]
  run U set Dora --forward '' --flags '' --alias ''
  [ "$status" -eq 0 ]
  run U list
  [ "${lines[1]}" = "$(printf '2\tDora\t\t\t')" ]
  run U set Dora --name sysop
  [ "$status" -eq 100 ]
  run U set Dora
  [ "$status" -eq 100 ]
  [ "$output" = "bbsmail-user: fatal: nothing to set: give --alias, --forward, --flags or --name" ]
  run U set Dora --name 'bad/name'
  [ "$status" -eq 100 ]
}

@test "del removes the record and both names" {
  U set demo --alias Dee
  run U del demo
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run U list
  [ "$output" = "$(printf '1\tsysop\t\t\t')" ]
  run U show dee
  [ "$status" -eq 100 ]
  run U del demo
  [ "$status" -eq 100 ]
  [ "$output" = "bbsmail-user: fatal: no such user: demo" ]
  run U del 1
  [ "$status" -eq 0 ]
  run U list
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run U add dee
  [ "$status" -eq 0 ]
  [ "$output" = 3 ]
}

@test "bad command lines print the usage and exit 100" {
  run U
  [ "$status" -eq 100 ]
  [ "$output" = "bbsmail-user: usage: bbsmail-user [-d DIR] init|add|del|passwd|apop|set|show|list [ARGS]" ]
  run U frobnicate
  [ "$status" -eq 100 ]
  run U add
  [ "$status" -eq 100 ]
  [[ "$output" == "bbsmail-user: usage: bbsmail-user [-d DIR] add NAME "* ]]
  run U add x --secret y
  [ "$status" -eq 100 ]
  run U add x y
  [ "$status" -eq 100 ]
  run U add x --alias
  [ "$status" -eq 100 ]
  run U add x --alias a --alias b
  [ "$status" -eq 100 ]
  run U list extra
  [ "$status" -eq 100 ]
  [ "$output" = "bbsmail-user: usage: bbsmail-user [-d DIR] list" ]
  run U show 99
  [ "$status" -eq 100 ]
  [ "$output" = "bbsmail-user: fatal: no such user: 99" ]
  run U list
  [ "${#lines[@]}" -eq 2 ]
}

@test "an unusable database is a temporary failure (exit 111)" {
  d="$BATS_TEST_TMPDIR/broken"
  mkdir -p "$d/spool"
  : > "$d/spool/data"          # a file where the directory should be
  for cmd in list "show sysop" "add x"; do
    run U -d "$d" $cmd
    [ "$status" -eq 111 ]
    [ "$output" = "bbsmail-user: fatal: unable to open $d/spool/data/users.gdbm: Not a directory" ]
  done
  run U -d "$d" init
  [ "$status" -eq 111 ]
  e="$BATS_TEST_TMPDIR/never-initialised"
  mkdir "$e"
  run U -d "$e" list
  [ "$status" -eq 111 ]
  [ "$output" = "bbsmail-user: fatal: unable to open $e/spool/data/users.gdbm: No such file or directory" ]
  # not a GDBM file at all
  head -c 4096 /dev/urandom > "$HOME_DIR/spool/data/users.gdbm"
  run U list
  [ "$status" -eq 111 ]
  [[ "$output" == "bbsmail-user: fatal: unable to open $HOME_DIR/spool/data/users.gdbm: "* ]]
}
