#!/usr/bin/env bats
# libexec/deliver-remote against a real Postfix (t/lib/postfix.bash): TLS
# when it is offered, byte-exact arrival, and RelayServer with each AUTH
# mechanism.  The MX records come from a dnsmasq on loopback.

load helper
load lib/stages
load lib/dnsmasq
load lib/postfix
load lib/remote

teardown() {
  postfix_stop
  kill_tracked
}

MX=(--mx-host=postfix.test,mx.postfix.test,10 --host-record=mx.postfix.test,127.0.0.1)

@test "deliver-remote -> Postfix: STARTTLS used when offered, the message arrives byte for byte" {
  postfix_start tls=1
  PEER_PORT="$POSTFIX_PORT" remote_home "${MX[@]}"
  inject 1 alice@postfix.test
  "$LIBEXEC/route" 2>/dev/null
  run "$LIBEXEC/deliver-remote"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"event=session relay=mx.postfix.test[127.0.0.1]:$POSTFIX_PORT tls=yes verified=no auth=none"* ]]
  [[ "$output" == *"event=tls relay=mx.postfix.test[127.0.0.1]:$POSTFIX_PORT TLSv1."* ]]
  [[ "$output" == *"rcpt=alice@postfix.test channel=remote result=sent"*"tls=yes reply=\"250 2.0.0\""* ]]
  postfix_wait_stored alice@postfix.test 1
  # The peer's header_checks drop every Received line (ours too): what is
  # stored is the message as injected, byte for byte.
  cmp "$(postfix_stored alice@postfix.test)" "$BATS_TEST_TMPDIR/sent/1"
  postfix_log | grep -q "Anonymous TLS connection established from"
}

@test "deliver-remote -> Postfix: several messages over one connection" {
  postfix_start
  PEER_PORT="$POSTFIX_PORT" remote_home "${MX[@]}"
  set_mail_key OutboundPerDestination 1
  for i in 1 2 3 4; do inject "$i" alice@postfix.test bob@postfix.test; done
  "$LIBEXEC/route" 2>/dev/null
  run "$LIBEXEC/deliver-remote"
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | grep -c 'result=sent')" -eq 8 ]
  [ "$(echo "$output" | grep -c 'event=session')" -eq 1 ]
  postfix_wait_stored alice@postfix.test 4
  postfix_wait_stored bob@postfix.test 4
  # One smtpd process took all four (one session).
  [ "$(postfix_log | sed -n 's/.*postfix\/smtpd\[\([0-9]*\)\]: [0-9A-F]*: client=.*/\1/p' | sort -u | wc -l)" -eq 1 ]
  [ "$(postfix_log | grep -c 'postfix/smtpd.*: [0-9A-F]*: client=')" -eq 4 ]
}

# relay_home PASSWORD: a home whose RelayServer is the Postfix instance,
# user alice with that password (set the Options after it).
relay_home() {
  make_home
  set_mail_key RelayServer 127.0.0.1
  set_mail_key RelayPort "$POSTFIX_PORT"
  set_mail_key RelayUsername alice
  set_mail_key RelayPassword "$1"
  set_mail_key OutboundTimeout 20
}

# relay_case MECH FLAG: Postfix requiring AUTH with MECH over TLS, used
# as RelayServer with RELAY_AUTH_<FLAG>.
relay_case() {
  postfix_start tls=1 sasl="$1"
  postfix_sasl_user alice 'right pass'
  relay_home 'right pass'
  set_options "ALLOW_POP3 | RELAY_TX | RELAY_AUTH_$2"
  inject 1 bob@postfix.test
  "$LIBEXEC/route" 2>/dev/null
  run "$LIBEXEC/deliver-remote"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"event=session relay=127.0.0.1[127.0.0.1]:$POSTFIX_PORT tls=yes verified=no auth=$1"* ]]
  postfix_wait_stored bob@postfix.test 1
  postfix_log | grep -q "sasl_method=$1, sasl_username=alice@postfix.test"
}

@test "deliver-remote -> Postfix relay: AUTH PLAIN" { relay_case PLAIN PLAIN; }
@test "deliver-remote -> Postfix relay: AUTH LOGIN" { relay_case LOGIN LOGIN; }
@test "deliver-remote -> Postfix relay: AUTH CRAM-MD5" { relay_case CRAM-MD5 CRAM_MD5; }

@test "deliver-remote -> Postfix relay: a wrong password is retried, then bounced after MaxDeliveryAttempts" {
  postfix_start tls=1 sasl=PLAIN
  postfix_sasl_user alice 'right pass'
  relay_home wrong
  set_mail_key MaxDeliveryAttempts 2
  set_options "ALLOW_POP3 | RELAY_TX | RELAY_AUTH_PLAIN"
  inject 1 bob@postfix.test
  "$LIBEXEC/route" 2>/dev/null
  job="$(ls "$(SPOOL)/queue/remote")"
  run "$LIBEXEC/deliver-remote"
  [ "$status" -eq 111 ]
  [[ "$output" == *"rcpt=bob@postfix.test channel=remote result=deferred"*"code=435 status=4.7.8 attempts=1"*"reason=\"AUTH to 127.0.0.1[127.0.0.1]:$POSTFIX_PORT: "*"535 5.7.8 Error: authentication failed"* ]]
  run "$LIBEXEC/deliver-remote"
  [ "$status" -eq 0 ]
  [ "$(deferred_count remote)" -eq 1 ]
  run "$BBSMAIL_ROOT/bin/runq" -f
  [[ "$output" == *"rcpt=bob@postfix.test channel=remote result=failed"*"code=554 status=5.4.7 bounce=$job.b1-remote reason=\"gave up after 2 attempts: AUTH to "* ]]
  [ "$(postfix_stored bob@postfix.test | wc -l)" -eq 0 ]
}

@test "deliver-remote -> Postfix relay: no AUTH without TLS unless RelayAuthPlaintext" {
  postfix_start sasl=PLAIN
  postfix_sasl_user alice 'right pass'
  relay_home 'right pass'
  set_options "ALLOW_POP3 | RELAY_TX | RELAY_AUTH_PLAIN"
  inject 1 bob@postfix.test
  "$LIBEXEC/route" 2>/dev/null
  run "$LIBEXEC/deliver-remote"
  [ "$status" -eq 111 ]
  [[ "$output" == *"result=deferred"*"reason=\"AUTH to 127.0.0.1[127.0.0.1]:$POSTFIX_PORT: "* ]]
  ! postfix_log | grep -q "sasl_method"
  set_mail_key RelayAuthPlaintext 1
  run "$BBSMAIL_ROOT/bin/runq" -f
  [[ "$output" == *"rcpt=bob@postfix.test channel=remote result=sent"* ]]
  postfix_wait_stored bob@postfix.test 1
}

@test "deliver-remote -> smtp-sink: the message arrives byte for byte" {
  smtp_sink_start
  PEER_PORT="$SINK_PORT" remote_home "${MX[@]}"
  inject 1 alice@postfix.test
  "$LIBEXEC/route" 2>/dev/null
  run "$LIBEXEC/deliver-remote"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  for i in $(seq 1 100); do [ -n "$(sink_files)" ] && break; sleep 0.1; done
  [ "$(sink_files | wc -l)" -eq 1 ]
  sink_message "$(sink_files)" | sed 1d > "$BATS_TEST_TMPDIR/arrived"
  cmp "$BATS_TEST_TMPDIR/arrived" "$BATS_TEST_TMPDIR/sent/1"
}
