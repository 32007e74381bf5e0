#!/usr/bin/env bats
# smtpd: ETRN (RFC 1985) releases the deferred remote jobs of a domain, of
# its subdomains (@domain) or of a whole channel (#queue), and pokes runq.
load helper
load lib/smtp
load lib/stages
load lib/defer

setup() { smtp_setup; }

# etrn_line CODE: the one event=etrn log line with that code.
etrn_line() { grep "event=etrn .*code=$1 " "$BATS_TEST_TMPDIR/SMTP_PORT.log"; }

# three deferred remote jobs: example.org, sub.example.org, other.net
defer_three() {
  bucket="$(future_bucket)"
  remote_job 1 a@example.org && J1="$JOB" && defer_job remote "$J1" "$bucket" 1 0
  remote_job 2 b@sub.example.org && J2="$JOB" && defer_job remote "$J2" "$bucket" 1 0
  remote_job 3 c@other.net && J3="$JOB" && defer_job remote "$J3" "$bucket" 1 0
  [ "$(deferred_count remote)" -eq 3 ]
  [ "$(job_count remote)" -eq 0 ]
}

@test "EHLO advertises ETRN; PARAM NoETRN removes it and the command; ETRN-OK brings it back (as PIPELINING-OK does)" {
  run chat <<'EOF2'
R 220
L EHLO client.example
R 250 HELP
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(grep -c '^< 250-ETRN$' <<<"$output")" -eq 1 ]
  conf_param NoETRN
  run chat <<'EOF2'
R 220
L EHLO client.example
R 250 HELP
L ETRN example.org
R 500 5.5.1 Command unrecognized
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(grep -c 'ETRN' <<<"$output")" -eq 0 ]
  conf_param ETRN-OK NoPIPELINING
  run chat <<'EOF2'
R 220
L EHLO client.example
R 250 HELP
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(grep -c '^< 250-PIPELINING$' <<<"$output")" -eq 0 ]
  conf_param PIPELINING-OK
  run chat <<'EOF2'
R 220
L EHLO client.example
R 250 HELP
L ETRN example.org
R 251
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(grep -c '^< 250-ETRN$' <<<"$output")" -eq 1 ]
  [ "$(grep -c '^< 250-PIPELINING$' <<<"$output")" -eq 1 ]
}

@test "ETRN domain: 253 with the count, the job moves to the queue, others stay deferred, one log line" {
  defer_three
  run chat <<'EOF2'
R 220
L EHLO client.example
R 250
L ETRN example.org
R 253 2.0.0 OK, 1 pending messages for node example.org started
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(queued_jobs remote)" = "$J1" ]
  [ "$(deferred_jobs remote)" = "$(printf '%s\n' "$J2" "$J3" | sort)" ]
  # the job keeps its body link, its mark and its attempt count
  [ -e "$(SPOOL)/body/remote-$J1" ]
  [ "$(stat -c %a "$(SPOOL)/queue/remote/$J1")" = "400" ]
  [ "$(record_fields "$(SPOOL)/queue/remote/$J1" | grep -c '^Q1$')" -eq 1 ]
  run etrn_line 253
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" =~ ^"smtpd: info: session="[0-9]+" event=etrn ip=127.0.0.1 domain=example.org code=253 status=2.0.0 released=1"$ ]]
}

@test "ETRN @domain takes the domain and its subdomains; a look-alike domain stays" {
  defer_three
  remote_job 4 d@notexample.org && J4="$JOB" && defer_job remote "$J4" "$bucket" 1 0
  run chat <<'EOF2'
R 220
L EHLO client.example
R 250
L ETRN sub.example.org
R 253 2.0.0 OK, 1 pending messages for node sub.example.org started
L ETRN @EXAMPLE.org
R 253 2.0.0 OK, 1 pending messages for node @EXAMPLE.org started
L ETRN @example.org
R 251 2.0.0 OK, no messages waiting for node @example.org
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(queued_jobs remote)" = "$(printf '%s\n' "$J1" "$J2" | sort)" ]
  [ "$(deferred_jobs remote)" = "$(printf '%s\n' "$J3" "$J4" | sort)" ]
}

@test "ETRN 251 when nothing is deferred for the node; also after HELO" {
  defer_three
  run chat <<'EOF2'
R 220
L HELO client.example
R 250
L ETRN nothing.example
R 251 OK, no messages waiting for node nothing.example
L ETRN org
R 251 OK, no messages waiting for node org
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(deferred_count remote)" -eq 3 ]
  [ "$(etrn_line 251 | grep -c 'domain=nothing.example code=251 status=2.0.0 released=0$')" -eq 1 ]
}

@test "ETRN matches a recipient's target (a forward address), not the address it came to" {
  bbsmail-user set demo --forward demo@dialup.example --flags forward
  remote_job 1 demo@localhost
  [ "$(record_fields "$(SPOOL)/queue/remote/$JOB" | grep -c '^tdemo@dialup.example$')" -eq 1 ]
  defer_job remote "$JOB" "$(future_bucket)" 2 0
  run chat <<'EOF2'
R 220
L EHLO client.example
R 250
L ETRN localhost
R 251
L ETRN dialup.example.
R 253 2.0.0 OK, 1 pending messages for node dialup.example. started
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(queued_jobs remote)" = "$JOB" ]
  [ "$(deferred_count remote)" -eq 0 ]
}

@test "ETRN #remote releases the whole channel; an unknown queue is 459, a bad name 501" {
  defer_three
  run chat <<'EOF2'
R 220
L EHLO client.example
R 250
L ETRN #nosuch
R 459 4.7.1 #nosuch: node not allowed
L ETRN #no such
R 501 5.5.4
L ETRN #remote
R 253 2.0.0 OK, 3 pending messages for node #remote started
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(job_count remote)" -eq 3 ]
  [ "$(deferred_count remote)" -eq 0 ]
  [ "$(etrn_line 459 | grep -c 'domain=#nosuch code=459 status=4.7.1 released=0 reason="unknown queue"$')" -eq 1 ]
}

@test "ETRN syntax errors are 501 5.5.4: empty, bad domain, over-long, two words; each logged quoted" {
  long="$(printf 'a%.0s' $(seq 1 250)).example"
  run chat <<EOF2
R 220
L EHLO client.example
R 250
L ETRN
R 501 5.5.4 Syntax: ETRN <domain> | @<domain> | #<queue>
L ETRN exa..mple.org
R 501 5.5.4
L ETRN bad!name.example
R 501 5.5.4
L ETRN $long
R 501 5.5.4
L ETRN a b
R 501 5.5.4
L ETRN @
R 501 5.5.4
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(etrn_line 501 | wc -l)" -eq 6 ]
  [ "$(etrn_line 501 | grep -c 'domain="a b" code=501 status=5.5.4 released=0 reason=syntax$')" -eq 1 ]
  [ "$(etrn_line 501 | grep -c 'domain="" code=501')" -eq 1 ]
}

@test "ETRN in a mail transaction is 503; after RSET it works" {
  defer_three
  run chat <<'EOF2'
R 220
L EHLO client.example
R 250
L MAIL FROM:<x@example.net>
R 250
L ETRN example.org
R 503 5.5.1 ETRN not allowed during a mail transaction
L RCPT TO:<demo@localhost>
R 250
L ETRN example.org
R 503 5.5.1
L RSET
R 250
L ETRN example.org
R 253
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(queued_jobs remote)" = "$J1" ]
}

@test "ETRN before HELO is 503" {
  run chat <<'EOF2'
R 220
L ETRN example.org
R 503 5.5.1 Send HELO/EHLO first
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "ETRN: 5 per session, the 6th is 458 4.7.0 and releases nothing" {
  defer_three
  run chat <<'EOF2'
R 220
L EHLO client.example
R 250
L ETRN a.example
R 251
L ETRN b.example
R 251
L ETRN c.example
R 251
L ETRN d.example
R 251
L ETRN e.example
R 251
L ETRN example.org
R 458 4.7.0 Unable to queue messages for node example.org: too many ETRN commands
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(deferred_count remote)" -eq 3 ]
  [ "$(etrn_line 458 | grep -c 'domain=example.org code=458 status=4.7.0 released=0 reason="too many ETRN commands in this session"$')" -eq 1 ]
  # a new session may ETRN again
  run chat <<'EOF2'
R 220
L EHLO client.example
R 250
L ETRN example.org
R 253
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "ETRN leaves a job tried less than 60 s ago; one tried earlier goes" {
  bucket="$(future_bucket)"
  remote_job 1 a@example.org && fresh="$JOB" && defer_job remote "$fresh" "$bucket" 3 $(( $(date +%s) - 10 ))
  remote_job 2 b@example.org && old="$JOB" && defer_job remote "$old" "$bucket" 3 $(( $(date +%s) - 120 ))
  run chat <<'EOF2'
R 220
L EHLO client.example
R 250
L ETRN example.org
R 253 2.0.0 OK, 1 pending messages for node example.org started
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(queued_jobs remote)" = "$old" ]
  [ "$(deferred_jobs remote)" = "$fresh" ]
}

@test "ETRN: a spool error is 458 4.0.0, logged with the error" {
  defer_three
  # a bucket that is not a directory cannot be read
  echo x > "$(SPOOL)/defer/remote/4102444800"
  run chat <<'EOF2'
R 220
L EHLO client.example
R 250
L ETRN example.org
R 458 4.0.0 Unable to queue messages for node example.org
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(etrn_line 458 | grep -c 'domain=example.org code=458 status=4.0.0 released=1 reason="Not a directory"$')" -eq 1 ]
  # what could be released was
  [ "$(queued_jobs remote)" = "$J1" ]
}

@test "ETRN pokes the trigger: runq -l runs the remote stage at once (RescanFrequency 60)" {
  set_mail_key RescanFrequency 60
  defer_three
  # a stand-in deliver-remote lists the remote queue each time it runs
  mkdir "$BATS_TEST_TMPDIR/libexec"
  printf '#!/bin/sh\nls "%s/queue/remote" >> "%s/seen"\necho pass >> "%s/seen"\n' \
    "$(SPOOL)" "$BATS_TEST_TMPDIR" "$BATS_TEST_TMPDIR" > "$BATS_TEST_TMPDIR/libexec/deliver-remote"
  chmod +x "$BATS_TEST_TMPDIR/libexec/deliver-remote"
  BBSMAIL_LIBEXEC="$BATS_TEST_TMPDIR/libexec" start_runq_loop
  sleep 0.5
  # nothing of the remote channel is due: runq does not start its stage
  [ ! -e "$BATS_TEST_TMPDIR/seen" ]
  run chat <<'EOF2'
R 220
L EHLO client.example
R 250
L ETRN @example.org
R 253 2.0.0 OK, 2 pending messages
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  for i in $(seq 1 100); do [ "$(grep -c pass "$BATS_TEST_TMPDIR/seen" 2>/dev/null)" = 1 ] && break; sleep 0.05; done
  [ "$(cat "$BATS_TEST_TMPDIR/seen")" = "$(printf '%s\npass' "$(printf '%s\n' "$J1" "$J2" | sort)")" ]
}
