#!/usr/bin/env bats
# Kill-anything soak: 20 clients send messages to local users and to a
# remote peer (smtp-sink on loopback, found through a dnsmasq MX) while
# random smtpd processes, stages and the runq loop are SIGKILLed every
# 100-500 ms; afterwards every accepted message is in each local
# recipient's Maildir exactly once and reached the peer at least once,
# nothing refused was delivered, and the spool is empty
# (t/lib/soak_driver.py does the work).  SOAK_MESSAGES sets the size
# (1000 here; bench/soak runs 10,000).

load helper
load lib/stages
load lib/dnsmasq
load lib/postfix
load lib/remote

SOAK_DRIVER="$BATS_TEST_DIRNAME/lib/soak_driver.py"

# Peer duplicates allowed per route kill, besides one per deliver-remote
# kill: none since the sent-log outlives the incoming name (last test).
ROUTE_DUP_ALLOWANCE=0

@test "soak: SIGKILL smtpd, the stages and runq at random under load: no accepted message lost, none doubled locally" {
  local n="${SOAK_MESSAGES:-1000}"
  smtp_sink_start
  PEER_PORT="$SINK_PORT" remote_home --mx-host=remote.test,mx.remote.test,10 --host-record=mx.remote.test,127.0.0.1
  set_options "ALLOW_POP3 | ALLOW_RELAY | NO_NOTIFY"
  set_mail_key MaxMsgsWaiting 0
  set_mail_key MaxInactivity 30
  "$BBSMAIL_ROOT/bin/bbsmail-user" add alice --password demo >/dev/null
  "$BBSMAIL_ROOT/bin/bbsmail-user" add carol --password demo >/dev/null
  local port tcppid
  port="$(free_port)"
  tcpserver -c 100 -H -R -l localhost 127.0.0.1 "$port" "$LIBEXEC/smtpd" 2>>"$BATS_TEST_TMPDIR/smtpd.log" &
  tcppid=$!
  track_pid "$tcppid"
  wait_port "$port"
  touch "$BATS_TEST_TMPDIR/start"
  run timeout $((600 + n / 5)) nice python3 "$SOAK_DRIVER" run --home "$HOME_DIR" --port "$port" \
    --runq "$BBSMAIL_ROOT/bin/runq" --libexec "$LIBEXEC" --tcpserver-pid "$tcppid" \
    --messages "$n" --clients 20 \
    --local sysop@localhost,demo@localhost,alice@localhost,carol@localhost \
    --remote r1@remote.test,r2@remote.test \
    --out "$BATS_TEST_TMPDIR/soak.json" --workdir "$BATS_TEST_TMPDIR" --drain 300
  echo "$output"
  [ "$status" -eq 0 ]
  # The loop is stopped: one more pass releases whatever a kill left
  # deferred (an interrupted remote session) and delivers it.
  local i
  for i in 1 2 3; do
    "$BBSMAIL_ROOT/bin/runq" -f 2>>"$BATS_TEST_TMPDIR/runq.log" || true
  done
  run python3 "$SOAK_DRIVER" check --home "$HOME_DIR" --out "$BATS_TEST_TMPDIR/soak.json" \
    --sink-dir "$SINK_DIR" --users sysop=1,demo=2,alice=3,carol=4 \
    --route-dup-allowance "$ROUTE_DUP_ALLOWANCE"
  echo "$output" >&3
  [ "$status" -eq 0 ]
  check="$output"
  # Every kind was killed, often enough to mean something.
  run python3 -c 'import json,sys; k=json.load(open(sys.argv[1]))["kills"]; st=sum(v for n,v in k.items() if n not in ("smtpd","runq")); print(k.get("smtpd",0), st, k.get("runq",0), sum(k.values()))' "$BATS_TEST_TMPDIR/soak.json"
  read -r k_smtpd k_stage k_runq k_all <<<"$output"
  [ "$k_smtpd" -ge 1 ]
  [ "$k_stage" -ge 1 ]
  [ "$k_runq" -ge 1 ]
  [ "$k_all" -ge 5 ]
  # Most of the mail got through: the kills are a fault load, not a blackout.
  accepted="$(echo "$check" | sed -n 's/.* accepted=\([0-9]*\) .*/\1/p')"
  [ "$accepted" -ge $((n / 2)) ]
  # The spool is empty: nothing waits in incoming/, a queue, a defer
  # bucket, body/ or sent/, nothing was quarantined in bad/, and mailq
  # lists nothing.
  [ "$(find "$(SPOOL)/incoming" "$(SPOOL)/queue" "$(SPOOL)/defer" "$(SPOOL)/body" "$(SPOOL)/sent" -type f 2>/dev/null | wc -l)" -eq 0 ]
  [ "$(find "$(SPOOL)/bad" -type f 2>/dev/null | wc -l)" -eq 0 ]
  run "$BBSMAIL_ROOT/bin/mailq"
  echo "mailq: $output"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  # Files in spool/tmp/ are writers killed mid-write (runq removes them
  # after 36 h): none is older than the run, and at most one per kill.
  kills="$(python3 -c 'import json,sys; print(sum(json.load(open(sys.argv[1]))["kills"].values()))' "$BATS_TEST_TMPDIR/soak.json")"
  left="$(find "$(SPOOL)/tmp" -type f | wc -l)"
  echo "soak: tmp leftovers=$left kills=$kills" >&3
  [ "$(find "$(SPOOL)/tmp" -type f ! -newer "$BATS_TEST_TMPDIR/start" | wc -l)" -eq 0 ]
  [ "$left" -le "$kills" ]
}

# Found by the soak (peer duplicates with no deliver-remote kill): route
# killed in state S2/S3 after deliver-remote had sent and retired the
# remote job re-queued the job when it reran, and once a later
# deliver-remote run had removed that job's sent-log (its job was gone),
# the message was sent again: one route kill repeated 37 and 72 messages
# in two 1,000-message soaks.  The sent-log now outlives the incoming name.
@test "soak finding: a route rerun after the remote job was sent and retired does not send it again" {
  peer_start
  remote_home --mx-host=remote.test,mx.remote.test,10 --host-record=mx.remote.test,127.0.0.1
  inject 1 r1@remote.test demo@localhost
  id="$(ls "$(SPOOL)/incoming")"
  mkdir -p "$BATS_TEST_TMPDIR/snap"
  ln "$(SPOOL)/incoming/$id" "$BATS_TEST_TMPDIR/snap/"
  "$LIBEXEC/route" 2>/dev/null
  # S3: route killed after its jobs were durable, before the incoming name went
  ln "$BATS_TEST_TMPDIR/snap/$id" "$(SPOOL)/incoming/"
  "$LIBEXEC/deliver-remote" 2>/dev/null
  "$LIBEXEC/deliver-local" 2>/dev/null
  [ "$(peer_messages)" -eq 1 ]
  "$LIBEXEC/deliver-remote" 2>/dev/null    # the job is retired; its sent-log stays
  [ -e "$(SPOOL)/sent/$id" ]
  run "$BBSMAIL_ROOT/bin/runq"             # route reruns, the job comes back
  [ "$status" -eq 0 ]
  [[ "$output" == *"id=$id rcpt=r1@remote.test channel=remote result=already-sent"* ]] || { echo "$output"; false; }
  [ "$(mailbox_count 2)" -eq 1 ]
  [ "$(peer_messages)" -eq 1 ]
  [ ! -e "$(SPOOL)/incoming/$id" ]
  "$LIBEXEC/deliver-remote" 2>/dev/null    # now the log goes
  [ ! -e "$(SPOOL)/sent/$id" ]
}
