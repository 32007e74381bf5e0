#!/usr/bin/env bats
# The src/lib unit drivers (t/drivers/*.c, built into build/t/).  Each exits 0
# when every check passed and prints the failed checks otherwise.

load helper
bats_require_minimum_version 1.5.0

# stdout holds the failed checks; stderr may hold a sanitizer's notes, which
# count only through the exit status.
unit() {
  run --separate-stderr timeout 20 "$BBSMAIL_ROOT/build/t/$1"
  echo "$output"
  echo "$stderr"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "buf: growth, binary safety, refused overflow (EOVERFLOW)" {
  # The sanitizer build must return NULL for an impossible allocation
  # instead of aborting, as the real allocator does.
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1" unit buf-test
}

@test "record: round trip, CR/LF/NUL refused, strict reader (EBADMSG)" {
  unit record-test
}

@test "conn: line cap (ERANGE), unterminated line (EPROTO), timeouts, pipelining" {
  unit conn-test
}

@test "config: mail.ini and smtpserver.conf" {
  TMPDIR="$BATS_TEST_TMPDIR" unit config-test
}

@test "password: PBKDF2 verify, CRAM-MD5 against RFC 2195 and HMAC-MD5" {
  unit password-test
}

@test "envelope: round trip with recipient fields; garbage is EBADMSG" {
  unit envelope-test
}

@test "userdb: numbering, unique names and aliases, rename, delete, corrupt record" {
  TMPDIR="$BATS_TEST_TMPDIR" unit userdb-test
}

@test "listfile: comments, CRLF, last line without LF, line cap, NUL, missing and unreadable files" {
  TMPDIR="$BATS_TEST_TMPDIR" unit listfile-test
}

@test "ipkey: one canonical key per client address (IPv4-mapped, IPv6 spellings), non-literals refused; authvia and loginfail agree" {
  export BBSMAIL_HOME="$BATS_TEST_TMPDIR/home"
  mkdir -p "$BBSMAIL_HOME/etc" "$BBSMAIL_HOME/spool/data"
  unit ipkey-test
  [ -f "$BBSMAIL_HOME/spool/data/authvia.gdbm" ]
  [ -f "$BBSMAIL_HOME/spool/data/logins.gdbm" ]
}

@test "log: log_quote keeps safe values bare, quotes the rest; session prefix; line escapes" {
  unit log-test
}

@test "date: RFC 5322 dates by arithmetic (leap days, year boundary, before 1970), against gmtime_r" {
  unit date-test
}

@test "schedule: the ETRN / runq -D domain matcher (exact, @subdomains, targets, retry floor)" {
  unit schedule-test
}
