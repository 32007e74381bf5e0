#!/usr/bin/env bats
# Deferred jobs wait in next-attempt buckets (spool(5), schedule.h): not
# opened, locked or stat'ed before their time, released when due.

load helper
load lib/stages

setup() { make_home; }

# defer_jobs N BUCKET: N deferred local jobs (valid records) in one bucket.
defer_jobs() {
  python3 - "$(SPOOL)/defer/local/$2" "$1" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
for i in range(n):
    with open(os.path.join(d, 'waiting.%d.0' % i), 'wb') as f:
        f.write(b'V1\0Iwaiting.%d\0D1\0Fa@b\0Q1\0L1\0Tdemo@localhost\0clocal\0u2\0\0' % i)
PY
}

@test "schedule: a bucket that is due goes back to the queue; a later one stays" {
  now=$(date +%s)
  past=$(( (now / 60 - 1) * 60 ))
  future=$(( (now / 60 + 10) * 60 ))
  defer_jobs 3 "$past"
  defer_jobs 2 "$future"
  # the past bucket's jobs have no body and no mark: deliver-local
  # quarantines them, which shows they were released and tried
  run "$LIBEXEC/deliver-local"
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | grep -c 'event=quarantine reason=no-body')" -eq 3 ]
  [ ! -e "$(SPOOL)/defer/local/$past" ]
  [ "$(ls "$(SPOOL)/defer/local/$future" | wc -l)" -eq 2 ]
}

@test "schedule: mailq lists deferred jobs with their channel and time" {
  defer_jobs 1 4102444800
  run mailq
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | cut -f1,4,5,6)" = $'waiting.0.0\t<a@b>\t<demo@localhost>\tlocal deferred until 2100-01-01 00:00:00 UTC' ]
  [ "$(mailq -c)" = "1" ]
}

@test "schedule: runq -l wakes when the earliest bucket falls due, not at RescanFrequency" {
  set_mail_key RescanFrequency 1H
  inject 1 demo
  "$LIBEXEC/route" 2>/dev/null
  job="$(ls "$(SPOOL)/queue/local")"
  # the job deferred into a bucket that is due two seconds from now
  due=$(( $(date +%s) + 2 ))
  mkdir -p "$(SPOOL)/defer/local/$due"
  mv "$(SPOOL)/queue/local/$job" "$(SPOOL)/defer/local/$due/"
  start_runq_loop
  sleep 0.5
  [ "$(mailbox_count 2)" -eq 0 ]
  wait_for_count 2 1 10
  check_delivered_once 2 1 1
}

# time_pass: seconds (float) of one runq pass over what is queued.
time_pass() {
  local t0 t1
  t0=$(date +%s%N)
  runq 2>/dev/null
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000 ))
}

@test "schedule: 20,000 deferred jobs cost a pass for 100 new messages nothing (within 1.5x, and no access)" {
  future=$(( ($(date +%s) / 60 + 60) * 60 ))
  for b in $(seq 0 19); do defer_jobs 1000 $((future + b * 60)); done
  [ "$(deferred_count local)" -eq 20000 ]
  # no system call of a pass names a deferred job
  inject_many 1 100 demo
  # (LeakSanitizer cannot run under a tracer: off for this one run)
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    strace -f -qq -o "$BATS_TEST_TMPDIR/trace" -e trace=file,desc "$BBSMAIL_ROOT/bin/runq" 2>/dev/null
  [ "$(grep -c 'defer/local/[0-9]*/' "$BATS_TEST_TMPDIR/trace")" -eq 0 ]
  check_delivered_once 2 1 100
  # time: alternate rounds with the buckets in place and moved aside
  with=() without=()
  for round in 1 2 3 4 5; do
    inject_many $((round * 1000 + 1)) $((round * 1000 + 100)) demo
    with+=("$(time_pass)")
    mv "$(SPOOL)/defer/local" "$(SPOOL)/defer/local.aside"
    inject_many $((round * 1000 + 201)) $((round * 1000 + 300)) demo
    without+=("$(time_pass)")
    mv "$(SPOOL)/defer/local.aside" "$(SPOOL)/defer/local"
  done
  [ "$(deferred_count local)" -eq 20000 ]
  best_with=$(printf '%s\n' "${with[@]}" | sort -n | head -1)
  best_without=$(printf '%s\n' "${without[@]}" | sort -n | head -1)
  echo "pass with 20000 deferred: ${with[*]} us; empty: ${without[*]} us" >&3
  [ "$best_with" -le $((best_without * 3 / 2)) ]
}

@test "schedule: a bucket no stage empties (NO_SENDMAIL: deliver-remote leaves it) does not make runq -l spin" {
  mkdir -p "$(SPOOL)/defer/remote/60"
  printf 'V1\0Ix\0D1\0Fa@b\0Tz@example.org\0cremote\0u0\0tz@example.org\0\0' > "$(SPOOL)/defer/remote/60/x"
  start_runq_loop
  sleep 2
  # utime + stime of runq in clock ticks (100 per second)
  ticks="$(awk '{ print $14 + $15 }' "/proc/$RUNQ_PID/stat")"
  echo "runq used $ticks ticks in 2 s" >&3
  [ "$ticks" -lt 20 ]
  [ -e "$(SPOOL)/defer/remote/60/x" ]
}
