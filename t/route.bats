#!/usr/bin/env bats
# libexec/route: incoming -> per-channel jobs, claims, quarantine, rejects.

load helper
load lib/stages

setup() { make_home; }

route() { "$LIBEXEC/route" "$@"; }

@test "route: one local job per message, named <id>, every local user in it with c/u tags" {
  inject 1 demo sysop
  id="$(ls "$(SPOOL)/incoming")"
  run route
  [ "$status" -eq 0 ]
  [ "$(incoming_count)" -eq 0 ]
  [ "$(ls "$(SPOOL)/queue/local")" = "$id" ]
  run record_fields "$(SPOOL)/queue/local/$id"
  [ "${lines[5]}" = "Tdemo@localhost" ]
  [ "${lines[6]}" = "clocal" ]
  [ "${lines[7]}" = "u2" ]
  [ "${lines[8]}" = "Tsysop@localhost" ]
  [ "${lines[9]}" = "clocal" ]
  [ "${lines[10]}" = "u1" ]
  [ "${#lines[@]}" -eq 11 ]
  [ "$(ls "$(SPOOL)/body")" = "local-$id" ]
}

@test "route: the log lines" {
  inject 1 demo
  id="$(ls "$(SPOOL)/incoming")"
  run route
  [ "${#lines[@]}" -eq 1 ]
  [[ "${lines[0]}" =~ ^"route: info: id=$id rcpt=demo@localhost channel=local result=queued delay="[0-9]+" user=2 job=$id"$ ]]
}

@test "route: the message is not copied: the job's body link is the incoming file" {
  inject 1 demo sysop
  id="$(ls "$(SPOOL)/incoming")"
  cp "$(SPOOL)/incoming/$id" "$BATS_TEST_TMPDIR/incoming"
  ino="$(stat -c %i "$(SPOOL)/incoming/$id")"
  route
  # one inode, one link per job (here one local job for both users), the
  # incoming name gone
  [ "$(stat -c %i "$(SPOOL)/body/local-$id")" = "$ino" ]
  [ "$(stat -c %h "$(SPOOL)/body/local-$id")" -eq 1 ]
  cmp "$BATS_TEST_TMPDIR/incoming" "$(SPOOL)/body/local-$id"
  # the job records end at their end mark: no message in them
  python3 - "$(SPOOL)"/queue/local/* <<'EOF'
import sys
for p in sys.argv[1:]:
    d = open(p, 'rb').read()
    assert d.endswith(b'\0\0') and d.index(b'\0\0') == len(d) - 2, p
EOF
}

@test "route: alias.cfg targets and case-insensitive names reach the right user" {
  echo "webmaster demo" >> "$HOME_DIR/etc/alias.cfg"
  inject 1 WebMaster@LOCALHOST
  inject 2 DEMO@localhost
  inject 3 Sysop
  route
  [ "$(job_users)" = "1 2 2 " ]
}

@test "route: a user named twice gets one job" {
  inject 1 demo DEMO@localhost
  run route
  [ "$(job_count local)" -eq 1 ]
  [[ "$output" == *"rcpt=DEMO@localhost channel=local result=duplicate delay="*" user=2"* ]]
}

@test "route: a remote recipient becomes one remote job with a target" {
  inject 1 a@example.org b@example.org demo
  id="$(ls "$(SPOOL)/incoming")"
  run route
  [ "$status" -eq 0 ]
  [ "$(job_count local)" -eq 1 ]
  [ "$(ls "$(SPOOL)/queue/remote")" = "$id" ]
  run record_fields "$(SPOOL)/queue/remote/$id"
  [ "${lines[5]}" = "Ta@example.org" ]
  [ "${lines[6]}" = "cremote" ]
  [ "${lines[8]}" = "ta@example.org" ]
  [ "${lines[9]}" = "Tb@example.org" ]
}

@test "route: a recipient deleted since acceptance is logged and bounced" {
  inject 1 demo sysop
  id="$(ls "$(SPOOL)/incoming")"
  bbsmail-user del demo
  run route
  [ "$status" -eq 0 ]
  [[ "$output" == *"rcpt=demo@localhost channel=- result=failed delay="*" code=550 status=5.1.1 bounce=$id.b0-incoming reason="* ]]
  [ "$(job_count local)" -eq 1 ]
  [ "$(ls "$(SPOOL)/queue/bounce")" = "$id.b0-incoming" ]
  [ "$(record_fields "$(SPOOL)/queue/bounce/$id.b0-incoming" | grep -c '^T')" -eq 1 ]
  [ "$(incoming_count)" -eq 0 ]
}

@test "route: a malformed incoming file is quarantined while others are routed" {
  inject 1 demo
  printf 'garbage without a record end' > "$(SPOOL)/incoming/broken"
  printf 'V1\0Ix\0D1\0Fa@b\0Tdemo@localhost\0' > "$(SPOOL)/incoming/truncated"
  printf 'V9\0Ix\0D1\0Fa@b\0Tdemo@localhost\0\0body\n' > "$(SPOOL)/incoming/badversion"
  inject 2 demo
  run route
  [ "$status" -eq 0 ]
  [ "$(ls "$(SPOOL)/bad" | sort | tr '\n' ' ')" = "badversion broken truncated " ]
  [[ "$output" == *"id=broken event=quarantine reason=malformed-envelope"* ]]
  [ "$(job_count local)" -eq 2 ]
  [ "$(incoming_count)" -eq 0 ]
}

@test "route: a file locked by another route is skipped, then routed" {
  inject 1 demo
  f="$(ls "$(SPOOL)"/incoming/*)"
  flock -x "$f" sleep 1 &
  track_pid $!
  sleep 0.2
  run route
  [ "$status" -eq 0 ]
  [ "$(incoming_count)" -eq 1 ]
  [ "$(job_count local)" -eq 0 ]
  wait
  run route
  [ "$(incoming_count)" -eq 0 ]
  [ "$(job_count local)" -eq 1 ]
}

@test "route: a leftover spool/tmp job from a killed run is replaced" {
  inject 1 demo
  id="$(ls "$(SPOOL)/incoming")"
  echo "half written" > "$(SPOOL)/tmp/local-$id"
  run route
  [ "$status" -eq 0 ]
  [ "$(job_count local)" -eq 1 ]
  [ ! -e "$(SPOOL)/tmp/local-$id" ]
  run record_fields "$(SPOOL)/queue/local/$id"
  [ "${lines[0]}" = "V1" ]
}

@test "route: two routes at once write each job once" {
  inject_many 1 60 demo sysop
  "$LIBEXEC/route" 2>"$BATS_TEST_TMPDIR/r1" &
  p1=$!
  "$LIBEXEC/route" 2>"$BATS_TEST_TMPDIR/r2" &
  p2=$!
  wait $p1
  wait $p2
  [ "$(incoming_count)" -eq 0 ]
  [ "$(job_count local)" -eq 60 ]
  [ "$(cat "$BATS_TEST_TMPDIR/r1" "$BATS_TEST_TMPDIR/r2" | grep -c 'result=queued')" -eq 120 ]
}

@test "route: usage error exits 100; an empty spool exits 0 quickly" {
  run route -x
  [ "$status" -eq 100 ]
  run route extra
  [ "$status" -eq 100 ]
  run route
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
}

@test "route: -d DIR names the home" {
  inject 1 demo
  run env -u BBSMAIL_HOME "$LIBEXEC/route" -d "$HOME_DIR"
  [ "$status" -eq 0 ]
  [ "$(job_count local)" -eq 1 ]
}

@test "route: marks the incoming file it works on; a marked one gives marked jobs" {
  inject 1 demo
  inject 2 sysop
  a="$(ls "$(SPOOL)/incoming" | head -1)"
  b="$(ls "$(SPOOL)/incoming" | tail -1)"
  chmod 0400 "$(SPOOL)/incoming/$b"        # as a killed route left it
  flock -x "$(SPOOL)/incoming/$b" sleep 1 &
  track_pid $!
  sleep 0.2
  "$LIBEXEC/route" 2>/dev/null
  [ "$(stat -c %a "$(SPOOL)/incoming/$b")" = "400" ]
  [ "$(stat -c %a "$(SPOOL)/queue/local/$a")" = "600" ]
  [ "$(stat -c %a "$(SPOOL)/body/local-$a")" = "400" ]   # the incoming file's inode
  wait
  "$LIBEXEC/route" 2>/dev/null
  [ "$(stat -c %a "$(SPOOL)/queue/local/$b")" = "400" ]
}
