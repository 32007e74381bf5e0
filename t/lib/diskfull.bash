# Helpers for the disk-full and write-fault tests (t/diskfull.bats): the
# test's home on a small tmpfs of its own, filled and freed on demand.
# Load after `load helper` and `load lib/stages`.

DISKFULL_PY="$BATS_TEST_DIRNAME/lib/diskfull.py"
DISK_SIZE_KB=16384

# small_home [mail.ini lines...]: make_home on a fresh tmpfs mounted at
# $BATS_TEST_TMPDIR/home (the logs stay outside it, on the test's disk).
small_home() {
  mkdir -p "$BATS_TEST_TMPDIR/home"
  mount -t tmpfs -o "size=${DISK_SIZE_KB}k,mode=0755" bbsmail-diskfull "$BATS_TEST_TMPDIR/home"
  echo "$BATS_TEST_TMPDIR/home" > "$BATS_TEST_TMPDIR/mount"
  make_home "$@"
}

# unmount_home: for teardown, after the processes are gone; lazy, so a
# straggler holding a file cannot keep the mount alive.
unmount_home() {
  [ -f "$BATS_TEST_TMPDIR/mount" ] || return 0
  umount -l "$(cat "$BATS_TEST_TMPDIR/mount")" 2>/dev/null || true
  rm -f "$BATS_TEST_TMPDIR/mount"
}

# fill_disk [KIB]: fills the home's filesystem, then gives back KIB (0 by
# default) so that much still fits; free_disk gives everything back.
fill_disk() {
  dd if=/dev/zero of="$HOME_DIR/filler" bs=64k 2>/dev/null || true
  [ "${1:-0}" -eq 0 ] || truncate -s "-${1}K" "$HOME_DIR/filler"
  sync_free="$(df --output=avail -k "$HOME_DIR" | tail -1)"
  echo "disk filled: ${sync_free// /} KiB free" >&3
}
free_disk() { rm -f "$HOME_DIR/filler"; }

# smtp_send FIRST LAST KIB: one session to $SMTP_PORT, "SEQ CODE" lines.
smtp_send() { timeout 90 python3 "$DISKFULL_PY" send "$SMTP_PORT" "$@"; }
# check_smtp_delivered USERNUM FIRST LAST KIB [SEQ...]: see diskfull.py.
check_smtp_delivered() {
  local user="$1"
  shift
  python3 "$DISKFULL_PY" check "$HOME_DIR/spool/mailbox/$user" "$@"
}

# queued_seqs: the SEQs a smtp_send output got 250 for, space-separated.
queued_seqs() { echo "$1" | awk '$2 == 250 { printf "%s ", $1 }'; }

tmp_count() { find "$(SPOOL)/tmp" -type f | wc -l; }

# faulted STAGE CALL ERRNO N: STAGE under strace, its Nth CALL failing with
# ERRNO; prints the stage's exit status (never fails itself).
faulted() {
  local status=0
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    timeout 60 strace -f -qq -o /dev/null -e trace="$2" -e inject="$2":error="$3":when="$4" \
    "$LIBEXEC/$1" 2>>"$BATS_TEST_TMPDIR/stage.log" || status=$?
  echo "$status"
}

# settle: runs runq (deferred jobs too) until the queues are empty, at most
# ten times; a message that never shows up is then missing, not late.
settle() {
  local i
  for i in $(seq 1 10); do
    "$BBSMAIL_ROOT/bin/runq" -f 2>>"$BATS_TEST_TMPDIR/stage.log" || true
    [ "$(incoming_count)" -eq 0 ] && [ "$(job_count local)" -eq 0 ] && [ "$(deferred_count local)" -eq 0 ] && return 0
  done
  echo "spool not empty after 10 runs: incoming $(incoming_count) local $(job_count local) deferred $(deferred_count local)" >&2
  return 1
}

# serve_faulted_smtpd: smtpd under tcpserver, each session under strace,
# which fails the Nth CALL with ERRNO as set_fault last wrote them.
serve_faulted_smtpd() {
  local w="$BATS_TEST_TMPDIR/faulted-smtpd"
  cat > "$w" <<EOF2
#!/bin/sh
read call errno n < "$BATS_TEST_TMPDIR/fault"
ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}detect_leaks=0"
export ASAN_OPTIONS
exec strace -f -qq -o /dev/null -e trace="\$call" -e inject="\$call":error="\$errno":when="\$n" "$LIBEXEC/smtpd"
EOF2
  chmod +x "$w"
  set_fault write ENOSPC 1000000
  serve SMTP_PORT "$w"
}
# set_fault CALL ERRNO N: the fault of the next smtpd session.
set_fault() { echo "$1 $2 $3" > "$BATS_TEST_TMPDIR/fault"; }
