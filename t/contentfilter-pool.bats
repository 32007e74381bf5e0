#!/usr/bin/env bats
# libexec/contentfilter-pool: contentfilter-maxpar prestarted content
# filters shared by every smtpd session on spool/contentfilter.sock.  The
# python3 filter answers by the message's Subject, as in
# t/smtpd-contentfilter.bats, and records its pid when it starts and for
# each message it judges.
load helper
load lib/session

setup() {
  make_home
  FILTER="$BATS_TEST_TMPDIR/filter dir/filter"   # a space: execve, never a shell
  mkdir -p "${FILTER%/*}"
  cat > "$FILTER" <<'PY'
#!/usr/bin/python3
import os, sys, time
here = os.path.dirname(sys.argv[0])
open(os.path.join(here, "started"), "a").write("%d\n" % os.getpid())
log = open(os.path.join(here, "seen"), "a")
answers = {"reject": "-1 550 5.7.1 Not wanted here", "accept": "0", "freeze": "1"}
while True:
    sys.stdout.write("#hungry\n"); sys.stdout.flush()
    path = sys.stdin.readline()
    if not path:
        sys.exit(0)
    data = open(path.rstrip("\n")).read()
    subject = [l[9:] for l in data.split("\n") if l.startswith("Subject: ")][0]
    log.write("%d %s\n" % (os.getpid(), subject)); log.flush()
    if subject == "crash":
        os._exit(3)
    if subject == "hang":
        time.sleep(300)
    if subject == "garbage":
        sys.stdout.write("hello there\n"); sys.stdout.flush(); continue
    time.sleep(0.3)   # long enough that six sessions at once queue
    sys.stdout.write("# thinking\n" + answers[subject] + "\n"); sys.stdout.flush()
PY
  chmod 755 "$FILTER"
  SOCK="$HOME_DIR/spool/contentfilter.sock"
  POOL_LOG="$BATS_TEST_TMPDIR/pool.log"
}

# start_pool TIMEOUT: the pool with two filters, both waiting for work.
start_pool() {
  printf 'PARAM contentfilter %s\nPARAM contentfilter-maxpar 2\nPARAM contentfilter-timeout %s\n' \
    "$FILTER" "$1" > "$HOME_DIR/etc/smtpserver.conf"
  "$LIBEXEC/contentfilter-pool" 2>>"$POOL_LOG" &
  POOL_PID=$!
  track_pid "$POOL_PID"
  local i
  for i in $(seq 1 200); do
    [ -S "$SOCK" ] && [ "$(grep -c . "${FILTER%/*}/started" 2>/dev/null)" = 2 ] && return 0
    sleep 0.05
  done
  echo "pool never became ready" >&2
  return 1
}

# send SUBJECT...: one session, one message per subject.
send() {
  local cmds=('EHLO client.example') i=0 subject tag
  tag="$(date +%s%N)$$$RANDOM"
  for subject in "$@"; do
    i=$((i + 1))
    printf 'From: a@far.example\nSubject: %s\n\nbody %s\n' "$subject" "$i" > "$BATS_TEST_TMPDIR/m$tag.$i"
    cmds+=('MAIL FROM:<a@far.example>' 'RCPT TO:<demo@localhost>' "DATA:$BATS_TEST_TMPDIR/m$tag.$i")
  done
  session 127.0.0.1 "${cmds[@]}" QUIT
}

started() { cat "${FILTER%/*}/started"; }
seen() { cat "${FILTER%/*}/seen"; }
frozen() { find "$HOME_DIR/spool/freezer" -type f 2>/dev/null; }
unavailable="451 4.7.1 Content filter unavailable, try again later"

@test "contentfilter-pool: six sessions at once, two prestarted filters judge them all" {
  start_pool 20
  start_smtpd
  [ "$(stat -c %a "$SOCK")" = 600 ]
  local subjects=(reject accept freeze reject accept freeze) pids=() i
  for i in 0 1 2 3 4 5; do
    send "${subjects[$i]}" > "$BATS_TEST_TMPDIR/out$i" &
    pids+=($!)
    track_pid $!
  done
  for i in 0 1 2 3 4 5; do wait "${pids[$i]}"; done
  for i in 0 3; do [ "$(sed -n 6p "$BATS_TEST_TMPDIR/out$i")" = "550 5.7.1 Not wanted here" ]; done
  for i in 1 2 4 5; do [[ "$(sed -n 6p "$BATS_TEST_TMPDIR/out$i")" == "250 2.0.0 Ok: queued as "* ]]; done
  [ "$(spooled | wc -l)" -eq 2 ]
  [ "$(frozen | wc -l)" -eq 2 ]
  run seen
  [ "${#lines[@]}" -eq 6 ]
  # The two filters started before the sessions judged every message:
  # the first two sessions cannot have gone to the same one.
  [ "$(cut -d' ' -f1 <<< "$output" | sort -u | wc -l)" -eq 2 ]
  [ "$(cut -d' ' -f1 <<< "$output" | sort -u)" = "$(started | sort -u)" ]
  [ "$(grep -c 'event=contentfilter-start' "$POOL_LOG")" -eq 2 ]
  ! grep -q 'event=contentfilter-start' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  [ -z "$(ls "$HOME_DIR/spool/tmp")" ]
  ! grep -qE 'runtime error|Sanitizer' "$POOL_LOG"
}

@test "contentfilter-pool: a crash fails that message 451 4.7.1; the filter is restarted, the next judged" {
  start_pool 20
  start_smtpd
  run send crash accept
  [ "${lines[5]}" = "$unavailable" ]
  [[ "${lines[9]}" == "250 2.0.0 Ok: queued as "* ]]
  grep -q 'event=contentfilter-fail pid=[0-9]* reason=eof: filter restarted' "$POOL_LOG"
  grep -q 'event=contentfilter-fail reason=pool: filter stopped' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  for i in $(seq 1 100); do
    [ "$(grep -c 'event=contentfilter-start' "$POOL_LOG")" -eq 3 ] && break
    sleep 0.1
  done
  [ "$(grep -c 'event=contentfilter-start' "$POOL_LOG")" -eq 3 ]
  run send garbage accept
  [ "${lines[5]}" = "$unavailable" ]
  [[ "${lines[9]}" == "250 2.0.0 Ok: queued as "* ]]
  grep -q 'reason=bad-reply: filter restarted' "$POOL_LOG"
  [ "$(spooled | wc -l)" -eq 2 ]
}

@test "contentfilter-pool: a hanging filter is killed at contentfilter-timeout and restarted" {
  start_pool 3
  start_smtpd
  start=$(date +%s)
  run send hang accept
  [ "${lines[5]}" = "$unavailable" ]
  [[ "${lines[9]}" == "250 2.0.0 Ok: queued as "* ]]
  [ $(( $(date +%s) - start )) -lt 30 ]
  grep -q 'reason=timeout: filter restarted' "$POOL_LOG"
  run seen
  hung="${lines[0]%% *}"
  ! kill -0 "$hung" 2>/dev/null
  for i in $(seq 1 100); do
    [ "$(grep -c 'event=contentfilter-start' "$POOL_LOG")" -eq 3 ] && break
    sleep 0.1
  done
  [ "$(grep -c 'event=contentfilter-start' "$POOL_LOG")" -eq 3 ]
}

@test "contentfilter-pool: SIGTERM kills every filter and removes the socket" {
  start_pool 20
  kill -TERM "$POOL_PID"
  for i in $(seq 1 100); do kill -0 "$POOL_PID" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$POOL_PID" 2>/dev/null
  wait "$POOL_PID"
  [ ! -e "$SOCK" ]
  [ -z "$(ls "$HOME_DIR/spool" | grep contentfilter)" ]
  for pid in $(started); do ! kill -0 "$pid" 2>/dev/null; done
  grep -q 'event=contentfilter-pool-stop' "$POOL_LOG"
}

@test "contentfilter-pool: a socket nobody listens on tempfails; no socket, the session runs its own filter" {
  start_pool 20
  kill -KILL "$POOL_PID"
  wait "$POOL_PID" || true
  [ -S "$SOCK" ]
  start_smtpd
  run send accept
  [ "${lines[5]}" = "$unavailable" ]
  grep -q 'event=contentfilter-fail reason=pool-connect: filter stopped' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  rm "$SOCK"
  run send reject
  [ "${lines[5]}" = "550 5.7.1 Not wanted here" ]
  [ "$(grep -c 'event=contentfilter-start' "$BATS_TEST_TMPDIR/SMTP_PORT.log")" -eq 1 ]
}

# ask LINE: one raw request to the pool's socket; prints its answer.
ask() {
  python3 - "$SOCK" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode().replace(b"NUL", b"\0") + b"\n")
print(s.makefile("rb").readline().decode().rstrip("\n") or "EOF")
PY
}

@test "contentfilter-pool: an empty request, a NUL and a line over 1024 bytes get #fail; the filters go on" {
  start_pool 20
  [ "$(ask '')" = "#fail bad-request" ]
  [ "$(ask 'a NUL b')" = "#fail bad-request" ]
  [ "$(ask "$(head -c 1100 /dev/zero | tr '\0' x)")" = "#fail long-line" ]
  printf 'Subject: accept\n\nx\n' > "$BATS_TEST_TMPDIR/copy"
  [ "$(ask "$BATS_TEST_TMPDIR/copy")" = "0" ]
  ! grep -q 'event=contentfilter-fail' "$POOL_LOG"
  [ "$(grep -c 'event=contentfilter-start' "$POOL_LOG")" -eq 2 ]
}
