#!/usr/bin/env bats
# The compiled form of list files (src/lib/listcache.c, antispam(5)): the
# same answers as the line-by-line parse for a table of entries and
# queries, a changed source noticed at the next use (edit, append, rename,
# same-size edit), concurrent rebuilds, a 100,000-entry file that is not
# read again, and the fallback when the form cannot be written.  Queries
# go through t/drivers/hostlist-query.c.
load helper
load lib/session
bats_require_minimum_version 1.5.0

DATA="$BBSMAIL_ROOT/t/data/hostlist"
QUERY="$BBSMAIL_ROOT/build/t/hostlist-query"

setup() {
  H="$BATS_TEST_TMPDIR/home"
  mkdir -p "$H/etc" "$H/spool/data"
}

# Waits past the one second in which a just-written source is parsed line
# by line (its change time is too recent to be told from a later write).
settle() { sleep 1.2; }

query() { timeout 60 "$QUERY" -d "$H" "$@"; }

# The form of a list is spool/data/lists/<name>.<kind>.
form() { echo "$H/spool/data/lists/$1.$2"; }

@test "compiled: the table of entries and queries gives the same answers as the direct parse" {
  cp "$DATA"/*.cfg "$DATA/ip.can" "$H/etc/"
  cut -f1 "$DATA/queries" > "$BATS_TEST_TMPDIR/expected"
  cut -f2- "$DATA/queries" > "$BATS_TEST_TMPDIR/q"
  query -m direct < "$BATS_TEST_TMPDIR/q" > "$BATS_TEST_TMPDIR/direct" 2>/dev/null
  diff "$BATS_TEST_TMPDIR/expected" "$BATS_TEST_TMPDIR/direct"
  settle
  query -m compiled < "$BATS_TEST_TMPDIR/q" > "$BATS_TEST_TMPDIR/compiled" 2> "$BATS_TEST_TMPDIR/err1"
  diff "$BATS_TEST_TMPDIR/expected" "$BATS_TEST_TMPDIR/compiled"
  [ -f "$(form client.cfg client)" ]
  [ -f "$(form address.cfg address)" ]
  [ -f "$(form subject.cfg pattern)" ]
  [ -f "$(form ip.can ipcan)" ]
  # Answered from the forms now built: the same again.
  query -m compiled < "$BATS_TEST_TMPDIR/q" > "$BATS_TEST_TMPDIR/again" 2> "$BATS_TEST_TMPDIR/err2"
  diff "$BATS_TEST_TMPDIR/expected" "$BATS_TEST_TMPDIR/again"
  # Malformed lines are logged once, at the build, with file and line.
  [ "$(grep -c 'client.cfg:18: not an address or network: 192.0.2.300 (skipped)' "$BATS_TEST_TMPDIR/err1")" -eq 1 ]
  [ "$(grep -c 'client.cfg:25: line longer than 4096 bytes, line skipped' "$BATS_TEST_TMPDIR/err1")" -eq 1 ]
  [ "$(grep -c 'client.cfg:26: NUL byte in line, line skipped' "$BATS_TEST_TMPDIR/err1")" -eq 1 ]
  [ "$(grep -c 'client.cfg:29: not an address or network: 2001:db8:1::/129 (skipped)' "$BATS_TEST_TMPDIR/err1")" -eq 1 ]
  [ "$(grep -c 'event=list-compiled' "$BATS_TEST_TMPDIR/err1")" -eq 8 ]
  [ ! -s "$BATS_TEST_TMPDIR/err2" ]
}

@test "compiled: small files are parsed directly under the size rule, long ones compiled" {
  cp "$DATA/address.cfg" "$H/etc/small.cfg"
  for i in $(seq 1 1000); do echo "user$i@long.example"; done > "$H/etc/long.cfg"
  settle
  run -0 --separate-stderr query -m auto <<< $'address etc/small.cfg friend@example.org\naddress etc/long.cfg user1000@long.example\naddress etc/long.cfg user1001@long.example'
  [ "$output" = $'1\n1\n0' ]
  [ ! -e "$(form small.cfg address)" ]
  [ -f "$(form long.cfg address)" ]
}

@test "compiled: an edit, an append, a replacement by rename and a same-size edit are seen at the next use" {
  printf 'a1@x.example\nb1@x.example\n' > "$H/etc/e.cfg"
  settle
  run -0 --separate-stderr query -m compiled <<< 'address etc/e.cfg b1@x.example'
  [ "$output" = 1 ]
  # A longer file, at once (no settling): the new entry counts.
  printf 'a1@x.example\nb1@x.example\nc1@x.example\n' > "$H/etc/e.cfg"
  run -0 --separate-stderr query -m compiled <<< $'address etc/e.cfg c1@x.example\naddress etc/e.cfg b1@x.example'
  [ "$output" = $'1\n1' ]
  # The same size, in place, within the same moment.
  printf 'a1@x.example\nb2@x.example\nc1@x.example\n' | dd of="$H/etc/e.cfg" conv=notrunc status=none
  run -0 --separate-stderr query -m compiled <<< $'address etc/e.cfg b2@x.example\naddress etc/e.cfg b1@x.example'
  [ "$output" = $'1\n0' ]
  # Settled, the rebuilt form agrees.
  settle
  run -0 --separate-stderr query -m compiled <<< $'address etc/e.cfg b2@x.example\naddress etc/e.cfg b1@x.example'
  [ "$output" = $'1\n0' ]
  # A same-size edit of a settled, compiled file, then a lookup at once.
  printf 'a1@x.example\nb3@x.example\nc1@x.example\n' | dd of="$H/etc/e.cfg" conv=notrunc status=none
  run -0 --separate-stderr query -m compiled <<< $'address etc/e.cfg b3@x.example\naddress etc/e.cfg b2@x.example'
  [ "$output" = $'1\n0' ]
  settle
  run -0 --separate-stderr query -m compiled <<< 'address etc/e.cfg b3@x.example'
  [ "$output" = 1 ]
  # Replaced by rename, with the same size.
  printf 'a1@x.example\nb4@x.example\nc1@x.example\n' > "$H/etc/e.new"
  mv "$H/etc/e.new" "$H/etc/e.cfg"
  run -0 --separate-stderr query -m compiled <<< $'address etc/e.cfg b4@x.example\naddress etc/e.cfg b3@x.example'
  [ "$output" = $'1\n0' ]
  settle
  run -0 --separate-stderr query -m compiled <<< $'address etc/e.cfg b4@x.example\naddress etc/e.cfg b3@x.example'
  [ "$output" = $'1\n0' ]
  # Removed: nobody is listed.
  rm "$H/etc/e.cfg"
  run -0 --separate-stderr query -m compiled <<< 'address etc/e.cfg b4@x.example'
  [ "$output" = 0 ]
}

@test "compiled: hostlist_append (spam bait) is seen by the very next lookup" {
  for i in $(seq 1 2000); do echo "10.9.$((i / 250)).$((i % 250))"; done > "$H/etc/spamblock.cfg"
  settle
  run -0 --separate-stderr query -m auto <<< $'client etc/spamblock.cfg 10.9.0.7 -\nclient etc/spamblock.cfg 192.0.2.77 -'
  [ "$output" = $'1\n0' ]
  [ -f "$(form spamblock.cfg client)" ]
  # Each append, and the lookup right after it, in new processes.
  for ip in 192.0.2.77 192.0.2.78 192.0.2.79; do
    run -0 --separate-stderr query -m auto <<< "append etc/spamblock.cfg $ip"
    [ "$output" = 1 ]
    run -0 --separate-stderr query -m auto <<< "client etc/spamblock.cfg $ip -"
    [ "$output" = 1 ]
  done
  settle
  run -0 --separate-stderr query -m auto <<< $'client etc/spamblock.cfg 192.0.2.78 -\nclient etc/spamblock.cfg 192.0.2.80 -'
  [ "$output" = $'1\n0' ]
}

@test "compiled: ten processes rebuilding at once agree, log no error and leave no temporary file" {
  for i in $(seq 1 20000); do echo "host$i.many.example"; done > "$H/etc/many.cfg"
  settle
  local i pids=()
  for i in $(seq 1 10); do
    printf 'client etc/many.cfg - host%d.many.example\nclient etc/many.cfg - nohost.many.example\n' "$((i * 1999))" \
      | query -m compiled > "$BATS_TEST_TMPDIR/out$i" 2> "$BATS_TEST_TMPDIR/err$i" &
    pids+=($!)
    track_pid $!
  done
  for i in "${pids[@]}"; do wait "$i"; done
  for i in $(seq 1 10); do
    [ "$(cat "$BATS_TEST_TMPDIR/out$i")" = $'1\n0' ]
    ! grep -v 'event=list-compiled' "$BATS_TEST_TMPDIR/err$i"
  done
  [ -f "$(form many.cfg client)" ]
  [ "$(ls "$H/spool/data/lists")" = "many.cfg.client" ]
}

@test "compiled: a 100,000-entry file is compiled once; the next lookups open only the form, once a process" {
  command -v strace >/dev/null || skip "strace is not installed"
  python3 -c '
for i in range(100000):
    print("10.%d.%d.0/24" % (i // 250, i % 250) if i % 2 else "user%d@big.example" % i)' > "$H/etc/big.cfg"
  settle
  run -0 --separate-stderr query -m auto <<< $'client etc/big.cfg 10.20.33.9 -\naddress etc/big.cfg user400@big.example'
  [ "$output" = $'1\n1' ]
  printf 'client etc/big.cfg 10.20.33.9 -\nclient etc/big.cfg 10.20.34.9 -\naddress etc/big.cfg user4@big.example\naddress etc/big.cfg user5@big.example\n' > "$BATS_TEST_TMPDIR/q"
  # LeakSanitizer cannot run under ptrace (a SANITIZE=1 build).
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" timeout 60 strace -f -e trace=openat -o "$BATS_TEST_TMPDIR/trace" "$QUERY" -d "$H" -m auto < "$BATS_TEST_TMPDIR/q" > "$BATS_TEST_TMPDIR/out"
  [ "$(cat "$BATS_TEST_TMPDIR/out")" = $'1\n0\n1\n0' ]
  ! grep 'etc/big.cfg"' "$BATS_TEST_TMPDIR/trace"
  [ "$(grep -c 'lists/big.cfg.client"' "$BATS_TEST_TMPDIR/trace")" -eq 1 ]
  [ "$(grep -c 'lists/big.cfg.address"' "$BATS_TEST_TMPDIR/trace")" -eq 1 ]
}

@test "compiled: a form kept open by a process is dropped when its source changes" {
  for i in $(seq 1 1000); do echo "user$i@long.example"; done > "$H/etc/long.cfg"
  settle
  run timeout 60 python3 - "$QUERY" "$H" <<'EOF'
import subprocess, sys, time
q = subprocess.Popen([sys.argv[1], "-d", sys.argv[2], "-m", "compiled"], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
def ask(line):
    q.stdin.write(line + "\n"); q.stdin.flush()
    return q.stdout.readline().strip()
print(ask("address etc/long.cfg new@long.example"), ask("address etc/long.cfg user7@long.example"))
with open(sys.argv[2] + "/etc/long.cfg", "a") as f:
    f.write("new@long.example\n")
time.sleep(1.2)   # past the settling second, so the change is compiled
print(ask("address etc/long.cfg new@long.example"), ask("address etc/long.cfg user7@long.example"))
q.stdin.close(); q.wait()
EOF
  [ "$status" -eq 0 ]
  [ "$output" = $'0 1\n1 1' ] || { echo "$output"; false; }
}

@test "compiled: when the form cannot be written the file is parsed, with one warning a process" {
  for i in $(seq 1 1000); do echo "user$i@long.example"; done > "$H/etc/long.cfg"
  # A file where the directory of forms should be (this also works as root).
  : > "$H/spool/data/lists"
  settle
  run --separate-stderr query -m auto <<< $'address etc/long.cfg user7@long.example\naddress etc/long.cfg user0@long.example'
  [ "$status" -eq 0 ]
  [ "$output" = $'1\n0' ]
  [ "$(grep -c 'warning: unable to write the compiled form of etc/long.cfg: .*Not a directory.*line by line' <<< "$stderr")" -eq 1 ]
  [ "$(wc -l <<< "$stderr")" -eq 1 ]
  # The next process (session) says it again.
  run --separate-stderr query -m auto <<< 'address etc/long.cfg user8@long.example'
  [ "$output" = 1 ]
  [ "$(grep -c 'warning: unable to write the compiled form of etc/long.cfg' <<< "$stderr")" -eq 1 ]
}

@test "compiled: a damaged form is rebuilt" {
  for i in $(seq 1 1000); do echo "user$i@long.example"; done > "$H/etc/long.cfg"
  settle
  run -0 --separate-stderr query -m auto <<< 'address etc/long.cfg user9@long.example'
  [ "$output" = 1 ]
  head -c 100 /dev/urandom > "$(form long.cfg address)"
  run --separate-stderr query -m auto <<< $'address etc/long.cfg user9@long.example\naddress etc/long.cfg user0@long.example'
  [ "$status" -eq 0 ]
  [ "$output" = $'1\n0' ]
  [ "$(grep -c 'event=list-compiled' <<< "$stderr")" -eq 1 ]
}

@test "compiled: smtpd with long lists: a spam bait's append to a compiled spamblock.cfg refuses the very next session" {
  make_home
  H="$HOME_DIR"
  for i in $(seq 1 2000); do echo "10.9.$((i / 250)).$((i % 250))/32"; done > "$H/etc/spamblock.cfg"
  { for i in $(seq 1 1000); do echo "bait$i@localhost"; done; echo 'bait@localhost'; } > "$H/etc/spambait.cfg"
  for i in $(seq 1 1000); do echo "*blocked subject $i*"; done > "$H/etc/subject.can"
  settle
  start_smtpd
  printf 'From: a@far.example\nSubject: my blocked subject 77 here\n\nbody\n' > "$BATS_TEST_TMPDIR/m"
  run session 127.0.0.2 'EHLO client.example' 'MAIL FROM:<s@far.example>' 'RCPT TO:<demo@localhost>' "DATA:$BATS_TEST_TMPDIR/m" QUIT
  [ "${lines[0]:0:4}" = "220 " ]
  [ "${lines[5]}" = "554 5.7.1 Message refused: subject blocked" ]
  [ -f "$(form spamblock.cfg client)" ]
  [ -f "$(form subject.can pattern)" ]
  run session 127.0.0.2 'EHLO client.example' 'MAIL FROM:<s@far.example>' 'RCPT TO:<bait@localhost>' "DATA:$BATS_TEST_TMPDIR/m" QUIT
  [ "${lines[3]}" = "250 2.1.5 Ok" ]
  [ -f "$(form spambait.cfg address)" ]
  [ "$(grep -c '^127\.0\.0\.2$' "$H/etc/spamblock.cfg")" -eq 1 ]
  run session 127.0.0.2 QUIT
  [ "${lines[0]}" = "554 5.7.1 Access denied (spamblock.cfg)" ]
  # Settled, the rebuilt form refuses it too; another client is greeted.
  settle
  run session 127.0.0.2 QUIT
  [ "${lines[0]}" = "554 5.7.1 Access denied (spamblock.cfg)" ]
  run session 127.0.0.3 QUIT
  [ "${lines[0]:0:4}" = "220 " ]
  [ "$(grep -c 'event=list-compiled file=etc/spamblock.cfg' "$BATS_TEST_TMPDIR/SMTP_PORT.log")" -eq 2 ]
}
