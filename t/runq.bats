#!/usr/bin/env bats
# bin/runq: the stages once (cron) and the -l loop on the trigger FIFO.

load helper
load lib/stages
load lib/defer

setup() { make_home "RescanFrequency = 60"; }

@test "runq: once runs route and deliver-local, exits 0" {
  inject_many 1 5 demo
  run runq
  [ "$status" -eq 0 ]
  [ "$(incoming_count)" -eq 0 ]
  [ "$(job_count local)" -eq 0 ]
  check_delivered_once 2 1 5
}

@test "runq: empties trash older than 2 s, keeps fresh trash" {
  echo old > "$(SPOOL)/trash/old"
  touch -d '-2 hours' "$(SPOOL)/trash/old"
  echo new > "$(SPOOL)/trash/new"
  run runq
  [ "$status" -eq 0 ]
  [ "$(ls "$(SPOOL)/trash")" = "new" ]
}

@test "runq: keeps a reserve of small trash files for reuse, removes big ones" {
  for i in 1 2 3; do echo small > "$(SPOOL)/trash/small$i"; done
  head -c 100000 /dev/zero > "$(SPOOL)/trash/big"
  echo linked > "$BATS_TEST_TMPDIR/linked"
  ln "$BATS_TEST_TMPDIR/linked" "$(SPOOL)/trash/linked"
  touch -d '-1 minute' "$(SPOOL)"/trash/*
  run runq
  [ "$status" -eq 0 ]
  [ "$(ls "$(SPOOL)/trash" | tr '\n' ' ')" = "small1 small2 small3 " ]
  [ "$(cat "$BATS_TEST_TMPDIR/linked")" = "linked" ]
}

@test "runq: removes spool/tmp files older than 36 hours only" {
  echo x > "$(SPOOL)/tmp/stale"
  touch -d '-37 hours' "$(SPOOL)/tmp/stale"
  echo y > "$(SPOOL)/tmp/recent"
  touch -d '-35 hours' "$(SPOOL)/tmp/recent"
  run runq
  [ "$(ls "$(SPOOL)/tmp")" = "recent" ]
  [[ "$output" == *"runq: info: event=tmp-removed file=stale"* ]]
}

@test "runq: a stage that fails makes runq exit 111, the others still run" {
  mkdir "$BATS_TEST_TMPDIR/libexec"
  printf '#!/bin/sh\necho "route: fatal: test failure" >&2\nexit 111\n' > "$BATS_TEST_TMPDIR/libexec/route"
  chmod +x "$BATS_TEST_TMPDIR/libexec/route"
  ln -s "$LIBEXEC/deliver-local" "$BATS_TEST_TMPDIR/libexec/deliver-local"
  inject 1 demo
  "$LIBEXEC/route" 2>/dev/null
  inject 2 demo          # work for the failing route, which leaves it
  run env BBSMAIL_LIBEXEC="$BATS_TEST_TMPDIR/libexec" runq
  [ "$status" -eq 111 ]
  [[ "$output" == *"runq: warning: event=stage-failed stage=route exit=111"* ]]
  check_delivered_once 2 1 1
}

@test "runq: stages missing from libexec are skipped" {
  mkdir "$BATS_TEST_TMPDIR/libexec"
  ln -s "$LIBEXEC/route" "$BATS_TEST_TMPDIR/libexec/route"
  inject 1 demo
  run env BBSMAIL_LIBEXEC="$BATS_TEST_TMPDIR/libexec" runq
  [ "$status" -eq 0 ]
  [ "$(job_count local)" -eq 1 ]
  [ "$(mailbox_count 2)" -eq 0 ]
}

@test "runq: a stage is started only when its queue lists a job or one of its buckets is due" {
  mkdir "$BATS_TEST_TMPDIR/libexec"
  for stage in pickup route deliver-local deliver-remote deliver-bounce; do
    printf '#!/bin/sh\necho %s >> "%s/started"\n' "$stage" "$BATS_TEST_TMPDIR" > "$BATS_TEST_TMPDIR/libexec/$stage"
    chmod +x "$BATS_TEST_TMPDIR/libexec/$stage"
  done
  export BBSMAIL_LIBEXEC="$BATS_TEST_TMPDIR/libexec"
  run runq
  [ "$status" -eq 0 ]
  [ ! -e "$BATS_TEST_TMPDIR/started" ]
  touch "$(SPOOL)/queue/remote/job1"
  mkdir -p "$(SPOOL)/defer/bounce/$(( $(date +%s) + 3600 ))" "$(SPOOL)/queue/local/.hidden"
  run runq
  [ "$(tr '\n' ' ' < "$BATS_TEST_TMPDIR/started")" = "deliver-remote " ]
  rm "$BATS_TEST_TMPDIR/started" "$(SPOOL)/queue/remote/job1"
  mkdir -p "$(SPOOL)/defer/bounce/$(( $(date +%s) - 60 ))"
  touch "$(SPOOL)/incoming/msg1"
  run runq
  [ "$(tr '\n' ' ' < "$BATS_TEST_TMPDIR/started")" = "route deliver-bounce " ]
  rm "$BATS_TEST_TMPDIR/started" "$(SPOOL)/incoming/msg1"
  rmdir "$(SPOOL)"/defer/bounce/*
  touch "$(SPOOL)/tmp/pickup.left-by-a-kill"   # pickup's own half-done work
  run runq
  [ "$(tr '\n' ' ' < "$BATS_TEST_TMPDIR/started")" = "pickup " ]
  rm "$BATS_TEST_TMPDIR/started" "$(SPOOL)/tmp/pickup.left-by-a-kill"
  touch "$(SPOOL)/drop/.any-name"
  run runq
  [ "$(tr '\n' ' ' < "$BATS_TEST_TMPDIR/started")" = "pickup " ]
}

@test "runq: usage error exits 100" {
  run runq -x
  [ "$status" -eq 100 ]
  run runq extra
  [ "$status" -eq 100 ]
}

@test "runq -l: delivers within 1 s of a poke with RescanFrequency 60" {
  start_runq_loop
  sleep 0.3    # the first pass is over, runq waits on the FIFO
  start=$(date +%s%N)
  inject 1 demo
  wait_for_count 2 1 5
  elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  echo "delivered after ${elapsed_ms} ms" >&3
  [ "$elapsed_ms" -lt 1000 ]
  check_delivered_once 2 1 1
}

@test "runq -l: wakes within 100 ms of a bare poke" {
  # A stand-in route records when runq starts it; the poke time comes from
  # the poking process, so the figure is the wake-up alone.
  mkdir "$BATS_TEST_TMPDIR/libexec"
  printf '#!/bin/sh\ndate +%%s%%N >> "%s/started"\n' "$BATS_TEST_TMPDIR" > "$BATS_TEST_TMPDIR/libexec/route"
  chmod +x "$BATS_TEST_TMPDIR/libexec/route"
  touch "$(SPOOL)/incoming/work"   # the stand-in leaves it: every pass has work
  BBSMAIL_LIBEXEC="$BATS_TEST_TMPDIR/libexec" start_runq_loop
  sleep 0.3
  [ "$(wc -l < "$BATS_TEST_TMPDIR/started")" -eq 1 ]
  python3 - "$(SPOOL)/trigger" "$BATS_TEST_TMPDIR/started" <<'EOF'
import os, sys, time
trigger, started = sys.argv[1], sys.argv[2]
fd = os.open(trigger, os.O_WRONLY | os.O_NONBLOCK)
t0 = time.time_ns()
os.write(fd, b'\0')
os.close(fd)
while True:
    lines = open(started).read().split()
    if len(lines) >= 2:
        break
    if time.time_ns() - t0 > 5e9:
        sys.exit('runq did not wake within 5 s')
    time.sleep(0.001)
ms = (int(lines[1]) - t0) / 1e6
print('runq woke and started route %.1f ms after the poke' % ms, file=sys.stderr)
sys.exit(0 if ms < 100 else 'took %.1f ms' % ms)
EOF
}

@test "runq -l: rescans every RescanFrequency without a poke" {
  set_mail_key RescanFrequency 1
  start_runq_loop
  sleep 0.3
  printf 'V1\0Isilent1\0D1\0Fa@localhost\0Plocal\0Tdemo@localhost\0\0Subject: s\n\nx\n' > "$(SPOOL)/tmp/s"
  mv "$(SPOOL)/tmp/s" "$(SPOOL)/incoming/silent1"
  wait_for_count 2 1 3
}

@test "runq -l: SIGTERM and SIGINT stop it cleanly" {
  start_runq_loop
  sleep 0.3
  kill -TERM "$RUNQ_PID"
  run timeout 2 tail --pid="$RUNQ_PID" -f /dev/null
  [ "$status" -eq 0 ]
  wait "$RUNQ_PID" || code=$?
  [ "${code:-0}" -eq 0 ]
  grep -q "runq: info: event=stop" "$BATS_TEST_TMPDIR/runq.log"
  start_runq_loop
  sleep 0.3
  kill -INT "$RUNQ_PID"
  run timeout 2 tail --pid="$RUNQ_PID" -f /dev/null
  [ "$status" -eq 0 ]
}

@test "runq -l: two loops on one spool deliver 200 messages exactly once" {
  set_mail_key RescanFrequency 1
  start_runq_loop
  first=$RUNQ_PID
  start_runq_loop
  senders=()
  for part in 0 1 2 3; do
    inject_many $((part * 50 + 1)) $((part * 50 + 50)) demo &
    senders+=($!)
  done
  for pid in "${senders[@]}"; do wait "$pid"; done
  kill -0 "$first"
  wait_for_count 2 200 60
  sleep 1.2
  check_delivered_once 2 1 200
  [ "$(incoming_count)" -eq 0 ]
  [ "$(job_count local)" -eq 0 ]
  run grep -c "result=delivered" "$BATS_TEST_TMPDIR/runq.log"
  [ "$output" -eq 200 ]
}

@test "runq -l: empties old trash when idle" {
  start_runq_loop
  sleep 0.3
  echo old > "$(SPOOL)/trash/old"
  touch -d '-2 hours' "$(SPOOL)/trash/old"
  inject 1 demo
  wait_for_count 2 1 5
  for i in $(seq 1 40); do [ -e "$(SPOOL)/trash/old" ] || break; sleep 0.05; done
  [ ! -e "$(SPOOL)/trash/old" ]
}

@test "runq -l: a poke during a pass starts the next pass's stages together, then an ordinary pass" {
  # Stand-in stages log "<pass> <stage> start|end"; route takes 0.4 s.
  mkdir "$BATS_TEST_TMPDIR/libexec"
  log="$BATS_TEST_TMPDIR/stages"
  printf '#!/bin/sh\necho "route start" >> "%s"\nsleep 0.4\necho "route end" >> "%s"\n' "$log" "$log" \
    > "$BATS_TEST_TMPDIR/libexec/route"
  printf '#!/bin/sh\necho "deliver-local start" >> "%s"\necho "deliver-local end" >> "%s"\n' "$log" "$log" \
    > "$BATS_TEST_TMPDIR/libexec/deliver-local"
  chmod +x "$BATS_TEST_TMPDIR/libexec/route" "$BATS_TEST_TMPDIR/libexec/deliver-local"
  touch "$(SPOOL)/incoming/work" "$(SPOOL)/queue/local/work"  # left there: work every pass
  BBSMAIL_LIBEXEC="$BATS_TEST_TMPDIR/libexec" start_runq_loop
  sleep 0.2                                  # pass 1: route is running
  printf x > "$(SPOOL)/trigger"
  for i in $(seq 1 60); do [ "$(grep -c 'deliver-local end' "$log")" -ge 3 ] && break; sleep 0.05; done
  sleep 0.6                                  # nothing more may start
  run cat "$log"
  echo "$output"
  # pass 1 in order; pass 2 together (deliver-local runs while route
  # sleeps); pass 3 in order again, and then runq is idle
  [ "${#lines[@]}" -eq 12 ]
  [ "${lines[*]:0:4}" = "route start route end deliver-local start deliver-local end" ]
  [ "$(printf '%s\n' "${lines[@]:4:3}" | sort | tr '\n' ,)" = "deliver-local end,deliver-local start,route start," ]
  [ "${lines[7]}" = "route end" ]
  [ "${lines[*]:8:4}" = "route start route end deliver-local start deliver-local end" ]
}

# stand_in_remote: a libexec with the real route and deliver-local and a
# stand-in deliver-remote that writes what its queue holds to "seen".
stand_in_remote() {
  mkdir "$BATS_TEST_TMPDIR/libexec"
  ln -s "$LIBEXEC/route" "$LIBEXEC/deliver-local" "$BATS_TEST_TMPDIR/libexec/"
  printf '#!/bin/sh\nls "%s/queue/remote" >> "%s/seen"\n' "$(SPOOL)" "$BATS_TEST_TMPDIR" \
    > "$BATS_TEST_TMPDIR/libexec/deliver-remote"
  chmod +x "$BATS_TEST_TMPDIR/libexec/deliver-remote"
  export BBSMAIL_LIBEXEC="$BATS_TEST_TMPDIR/libexec"
}

@test "runq -D domain: releases that domain's deferred remote jobs, runs the stages once" {
  stand_in_remote
  bucket="$(future_bucket)"
  remote_job 1 a@example.org && one="$JOB" && defer_job remote "$one" "$bucket" 2 $(( $(date +%s) - 5 ))
  remote_job 2 b@sub.example.org && sub="$JOB" && defer_job remote "$sub" "$bucket" 2 0
  remote_job 3 c@other.net && other="$JOB" && defer_job remote "$other" "$bucket" 2 0
  inject 4 demo
  run runq -D EXAMPLE.org
  [ "$status" -eq 0 ]
  # the job tried 5 s ago goes too: no retry floor for the sysop
  [ "$(cat "$BATS_TEST_TMPDIR/seen")" = "$one" ]
  [ "$(deferred_jobs remote)" = "$(printf '%s\n' "$sub" "$other" | sort)" ]
  [[ "$output" == *"runq: info: event=release channel=remote domain=EXAMPLE.org jobs=1"* ]]
  # and the stages ran: the local message was delivered
  check_delivered_once 2 4 4
}

@test "runq -D @domain: the domain and its subdomains" {
  stand_in_remote
  bucket="$(future_bucket)"
  remote_job 1 a@example.org && one="$JOB" && defer_job remote "$one" "$bucket" 1 0
  remote_job 2 b@sub.example.org && sub="$JOB" && defer_job remote "$sub" "$bucket" 1 0
  remote_job 3 c@notexample.org && other="$JOB" && defer_job remote "$other" "$bucket" 1 0
  run runq -D @example.org
  [ "$status" -eq 0 ]
  [ "$(sort "$BATS_TEST_TMPDIR/seen")" = "$(printf '%s\n' "$one" "$sub" | sort)" ]
  [ "$(deferred_jobs remote)" = "$other" ]
  [[ "$output" == *"event=release channel=remote domain=@example.org jobs=2"* ]]
}

@test "runq -D: nothing deferred for the domain logs jobs=0; a bad domain or no argument is usage (100)" {
  stand_in_remote
  remote_job 1 a@example.org && defer_job remote "$JOB" "$(future_bucket)" 1 0
  run runq -D nothing.example
  [ "$status" -eq 0 ]
  [[ "$output" == *"event=release channel=remote domain=nothing.example jobs=0"* ]]
  [ "$(deferred_count remote)" -eq 1 ]
  # nothing of the remote channel was due: its stage was not started
  [ ! -e "$BATS_TEST_TMPDIR/seen" ]
  run runq -D 'bad domain'
  [ "$status" -eq 100 ]
  [[ "$output" == *"runq: fatal: bad domain for -D: bad domain"* ]]
  run runq -D
  [ "$status" -eq 100 ]
  [ "$(deferred_count remote)" -eq 1 ]
  [ ! -e "$BATS_TEST_TMPDIR/seen" ]
}
