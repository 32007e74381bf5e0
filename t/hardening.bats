#!/usr/bin/env bats
# Every program make builds (the ELF files in libexec/ and bin/) is
# hardened: position-independent (static-pie for the receivers and
# tlsproxy), full RELRO, no executable stack, stack canaries in its own code,
# and (smtpd, pop3d, tlsproxy) glibc's checked *_chk calls.  Static binaries carry libc and libcrypto,
# which define __stack_chk_fail and the *_chk functions whatever flags our
# code had, so the last two checks look for calls to them from functions of
# our own objects (build/), in the disassembly.

load helper

# The checks read only files; no home, no server.
setup_file() {
  local f
  : > "$BATS_FILE_TMPDIR/elves"
  for f in "$BBSMAIL_ROOT"/libexec/* "$BBSMAIL_ROOT"/bin/*; do
    [ -f "$f" ] && readelf -h "$f" > /dev/null 2>&1 && echo "$f" >> "$BATS_FILE_TMPDIR/elves"
  done
  return 0
}

setup() { mapfile -t ELVES < "$BATS_FILE_TMPDIR/elves"; }

# callers BIN ERE: the addresses of the functions of BIN that call or jump
# to a symbol matching ERE; the disassembly is made once per binary.
callers() {
  local dis="$BATS_FILE_TMPDIR/$(basename "$1").dis"
  [ -s "$dis" ] || objdump -d --no-show-raw-insn "$1" > "$dis"
  awk -v re="$2" '
    /^[0-9a-f]+ <.*>:$/ { f = $1; next }
    ($2 == "call" || $2 == "jmp") && $NF ~ re { print f }' "$dis" | sort -u
}

# own_functions NAME: the global functions defined by the objects linked
# into NAME (its own directory and src/lib).
own_functions() {
  nm --defined-only "$BBSMAIL_ROOT"/build/"$1"/*.o "$BBSMAIL_ROOT"/build/lib/*.o |
    awk '$2 == "T" { print $3 }' | sort -u
}

# own_callers BIN ERE: how many of our functions in BIN call ERE.  Names
# alone could be libcrypto's (it has a static conn_read of its own), so a
# function counts by address: a global symbol of BIN, named like one of ours.
own_callers() {
  own_functions "$(basename "$1")" > "$BATS_TEST_TMPDIR/own"
  callers "$1" "$2" > "$BATS_TEST_TMPDIR/callers"
  nm --defined-only "$1" | awk '
    FILENAME == ARGV[1] { own[$1] = 1; next }
    FILENAME == ARGV[2] { called[$1] = 1; next }
    $2 == "T" && ($3 in own) && ($1 in called) { n++ }
    END { print n + 0 }' "$BATS_TEST_TMPDIR/own" "$BATS_TEST_TMPDIR/callers" -
}

is_sanitized() { readelf -sW "$1" | grep -q ' __asan_init'; }

@test "hardening: libexec/smtpd, libexec/pop3d and the other programs are built ELF files" {
  run printf '%s\n' "${ELVES[@]}"
  [[ "$output" == *"/libexec/smtpd"* ]]
  [[ "$output" == *"/libexec/pop3d"* ]]
  [[ "$output" == *"/libexec/tlsproxy"* ]]
  [[ "$output" == *"/libexec/route"* ]]
  [[ "$output" == *"/bin/runq"* ]]
}

@test "hardening: every program is position-independent (ELF type DYN)" {
  local f bad=()
  for f in "${ELVES[@]}"; do
    readelf -hW "$f" | grep -Eq '^ *Type: +DYN ' || bad+=("$f")
  done
  echo "not PIE: ${bad[*]}"
  [ ${#bad[@]} -eq 0 ]
}

@test "hardening: every program has full RELRO (GNU_RELRO and BIND_NOW)" {
  local f bad=()
  for f in "${ELVES[@]}"; do
    readelf -lW "$f" | grep -q '^ *GNU_RELRO ' &&
      readelf -dW "$f" | grep -Eq '\(FLAGS\) +.*BIND_NOW|\(FLAGS_1\) +Flags:.* NOW' ||
      bad+=("$f")
  done
  echo "no full RELRO: ${bad[*]}"
  [ ${#bad[@]} -eq 0 ]
}

@test "hardening: no program asks for an executable stack (GNU_STACK RW)" {
  local f flags bad=()
  for f in "${ELVES[@]}"; do
    flags="$(readelf -lW "$f" | awk '$1 == "GNU_STACK" { print $7 }')"
    [ "$flags" = RW ] || bad+=("$f:${flags:-none}")
  done
  echo "stack not RW: ${bad[*]}"
  [ ${#bad[@]} -eq 0 ]
}

@test "hardening: every program's own code has stack canaries (calls __stack_chk_fail)" {
  local f n bad=()
  for f in "${ELVES[@]}"; do
    n="$(own_callers "$f" '^<__stack_chk_fail(@plt)?>$')"
    [ "$n" -gt 0 ] || bad+=("$f")
  done
  echo "no canary in our functions: ${bad[*]}"
  [ ${#bad[@]} -eq 0 ]
}

@test "hardening: smtpd, pop3d and tlsproxy call glibc's checked *_chk functions (fortify)" {
  local f n bad=()
  is_sanitized "$LIBEXEC/smtpd" && skip "a SANITIZE=1 build: ASan does not support _FORTIFY_SOURCE, the Makefile leaves it off"
  for f in "$LIBEXEC/smtpd" "$LIBEXEC/pop3d" "$LIBEXEC/tlsproxy"; do
    n="$(own_callers "$f" '^<__[a-z0-9_]+_chk(@plt)?>$')"
    [ "$n" -gt 0 ] || bad+=("$f")
  done
  echo "no fortified call in our functions: ${bad[*]}"
  [ ${#bad[@]} -eq 0 ]
}
