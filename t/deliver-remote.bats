#!/usr/bin/env bats
# libexec/deliver-remote: MX lookups against a dnsmasq on loopback, and a
# scripted SMTP peer (t/lib/smtp_peer.py) on 127.0.0.1; every MX host name
# resolves to 127.0.0.1 (or ::1, where nothing listens, for a dead host).

load helper
load lib/stages
load lib/dnsmasq
load lib/remote

MX=(--mx-host=example.test,mx1.example.test,10 --host-record=mx1.example.test,127.0.0.1)

# send SEQ RCPT... [-- sendmail args]: a message from demo@localhost.
send() {
  local seq="$1"
  shift
  inject "$seq" "$@"
}

queue_remote() { "$LIBEXEC/route" 2>/dev/null; }

@test "deliver-remote: to the MX, byte for byte, one log line per recipient" {
  peer_start
  remote_home "${MX[@]}"
  send 1 alice@example.test
  queue_remote
  [ "$(job_count remote)" -eq 1 ]
  job="$(ls "$(SPOOL)/queue/remote")"
  run deliver_remote
  [ "$status" -eq 0 ]
  [[ "$output" =~ "id=$job rcpt=alice@example.test channel=remote result=sent delay="[0-9]+" relay=mx1.example.test[127.0.0.1]:$PEER_PORT tls=no reply=\"250 2.0.0\" text=\"Ok: queued as M1\"" ]]
  [[ "$output" == *"event=session relay=mx1.example.test[127.0.0.1]:$PEER_PORT tls=no verified=no auth=none pipelining=yes"* ]]
  [ "$(peer_messages)" -eq 1 ]
  [ "$(cat "$PEER_DIR/rcpt.1")" = "alice@example.test" ]
  [ "$(peer_text 1)" = "$(cat "$BATS_TEST_TMPDIR/sent/1")" ]
  head -1 "$PEER_DIR/msg.1" | grep -q '^Received: from local user (uid [0-9]*) by localhost (bbsmail) id '
  grep -q "^1 MAIL FROM:<tester@localhost> SIZE=[0-9]*$" "$PEER_DIR/commands.log"
  [ "$(job_count remote)" -eq 0 ]
  [ "$(ls "$(SPOOL)/body" | wc -l)" -eq 0 ]
  [ "$(cat "$HOME_DIR/etc/dnsbl_exempt.cfg")" = "alice@example.test" ]
}

@test "deliver-remote: CRLF and dot-stuffing on the wire, the stored text unchanged" {
  peer_start
  remote_home "${MX[@]}"
  printf 'From: tester@localhost\nDate: Sun, 22 Nov 2026 00:00:00 +0000\nMessage-ID: <dots@test>\nSubject: dots\n\n.one dot\n..two dots\n.\nlast\n' > "$BATS_TEST_TMPDIR/dots"
  "$BBSMAIL_ROOT/bin/sendmail" -i -f tester@localhost alice@example.test < "$BATS_TEST_TMPDIR/dots"
  queue_remote
  deliver_remote 2>/dev/null
  [ "$(peer_messages)" -eq 1 ]
  # The peer unstuffs what it got: the text arrives as it was written.
  [ "$(sed '1d' "$PEER_DIR/msg.1" | od -c | tr -s ' ')" = "$(sed 's/$/\r/' "$BATS_TEST_TMPDIR/dots" | od -c | tr -s ' ')" ]
}

@test "deliver-remote: MX preference order, a dead first MX is skipped" {
  peer_start
  remote_home --mx-host=example.test,mx0.example.test,5 --mx-host=example.test,mx1.example.test,10 \
    --host-record=mx0.example.test,::1 --host-record=mx1.example.test,127.0.0.1
  send 1 alice@example.test
  queue_remote
  run deliver_remote
  [ "$status" -eq 0 ]
  [[ "$output" == *"event=host-failed relay=mx0.example.test[::1]:$PEER_PORT"* ]]
  [[ "$output" == *"result=sent"*"relay=mx1.example.test[127.0.0.1]:$PEER_PORT"* ]]
  [ "$(peer_messages)" -eq 1 ]
}

@test "deliver-remote: implicit MX (A only) and an MX host behind a CNAME" {
  peer_start
  remote_home --host-record=plain.test,127.0.0.1 --mx-host=alias.test,mx.alias.test,10 \
    --cname=mx.alias.test,real.alias.test --host-record=real.alias.test,127.0.0.1
  send 1 a@plain.test
  send 2 b@alias.test
  queue_remote
  run deliver_remote
  [ "$status" -eq 0 ]
  [[ "$output" == *"rcpt=a@plain.test channel=remote result=sent"*"relay=plain.test[127.0.0.1]"* ]]
  [[ "$output" == *"rcpt=b@alias.test channel=remote result=sent"*"relay=mx.alias.test[127.0.0.1]"* ]]
  [ "$(peer_messages)" -eq 2 ]
}

@test "deliver-remote: null MX and a domain that does not exist fail at once (bounce jobs)" {
  peer_start
  remote_home --mx-host=nomail.test,.,0 --host-record=other.test,127.0.0.1
  send 1 a@nomail.test
  send 2 b@missing.test
  queue_remote
  run deliver_remote
  [ "$status" -eq 0 ]
  [[ "$output" == *"rcpt=a@nomail.test channel=remote result=failed delay="*" code=556 status=5.1.10 bounce="*" reason=\"the domain nomail.test accepts no mail (null MX)\""* ]]
  [[ "$output" == *"rcpt=b@missing.test channel=remote result=failed delay="*" code=550 status=5.1.2 bounce="*"reason=\"host or domain name not found: missing.test"* ]]
  [ "$(ls "$(SPOOL)/queue/bounce" | wc -l)" -eq 2 ]
  [ "$(peer_messages)" -eq 0 ]
  [ ! -e "$PEER_DIR/commands.log" ]
}

@test "deliver-remote: 4xx twice then 250: delivered on the third attempt, exactly once" {
  peer_start --rcpt alice@example.test=451,451,250
  remote_home "${MX[@]}"
  send 1 alice@example.test
  queue_remote
  run deliver_remote
  [ "$status" -eq 111 ]
  [[ "$output" == *"result=deferred"*"code=451 status=4.2.0 attempts=1 next="*"reason=\"<alice@example.test>: try again later, scripted\""* ]]
  copy="$(find "$(SPOOL)/defer/remote" -type f)"
  run record_fields "$copy"
  [[ "$output" == *$'\ns4.2.0\nr451\nx<alice@example.test>: try again later, scripted\nmmx1.example.test [127.0.0.1]'* ]]
  run "$BBSMAIL_ROOT/bin/runq" -f
  [[ "$output" == *"result=deferred"*"attempts=2"* ]]
  [ "$(peer_messages)" -eq 0 ]
  run "$BBSMAIL_ROOT/bin/runq" -f
  [ "$status" -eq 0 ]
  [[ "$output" == *"rcpt=alice@example.test channel=remote result=sent"* ]]
  [ "$(peer_messages)" -eq 1 ]
  [ "$(deferred_count remote)" -eq 0 ]
  [ "$(ls "$(SPOOL)/body" | wc -l)" -eq 0 ]
}

@test "deliver-remote: a 5xx fails the recipient with the peer's text; the others of the transaction are sent" {
  peer_start --rcpt bad@example.test=550
  remote_home "${MX[@]}"
  send 1 good@example.test bad@example.test
  queue_remote
  job="$(ls "$(SPOOL)/queue/remote")"
  run deliver_remote
  [ "$status" -eq 0 ]
  [[ "$output" == *"rcpt=bad@example.test channel=remote result=failed"*"code=550 status=5.1.1 bounce=$job.b0-remote reason=\"<bad@example.test>: Recipient address rejected: scripted\""* ]]
  [[ "$output" == *"rcpt=good@example.test channel=remote result=sent"* ]]
  [ "$(peer_messages)" -eq 1 ]
  [ "$(cat "$PEER_DIR/rcpt.1")" = "good@example.test" ]
  [ "$(grep -c ' MAIL FROM' "$PEER_DIR/commands.log")" -eq 1 ]
  run record_fields "$(SPOOL)/queue/bounce/$job.b0-remote"
  [[ "$output" == *$'\nTbad@example.test\n'*$'s5.1.1\nr550\nx<bad@example.test>: Recipient address rejected: scripted\nmmx1.example.test [127.0.0.1]'* ]]
}

@test "deliver-remote: one connection carries every message to a destination, RSET between them" {
  peer_start
  remote_home "${MX[@]}"
  set_mail_key OutboundPerDestination 1
  for i in 1 2 3 4 5; do send "$i" "u$i@example.test"; done
  queue_remote
  run deliver_remote
  [ "$status" -eq 0 ]
  [ "$(peer_messages)" -eq 5 ]
  [ "$(peer_connections)" -eq 1 ]
  [ "$(grep -c ' RSET$' "$PEER_DIR/commands.log")" -eq 4 ]
  [ "$(grep -c ' QUIT$' "$PEER_DIR/commands.log")" -eq 1 ]
}

@test "deliver-remote: a refusing greeting defers every message of the lane after one connection" {
  peer_start --greeting "421 4.3.2 peer.test busy, scripted"
  remote_home "${MX[@]}"
  set_mail_key OutboundPerDestination 1
  send 1 a@example.test
  send 2 b@example.test
  send 3 c@example.test
  queue_remote
  run deliver_remote
  [ "$status" -eq 111 ]
  [ "$(echo "$output" | grep -c 'result=deferred.*code=421 status=4.3.2.*reason="connect to mx1.example.test\[127.0.0.1\]:'"$PEER_PORT"': .*busy, scripted')" -eq 3 ]
  [ "$(peer_connections)" -eq 1 ]
  [ "$(deferred_count remote)" -eq 3 ]
}

@test "deliver-remote: nobody listening: deferred 4.4.1 with the connect error" {
  port="$(free_port)"
  PEER_PORT="$port" remote_home "${MX[@]}"
  send 1 alice@example.test
  queue_remote
  run deliver_remote
  [ "$status" -eq 111 ]
  [[ "$output" == *"result=deferred"*"code=451 status=4.4.1 attempts=1"*"reason=\"connect to mx1.example.test[127.0.0.1]:$port: "* ]]
}

@test "deliver-remote: an address literal is connected to without DNS" {
  peer_start
  remote_home
  send 1 'alice@[127.0.0.1]'
  queue_remote
  run deliver_remote
  [ "$status" -eq 0 ]
  [[ "$output" == *"rcpt=alice@[127.0.0.1] channel=remote result=sent"*"relay=127.0.0.1[127.0.0.1]:$PEER_PORT"* ]]
  [ "$(peer_messages)" -eq 1 ]
  ! grep -q "query\[\(MX\|A\|AAAA\)\] 127" "$BATS_TEST_TMPDIR/dnsmasq.log"
}

@test "deliver-remote: RELAY_TX sends every domain to RelayServer in one connection" {
  peer_start
  remote_home
  set_mail_key RelayServer 127.0.0.1
  set_mail_key RelayPort "$PEER_PORT"
  set_options "ALLOW_POP3 | RELAY_TX"
  send 1 a@one.test b@two.test
  queue_remote
  run deliver_remote
  [ "$status" -eq 0 ]
  [ "$(peer_messages)" -eq 1 ]
  [ "$(sort "$PEER_DIR/rcpt.1" | tr '\n' ' ')" = "a@one.test b@two.test " ]
  ! grep -q "query\[MX\]" "$BATS_TEST_TMPDIR/dnsmasq.log"
}

@test "deliver-remote: NO_SENDMAIL leaves the queue untouched" {
  peer_start
  remote_home "${MX[@]}"
  set_options "ALLOW_POP3 | NO_SENDMAIL"
  send 1 alice@example.test
  queue_remote
  job="$(ls "$(SPOOL)/queue/remote")"
  run deliver_remote
  [ "$status" -eq 0 ]
  [[ "$output" == *"NO_SENDMAIL is set: remote delivery is off"* ]]
  [ "$(ls "$(SPOOL)/queue/remote")" = "$job" ]
  [ "$(stat -c %a "$(SPOOL)/queue/remote/$job")" = "600" ]
  [ "$(peer_messages)" -eq 0 ]
}

@test "deliver-remote: STARTTLS that breaks is retried in plain text on the same host" {
  peer_start --ehlo PIPELINING --ehlo STARTTLS
  remote_home "${MX[@]}"
  send 1 alice@example.test
  queue_remote
  run deliver_remote
  [ "$status" -eq 0 ]
  [[ "$output" == *"event=tls-failed relay=mx1.example.test[127.0.0.1]:$PEER_PORT next=retry-plain reason="* ]]
  [[ "$output" == *"result=sent"*"tls=no"* ]]
  [ "$(peer_connections)" -eq 2 ]
  [ "$(peer_messages)" -eq 1 ]
}

@test "deliver-remote: forward addresses, forward: and an alias to an outside address are all sent" {
  peer_start
  remote_home "${MX[@]}"
  "$BBSMAIL_ROOT/bin/bbsmail-user" set demo --forward fwd@example.test --flags forward >/dev/null
  echo "outside ali@example.test" >> "$HOME_DIR/etc/alias.cfg"
  "$BBSMAIL_ROOT/bin/bbsmail-user" set sysop --forward sysfwd@example.test >/dev/null
  send 1 demo@localhost
  send 2 '"forward:sysop"@localhost'
  send 3 outside@localhost
  run "$BBSMAIL_ROOT/bin/runq"
  [ "$(peer_messages)" -eq 3 ]
  [ "$(cat "$PEER_DIR"/rcpt.* | sort | tr '\n' ' ')" = "ali@example.test fwd@example.test sysfwd@example.test " ]
}

@test "deliver-remote: 1,000 messages to 50 domains, every recipient exactly once" {
  peer_start
  args=()
  for d in $(seq 1 50); do args+=("--mx-host=d$d.test,m$d.mx.test,10" "--host-record=m$d.mx.test,127.0.0.1"); done
  remote_home "${args[@]}"
  for i in $(seq 1 1000); do
    printf 'Subject: %s\n\nbody %s\n' "$i" "$i" |
      "$BBSMAIL_ROOT/bin/sendmail" -f tester@localhost "r$i@d$((i % 50 + 1)).test" 2>/dev/null
  done
  run "$BBSMAIL_ROOT/bin/runq"
  echo "$output" | grep -v 'result=\(sent\|queued\)' | tail -20
  [ "$status" -eq 0 ]
  [ "$(peer_messages)" -eq 1000 ]
  [ "$(cat "$PEER_DIR"/rcpt.* | sort | uniq -d | wc -l)" -eq 0 ]
  [ "$(cat "$PEER_DIR"/rcpt.* | sort -u | wc -l)" -eq 1000 ]
  [ "$(job_count remote)" -eq 0 ]
  [ "$(deferred_count remote)" -eq 0 ]
}

@test "deliver-remote: recipients in the job's sent-log are not sent again" {
  peer_start
  remote_home "${MX[@]}"
  send 1 a@example.test b@example.test
  queue_remote
  job="$(ls "$(SPOOL)/queue/remote")"
  mkdir -p "$(SPOOL)/sent"
  echo "a@example.test" > "$(SPOOL)/sent/$job"
  run deliver_remote
  [ "$status" -eq 0 ]
  [[ "$output" == *"id=$job rcpt=a@example.test channel=remote result=already-sent"* ]]
  [[ "$output" == *"id=$job rcpt=b@example.test channel=remote result=sent"* ]]
  [ "$(cat "$PEER_DIR/rcpt.1")" = "b@example.test" ]
  # The next run finds the job retired and drops its sent-log.
  [ -e "$(SPOOL)/sent/$job" ]
  deliver_remote 2>/dev/null
  [ ! -e "$(SPOOL)/sent/$job" ]
}

@test "deliver-remote: SIGKILL at random points: nothing lost, a second copy only for a kill after the peer's 250" {
  peer_start --delay 0.02
  remote_home "${MX[@]}"
  for i in $(seq 1 40); do send "$i" "u$i@example.test" 2>/dev/null; done
  queue_remote
  kills=0
  for k in $(seq 1 8); do
    "$LIBEXEC/deliver-remote" 2>/dev/null &
    pid=$!
    sleep "0.$((RANDOM % 5 + 1))"
    kill -9 "$pid" 2>/dev/null && kills=$((kills + 1))
    wait "$pid" || true
  done
  # Reruns until every job is done (the killed runs' claims went with them).
  for k in $(seq 1 10); do
    "$BBSMAIL_ROOT/bin/runq" -f 2>/dev/null || true
    [ "$(job_count remote)" -eq 0 ] && [ "$(deferred_count remote)" -eq 0 ] && break
  done
  [ "$(job_count remote)" -eq 0 ]
  [ "$(deferred_count remote)" -eq 0 ]
  [ "$(cat "$PEER_DIR"/rcpt.* | sort -u | wc -l)" -eq 40 ]
  dups="$(cat "$PEER_DIR"/rcpt.* | sort | uniq -d | wc -l)"
  echo "kills=$kills duplicates=$dups" >&3
  # At most one message in flight per lane (OutboundPerDestination 2) at each kill.
  [ "$dups" -le $((kills * 2)) ]
  [ "$(ls "$(SPOOL)/body" | wc -l)" -eq 0 ]
}

# dsn_message: through smtpd, MAIL with RET/ENVID, RCPT to an alias of
# ali@example.test with NOTIFY/ORCPT; then routed.
dsn_message() {
  load lib/smtp
  echo "outside ali@example.test" >> "$HOME_DIR/etc/alias.cfg"
  start_smtpd
  timeout 60 python3 "$SMTP_CHAT" chat "$SMTP_PORT" <<EOF2
$HELLO
L MAIL FROM:<demo@localhost> RET=HDRS ENVID=QQ+2B314
R 250
L RCPT TO:<outside@localhost> NOTIFY=$1 ORCPT=rfc822;Orig+40example.org
R 250
L DATA
R 354
L Subject: dsn
L
L body
L .
R 250
L QUIT
R 221
EOF2
  queue_remote
}

@test "deliver-remote: RET, ENVID, NOTIFY and ORCPT go on to a peer that offers DSN" {
  peer_start --ehlo PIPELINING --ehlo DSN --ehlo "SIZE 1000000"
  remote_home "${MX[@]}"
  dsn_message SUCCESS,FAILURE
  run deliver_remote
  [ "$status" -eq 0 ]
  [[ "$output" == *"rcpt=outside@localhost channel=remote result=sent"* ]]
  grep -q '^1 MAIL FROM:<demo@localhost> SIZE=[0-9]* RET=HDRS ENVID=QQ+2B314$' "$PEER_DIR/commands.log"
  grep -q '^1 RCPT TO:<ali@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Orig@example.org$' "$PEER_DIR/commands.log"
  [ "$(ls "$(SPOOL)/queue/bounce" | wc -l)" -eq 0 ]
}

@test "deliver-remote: NOTIFY=SUCCESS to a peer without DSN: relayed, and a relayed notice" {
  peer_start
  remote_home "${MX[@]}"
  dsn_message SUCCESS
  job="$(ls "$(SPOOL)/queue/remote")"
  run deliver_remote
  [ "$status" -eq 0 ]
  [[ "$output" == *"rcpt=outside@localhost channel=remote result=relayed"*" success-notice=$job.s0-remote"* ]]
  ! grep -q 'NOTIFY=' "$PEER_DIR/commands.log"
  run record_fields "$(SPOOL)/queue/bounce/$job.s0-remote"
  [[ "$output" == *$'\nToutside@localhost\nnSUCCESS\norfc822;Orig@example.org\n'*$'\ns2.0.0\nr250\nmmx1.example.test [127.0.0.1]\narelayed' ]]
}

@test "deliver-remote: a message over the peer's SIZE fails 552 5.3.4 before MAIL" {
  peer_start --ehlo PIPELINING --ehlo "SIZE 100"
  remote_home "${MX[@]}"
  send 1 alice@example.test
  queue_remote
  run deliver_remote
  [ "$status" -eq 0 ]
  [[ "$output" == *"rcpt=alice@example.test channel=remote result=failed"*"code=552 status=5.3.4"* ]]
  ! grep -q 'MAIL FROM' "$PEER_DIR/commands.log"
}

@test "deliver-remote: a peer that stops answering is given up on within OutboundTimeout" {
  peer_start --delay 30
  remote_home "${MX[@]}"
  set_mail_key OutboundTimeout 2
  send 1 alice@example.test
  queue_remote
  start=$SECONDS
  run deliver_remote
  [ "$status" -eq 111 ]
  [ $((SECONDS - start)) -lt 20 ]
  [[ "$output" == *"result=deferred"*"status=4."*"reason=\"connect to mx1.example.test[127.0.0.1]:$PEER_PORT: "* ]]
}

@test "deliver-remote: an MX list naming this host: only better MX hosts are used; as the best MX it is a loop" {
  peer_start
  remote_home --mx-host=loop.test,localhost,10 --mx-host=backup.test,mx1.example.test,5 \
    --mx-host=backup.test,localhost,10 --host-record=mx1.example.test,127.0.0.1 --host-record=localhost,127.0.0.1
  send 1 a@loop.test
  send 2 b@backup.test
  queue_remote
  run deliver_remote
  [ "$status" -eq 0 ]
  [[ "$output" == *"rcpt=a@loop.test channel=remote result=failed"*"code=554 status=5.4.6"*"reason=\"mail for loop.test loops back to myself (localhost is its best MX)\""* ]]
  [[ "$output" == *"rcpt=b@backup.test channel=remote result=sent"*"relay=mx1.example.test[127.0.0.1]"* ]]
  [ "$(peer_messages)" -eq 1 ]
}

@test "deliver-remote: NO_AUTO_EXEMPT keeps etc/dnsbl_exempt.cfg untouched; without it each address is added once" {
  peer_start
  remote_home "${MX[@]}"
  set_options "ALLOW_POP3 | NO_AUTO_EXEMPT"
  send 1 alice@example.test
  queue_remote
  deliver_remote 2>/dev/null
  [ "$(peer_messages)" -eq 1 ]
  [ ! -e "$HOME_DIR/etc/dnsbl_exempt.cfg" ]
  set_options "ALLOW_POP3"
  printf 'old@example.test' > "$HOME_DIR/etc/dnsbl_exempt.cfg"
  send 2 alice@example.test old@example.test
  queue_remote
  deliver_remote 2>/dev/null
  [ "$(cat "$HOME_DIR/etc/dnsbl_exempt.cfg")" = $'old@example.test\nalice@example.test' ]
  # compared without case
  send 3 ALICE@example.test
  queue_remote
  deliver_remote 2>/dev/null
  [ "$(peer_messages)" -eq 3 ]
  [ "$(cat "$HOME_DIR/etc/dnsbl_exempt.cfg")" = $'old@example.test\nalice@example.test' ]
}
