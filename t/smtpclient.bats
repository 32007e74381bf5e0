#!/usr/bin/env bats
# The ESMTP client library (src/lib/smtpclient.c) through build/t/smtp-send,
# against real peers: Postfix's smtp-sink and a private Postfix instance
# (t/lib/postfix.bash), plus tcpserver stubs for a refusing or silent host.
load helper
load lib/postfix

SEND="$BBSMAIL_ROOT/build/t/smtp-send"
# LeakSanitizer cannot run under strace (SANITIZE=1 builds): traced runs only.
NO_LSAN="ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

teardown() {
  postfix_stop
  kill_tracked
}

# send ARGS...: the driver, bounded; output in $output, exit in $status.
send() { run timeout 60 "$SEND" "$@"; }

# msg NAME PRINTF-FORMAT: writes a spool-style message file, sets $MSG.
msg() {
  MSG="$BATS_TEST_TMPDIR/$1"
  printf "$2" > "$MSG"
}

# expected_arrival FILE: FILE as a peer stores it (a last line gets its LF).
expected_arrival() {
  cat "$1"
  [ -z "$(tail -c 1 "$1")" ] || printf '\n'
}

DOTS='Subject: dots\nTo: alice@postfix.test\n\n.\n..\n.leading dot\n...\nmiddle . line\n.\nlast line without LF'

# ---- smtp-sink -------------------------------------------------------------

@test "sink: byte-exact arrival, dot lines unstuffed, the last line terminated" {
  smtp_sink_start
  msg m "$DOTS"
  send -f s@x.test -r a@x.test 127.0.0.1 "$SINK_PORT" "$MSG"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *$'\nrcpt=a@x.test code=250 status=2.0.0 remote=1 text=Ok\n'* ]]
  [ "$(sink_files | wc -l)" -eq 1 ]
  diff <(expected_arrival "$MSG") <(sink_message "$(sink_files)")
  grep -qx 'X-Mail-Args: <s@x.test>' "$(sink_files)"
}

@test "sink: PIPELINING sends MAIL, every RCPT and DATA in one write (or send)" {
  smtp_sink_start
  msg m 'Subject: p\n\nhi\n'
  run env "$NO_LSAN" timeout 60 strace -f -qq -e trace=write,sendto -s 512 -o "$BATS_TEST_TMPDIR/trace" \
    "$SEND" -f s@x.test -r a@x.test -r b@x.test 127.0.0.1 "$SINK_PORT" "$MSG"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"pipelining=yes"* ]]
  [[ "$output" == *"sent pipelined=yes bdat=no"* ]]
  grep -F 'MAIL FROM:<s@x.test>\r\nRCPT TO:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n"' "$BATS_TEST_TMPDIR/trace"
  [ "$(grep -c 'RCPT TO' "$BATS_TEST_TMPDIR/trace")" -eq 1 ]
}

@test "sink: without PIPELINING each command waits for its reply" {
  smtp_sink_start -p
  msg m 'Subject: p\n\nhi\n'
  run env "$NO_LSAN" timeout 60 strace -f -qq -e trace=write,sendto -s 512 -o "$BATS_TEST_TMPDIR/trace" \
    "$SEND" -f s@x.test -r a@x.test -r b@x.test 127.0.0.1 "$SINK_PORT" "$MSG"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"sent pipelined=no"* ]]
  [ "$(grep -c 'MAIL FROM:<s@x.test>\\r\\n"' "$BATS_TEST_TMPDIR/trace")" -eq 1 ]
  [ "$(grep -c '"RCPT TO:<[ab]@x.test>\\r\\n"' "$BATS_TEST_TMPDIR/trace")" -eq 2 ]
  [ "$(grep -c '"DATA\\r\\n"' "$BATS_TEST_TMPDIR/trace")" -eq 1 ]
  [ "$(sink_files | wc -l)" -eq 1 ]
}

@test "sink: DSN parameters go xtext-encoded when DSN is offered, not at all otherwise" {
  smtp_sink_start
  msg m 'Subject: d\n\nhi\n'
  send -f s@x.test -r a@x.test -N SUCCESS,FAILURE -O 'rfc822;a+b=c@x.test' -r b@x.test \
    -R HDRS -E 'id=1 +' 127.0.0.1 "$SINK_PORT" "$MSG"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"dsn=yes data=yes"* ]]
  f="$(sink_files)"
  grep -qx 'X-Mail-Args: <s@x.test> RET=HDRS ENVID=id+3D1+20+2B' "$f"
  grep -qx 'X-Rcpt-Args: <a@x.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bb+3Dc@x.test' "$f"
  grep -qx 'X-Rcpt-Args: <b@x.test>' "$f"
  kill_tracked
  smtp_sink_start -N
  send -f s@x.test -r a@x.test -N SUCCESS -O 'rfc822;a@x.test' -R HDRS -E x 127.0.0.1 "$SINK_PORT" "$MSG"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  grep -qx 'X-Mail-Args: <s@x.test>' "$(sink_files)"
  grep -qx 'X-Rcpt-Args: <a@x.test>' "$(sink_files)"
}

@test "sink: 8-bit data gets BODY=8BITMIME, or goes as it is (and says so) without 8BITMIME" {
  smtp_sink_start
  msg m 'Subject: 8\n\ncaf\303\251\n'
  send -f s@x.test -r a@x.test 127.0.0.1 "$SINK_PORT" "$MSG"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"8bitmime=yes 8bit-as-is=no"* ]]
  grep -qx 'X-Mail-Args: <s@x.test> BODY=8BITMIME' "$(sink_files)"
  kill_tracked
  smtp_sink_start -8
  send -f s@x.test -r a@x.test 127.0.0.1 "$SINK_PORT" "$MSG"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"8bitmime=no 8bit-as-is=yes"* ]]
  grep -qx 'X-Mail-Args: <s@x.test>' "$(sink_files)"
  diff <(expected_arrival "$MSG") <(sink_message "$(sink_files)")
}

@test "sink: a UTF-8 address to a peer without SMTPUTF8 gets 553 5.6.7 here, the rest goes" {
  smtp_sink_start
  msg m 'Subject: u\n\nhi\n'
  send -f s@x.test -r $'j\303\266@x.test' -r a@x.test 127.0.0.1 "$SINK_PORT" "$MSG"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *$'code=553 status=5.6.7 remote=0 text=non-ASCII recipient address'* ]]
  [[ "$output" == *$'\nrcpt=a@x.test code=250 status=2.0.0 remote=1'* ]]
  [ "$(grep -c '^X-Rcpt-Args:' "$(sink_files)")" -eq 1 ]
  # A UTF-8 sender: nothing is sent at all.
  send -f $'j\303\266@x.test' -r a@x.test 127.0.0.1 "$SINK_PORT" "$MSG"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *$'\nrcpt=a@x.test code=553 status=5.6.7 remote=0 text=non-ASCII sender'* ]]
  [[ "$output" == *"data=no"* ]]
  [ "$(sink_files | wc -l)" -eq 1 ]
}

@test "sink: a 421 to RCPT ends the session; every recipient gets it, to retry" {
  smtp_sink_start -Q RCPT
  msg m 'Subject: q\n\nhi\n'
  send -f s@x.test -r a@x.test -r b@x.test 127.0.0.1 "$SINK_PORT" "$MSG"
  [ "$status" -eq 111 ]
  [ "$(grep -c '^rcpt=[ab]@x.test code=421 ' <<< "$output")" -eq 2 ]
  [[ "$output" == *"error temporary=1 connection=1 code=421 "* ]]
}

@test "sink: MAIL refused: every recipient gets the MAIL reply, nothing else is sent" {
  smtp_sink_start -f MAIL
  msg m 'Subject: q\n\nhi\n'
  send -f s@x.test -r a@x.test -r b@x.test 127.0.0.1 "$SINK_PORT" "$MSG"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(grep -c '^rcpt=[ab]@x.test code=500 status=5.3.0 remote=1 text=Error: command failed$' <<< "$output")" -eq 2 ]
  [[ "$output" == *"data=no"* ]]
  [[ "$output" == *"usable=yes"* ]]
  [ "$(sink_files | wc -l)" -eq 0 ]
}

@test "sink: a peer that stops answering at DATA: timeout, all recipients to retry" {
  smtp_sink_start -p -w 30   # -p: the RCPT replies come before DATA's wait
  msg m 'Subject: w\n\nhi\n'
  start=$SECONDS
  send -T 2 -f s@x.test -r a@x.test -r b@x.test 127.0.0.1 "$SINK_PORT" "$MSG"
  [ "$status" -eq 111 ]
  [ $((SECONDS - start)) -lt 20 ]
  [ "$(grep -c '^rcpt=[ab]@x.test code=0 status=- remote=0 text=DATA: timed out$' <<< "$output")" -eq 2 ]
}

@test "sink: EHLO refused: HELO, no ESMTP extension is used" {
  smtp_sink_start -e
  msg m 'Subject: h\n\ncaf\303\251\n'
  send -f s@x.test -r a@x.test -N SUCCESS 127.0.0.1 "$SINK_PORT" "$MSG"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == "esmtp=no pipelining=no chunking=no 8bitmime=no smtputf8=no dsn=no "* ]]
  [[ "$output" == *"sent pipelined=no bdat=no 8bitmime=no 8bit-as-is=yes smtputf8=no dsn=no data=yes"* ]]
  grep -qx 'X-Client-Proto: SMTP' "$(sink_files)"
  grep -qx 'X-Mail-Args: <s@x.test>' "$(sink_files)"
  grep -qx 'X-Rcpt-Args: <a@x.test>' "$(sink_files)"
}

# ---- hosts that refuse or say nothing ---------------------------------------

# stub VAR COMMAND...: COMMAND per connection under tcpserver on a free port.
stub() {
  local var="$1" port
  shift
  port="$(free_port)"
  tcpserver -R -H 127.0.0.1 "$port" "$@" 2>/dev/null &
  track_pid $!
  wait_port "$port"
  printf -v "$var" '%s' "$port"
}

@test "a 4xx greeting is a temporary session failure, a 5xx one permanent" {
  stub PORT sh -c 'printf "421 4.3.2 Busy, try later\r\n"; sleep 5'
  msg m 'Subject: g\n\nhi\n'
  send -f s@x.test -r a@x.test 127.0.0.1 "$PORT" "$MSG"
  [ "$status" -eq 111 ]
  [ "$output" = "error temporary=1 connection=1 code=421 status=4.3.2 text=greeting: 421 4.3.2 Busy, try later" ]
  kill_tracked
  stub PORT sh -c 'printf "554-5.7.1 No\r\n554 5.7.1 go away\r\n"; sleep 5'
  send -f s@x.test -r a@x.test 127.0.0.1 "$PORT" "$MSG"
  [ "$status" -eq 100 ]
  [ "$output" = "error temporary=0 connection=1 code=554 status=5.7.1 text=greeting: 554 5.7.1 No go away" ]
}

@test "connection refused, and a peer that never answers (timeout)" {
  port="$(free_port)"
  msg m 'Subject: c\n\nhi\n'
  send -f s@x.test -r a@x.test 127.0.0.1 "$port" "$MSG"
  [ "$status" -eq 111 ]
  [ "$output" = "error temporary=1 connection=1 code=0 status=- text=unable to connect to [127.0.0.1]:$port: Connection refused" ]
  stub PORT sleep 30
  start=$SECONDS
  send -T 2 -f s@x.test -r a@x.test 127.0.0.1 "$PORT" "$MSG"
  [ "$status" -eq 111 ]
  [ "$output" = "error temporary=1 connection=1 code=0 status=- text=reading the greeting: timed out" ]
  [ $((SECONDS - start)) -lt 20 ]
}

@test "a malformed reply is a protocol error that ends the session" {
  stub PORT sh -c 'printf "220-mx\r\n250 mixed codes\r\n"; sleep 5'
  msg m 'Subject: c\n\nhi\n'
  send -f s@x.test -r a@x.test 127.0.0.1 "$PORT" "$MSG"
  [ "$status" -eq 111 ]
  [ "$output" = "error temporary=1 connection=1 code=0 status=- text=reading the greeting: reply lines with different codes" ]
}

@test "a reply line past 2 KiB is a protocol error" {
  python3 -c "print('250-' + 'x' * 2100)" > "$BATS_TEST_TMPDIR/long"
  stub PORT sh -c 'printf "220 ok\r\n"; read line; cat "$0"; sleep 5' "$BATS_TEST_TMPDIR/long"
  msg m 'Subject: c\n\nhi\n'
  send -f s@x.test -r a@x.test 127.0.0.1 "$PORT" "$MSG"
  [ "$status" -eq 111 ]
  [ "$output" = "error temporary=1 connection=1 code=0 status=- text=EHLO: reply line longer than 2048 bytes" ]
}

# ---- the private Postfix -----------------------------------------------------

@test "postfix: byte-exact arrival through BDAT (CHUNKING), per-recipient results" {
  postfix_start
  msg m "$DOTS"
  send -f s@x.test -r alice@postfix.test -r nobody@postfix.test -r bob@postfix.test 127.0.0.1 "$POSTFIX_PORT" "$MSG"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"chunking=yes"* ]]
  [[ "$output" == *"sent pipelined=yes bdat=yes"* ]]
  [[ "$output" == *$'\nrcpt=alice@postfix.test code=250 status=2.0.0 remote=1 text=Ok: '* ]]
  [[ "$output" == *$'\nrcpt=nobody@postfix.test code=550 status=5.1.1 remote=1 text=<nobody@postfix.test>: Recipient address rejected: User unknown in local recipient table\n'* ]]
  [[ "$output" == *$'\nrcpt=bob@postfix.test code=250 status=2.0.0 remote=1 text=Ok: '* ]]
  postfix_wait_stored alice@postfix.test 1
  postfix_wait_stored bob@postfix.test 1
  diff <(expected_arrival "$MSG") "$(postfix_stored alice@postfix.test)"
  diff <(expected_arrival "$MSG") "$(postfix_stored bob@postfix.test)"
  postfix_log | grep -q 'disconnect from .* ehlo=1 mail=1 rcpt=2/3 bdat=1 quit=1 commands=6/7'
}

@test "postfix: DATA with dot-stuffing when chunking is off, or not offered" {
  postfix_start discard=chunking
  msg m "$DOTS"
  send -f s@x.test -r alice@postfix.test 127.0.0.1 "$POSTFIX_PORT" "$MSG"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"chunking=no"* ]]
  [[ "$output" == *"sent pipelined=yes bdat=no"* ]]
  send -C -f s@x.test -r bob@postfix.test 127.0.0.1 "$POSTFIX_PORT" "$MSG"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  postfix_wait_stored alice@postfix.test 1
  postfix_wait_stored bob@postfix.test 1
  diff <(expected_arrival "$MSG") "$(postfix_stored alice@postfix.test)"
  diff <(expected_arrival "$MSG") "$(postfix_stored bob@postfix.test)"
  [ "$(postfix_log | grep -c 'disconnect from .* ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5$')" -eq 2 ]
}

@test "postfix: without PIPELINING nothing is pipelined (no 'improper command pipelining')" {
  postfix_start discard=pipelining
  msg m 'Subject: np\n\nhi\n'
  send -C -f s@x.test -r alice@postfix.test -r bob@postfix.test 127.0.0.1 "$POSTFIX_PORT" "$MSG"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"sent pipelined=no"* ]]
  postfix_wait_stored bob@postfix.test 1
  postfix_log | grep -q 'disconnect from .* ehlo=1 mail=1 rcpt=2 data=1 quit=1 commands=6$'
  ! postfix_log | grep -q 'improper command pipelining'
}

@test "postfix: a message over the peer's SIZE is refused before MAIL with 552 5.3.4" {
  postfix_start size=1000
  msg m "Subject: big\n\n$(head -c 1500 /dev/zero | tr '\0' x)\n"
  send -f s@x.test -r alice@postfix.test -r bob@postfix.test 127.0.0.1 "$POSTFIX_PORT" "$MSG"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"size=1000 "* ]]
  [ "$(grep -c "^rcpt=[a-z]*@postfix.test code=552 status=5.3.4 remote=0 text=message size 1518 exceeds the peer's limit of 1000 bytes$" <<< "$output")" -eq 2 ]
  [[ "$output" == *"data=no"* ]]
  postfix_log | grep -q 'disconnect from .* ehlo=1 quit=1 commands=2$'
}

@test "postfix: several messages over one connection, RSET between them" {
  postfix_start
  msg one 'Subject: one\n\n1\n'
  msg two 'Subject: two\n\n2\n'
  send -X -f s@x.test -r alice@postfix.test 127.0.0.1 "$POSTFIX_PORT" "$BATS_TEST_TMPDIR/one" "$BATS_TEST_TMPDIR/two"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(grep -c '^rcpt=alice@postfix.test code=250 ' <<< "$output")" -eq 2 ]
  [ "$(grep -c '^usable=yes$' <<< "$output")" -eq 2 ]
  postfix_wait_stored alice@postfix.test 2
  [ "$(cat $(postfix_stored alice@postfix.test) | sort | tr '\n' ' ')" = "  1 2 Subject: one Subject: two " ]
  postfix_log | grep -q 'disconnect from .* ehlo=1 mail=2 rcpt=2 bdat=2 rset=1 quit=1 commands=9$'
  [ "$(postfix_log | grep -c 'disconnect from .* mail=')" -eq 1 ]
}

@test "postfix: the source address (OutboundInterface) is used" {
  postfix_start
  msg m 'Subject: b\n\nhi\n'
  # Only loopback traffic: the source is 127.0.0.1 given explicitly, and an
  # address this machine does not have fails at bind(2), before any packet.
  send -b 127.0.0.1 -f s@x.test -r alice@postfix.test 127.0.0.1 "$POSTFIX_PORT" "$MSG"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  postfix_log | grep -q 'connect from [a-z]*\[127.0.0.1\]'
  send -b 192.0.2.1 -f s@x.test -r alice@postfix.test 127.0.0.1 "$POSTFIX_PORT" "$MSG"
  [ "$status" -eq 111 ]
  [[ "$output" == *"error temporary=1 connection=1 "*"192.0.2.1"* ]]
}

@test "postfix: STARTTLS is used when offered and its facts reported; -t off stays plain" {
  postfix_start tls=1
  msg m 'Subject: t\n\nhi\n'
  send -f s@x.test -r alice@postfix.test 127.0.0.1 "$POSTFIX_PORT" "$MSG"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(grep -c 'starttls=yes' <<< "$output")" -eq 1 ]    # the second EHLO does not offer it again
  [[ "$output" =~ $'\n'tls=TLSv1\.[23]\ cipher\ [A-Z0-9_-]+\ bits\ [0-9]+\ verified=no\ auth=none ]]
  postfix_log | grep -q 'Anonymous TLS connection established from unknown\[127.0.0.1\]'
  postfix_log | grep -q 'disconnect from .* ehlo=2 starttls=1 mail=1 rcpt=1 bdat=1 quit=1'
  postfix_wait_stored alice@postfix.test 1
  # -t off: plain text although the peer offers STARTTLS.
  send -t off -f s@x.test -r alice@postfix.test 127.0.0.1 "$POSTFIX_PORT" "$MSG"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *$'\ntls=none verified=no auth=none'* ]]
  postfix_log | grep -q 'disconnect from .* ehlo=1 mail=1 rcpt=1 bdat=1 quit=1 commands=5$'
}

@test "postfix: STARTTLS verified against a CA file; a wrong CA fails the handshake" {
  postfix_start tls=1
  msg m 'Subject: t\n\nhi\n'
  send -V "$POSTFIX_DIR/cert/etc/tls/cert.pem" -S localhost -f s@x.test -r alice@postfix.test 127.0.0.1 "$POSTFIX_PORT" "$MSG"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *" verified=yes auth=none"* ]]
  "$BBSMAIL_ROOT/scripts/make-cert" "$BATS_TEST_TMPDIR/other" >/dev/null
  send -V "$BATS_TEST_TMPDIR/other/etc/tls/cert.pem" -S localhost -f s@x.test -r alice@postfix.test 127.0.0.1 "$POSTFIX_PORT" "$MSG"
  [ "$status" -eq 111 ]
  [[ "$output" == *"error temporary=1 connection=1 code=0 status=- text=STARTTLS: TLS handshake"*"certificate verify failed"* ]]
}

@test "postfix: plain text when STARTTLS is not offered; 'required' then fails" {
  postfix_start
  msg m 'Subject: t\n\nhi\n'
  send -f s@x.test -r alice@postfix.test 127.0.0.1 "$POSTFIX_PORT" "$MSG"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"starttls=no"* ]]
  [[ "$output" == *$'\ntls=none verified=no auth=none'* ]]
  send -t required -f s@x.test -r alice@postfix.test 127.0.0.1 "$POSTFIX_PORT" "$MSG"
  [ "$status" -eq 111 ]
  [[ "$output" == *"error temporary=1 connection=0 code=0 status=- text=STARTTLS: the peer does not offer it" ]]
}

# auth_case MECH: Postfix offering only MECH (and TLS), the driver using it.
auth_case() {
  postfix_start tls=1 sasl="$1"
  postfix_sasl_user alice 'right pass'
  msg m 'Subject: a\n\nhi\n'
  send -a "$1" -u alice -p 'right pass' -f s@x.test -r bob@postfix.test 127.0.0.1 "$POSTFIX_PORT" "$MSG"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"auth-offered=$1"$'\n'* ]]
  [[ "$output" == *" auth=$1"* ]]
  [[ "$output" == *$'\nrcpt=bob@postfix.test code=250 '* ]]
  postfix_log | grep -q "sasl_method=$1, sasl_username=alice@postfix.test"
  send -a "$1" -u alice -p 'wrong' -f s@x.test -r bob@postfix.test 127.0.0.1 "$POSTFIX_PORT" "$MSG"
  [ "$status" -eq 100 ]
  [[ "$output" == *"error temporary=0 connection=0 code=535 status=5.7.8 text=AUTH: 535 5.7.8 Error: authentication failed"* ]]
}

@test "postfix: AUTH PLAIN, and a wrong password is a 535" { auth_case PLAIN; }
@test "postfix: AUTH LOGIN, and a wrong password is a 535" { auth_case LOGIN; }
@test "postfix: AUTH CRAM-MD5, and a wrong password is a 535" { auth_case CRAM-MD5; }

@test "postfix: AUTH without TLS only when allowed; without AUTH Postfix refuses the recipient" {
  postfix_start sasl=CRAM-MD5
  postfix_sasl_user alice secret
  msg m 'Subject: a\n\nhi\n'
  send -u alice -p secret -f s@x.test -r bob@postfix.test 127.0.0.1 "$POSTFIX_PORT" "$MSG"
  [ "$status" -eq 111 ]
  [[ "$output" == *"error temporary=1 connection=0 code=0 status=- text=AUTH: refused without TLS" ]]
  send -P -u alice -p secret -f s@x.test -r bob@postfix.test 127.0.0.1 "$POSTFIX_PORT" "$MSG"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *" auth=CRAM-MD5"* ]]
  send -f s@x.test -r bob@postfix.test 127.0.0.1 "$POSTFIX_PORT" "$MSG"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *$'\nrcpt=bob@postfix.test code=554 status=5.7.1 remote=1 text=<bob@postfix.test>: Recipient address rejected: Access denied\n'* ]]
}

@test "postfix: SMTPUTF8 is given for a UTF-8 recipient the peer accepts" {
  postfix_start users=$'j\303\266'
  msg m 'Subject: u\n\nhi\n'
  send -f s@x.test -r $'j\303\266@postfix.test' 127.0.0.1 "$POSTFIX_PORT" "$MSG"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"smtputf8=yes dsn"*"smtputf8=yes"* ]]
  [[ "$output" == *$'\nrcpt=j\303\266@postfix.test code=250 '* ]]
  postfix_wait_stored $'j\303\266@postfix.test' 1
}

@test "unit: the reply and EHLO parsers" {
  run timeout 20 "$BBSMAIL_ROOT/build/t/smtpclient-test"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}
