#!/usr/bin/env bats
# smtpd: STARTTLS (RFC 3207), SMTPS (-s, RFC 8314), the plaintext-injection
# attack (CVE-2011-0411), a missing key, and the Received line.
load helper
load lib/smtp

setup_file() { tls_setup_file; }
setup() {
  make_home "Options = ALLOW_POP3 | ALLOW_RELAY"
  tls_home
  start_smtpd
}

@test "EHLO offers STARTTLS; swaks --tls delivers; Received says ESMTPS and the cipher" {
  run swaks_to "$SMTP_PORT" --tls --to demo@localhost --data $'Subject: tls\n\nover TLS'
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"<-  250-STARTTLS"* ]]
  [[ "$output" == *"<~  250 2.0.0 Ok: queued as "* ]]
  # Inside TLS, EHLO no longer lists STARTTLS.
  ! [[ "$output" == *"<~  250-STARTTLS"* ]]
  [ "$(incoming_count)" -eq 1 ]
  f=$(incoming_files)
  run grep -c $'^\t(using TLSv1.3 cipher TLS_AES_256_GCM_SHA384 bits 256)$' "$f"
  [ "$output" = 1 ]
  grep -q $'^\tby localhost (bbsmail) with ESMTPS id ' "$f"
  [ "$(envelope_of "$f" | grep '^P ')" = "P ESMTPS" ]
  grep -q 'smtpd: info: session=[0-9]* event=starttls ip=127.0.0.1 version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 discarded=0' \
    "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}

@test "after STARTTLS the session starts over: EHLO needed, no second STARTTLS (503 5.5.1)" {
  run chat <<EOF2
$HELLO
L MAIL FROM:<a@example.org>
R 250
L STARTTLS
R 220 2.0.0 Ready to start TLS
TLS
L MAIL FROM:<a@example.org>
R 503 5.5.1 Send HELO/EHLO first
L STARTTLS
R 503 5.5.1 TLS already active
L EHLO client.example
R 250 HELP
L STARTTLS
R 503 5.5.1
L MAIL FROM:<a@example.org>
R 250 2.1.0
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"tls: TLSv1.3 TLS_AES_256_GCM_SHA384"* ]]
  # The post-TLS EHLO does not offer STARTTLS again.
  [ "$(grep -c 'STARTTLS' <<< "$output")" -eq 1 ]
  run chat <<EOF2
$HELLO
L STARTTLS now
R 501 5.5.4 Syntax: STARTTLS
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "CVE-2011-0411: a command sent with STARTTLS in one packet is never answered" {
  run chat <<EOF2
$HELLO
S STARTTLS\r\nNOOP\r\nMAIL FROM:<evil@example.org>\r\n
R 220 2.0.0 Ready to start TLS
TLS
L QUIT
R 221 2.0.0
E
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  # Exactly one reply after the 220: the QUIT's.
  [ "$(sed -n '/^tls: /,$p' <<< "$output" | grep -c '^< ')" -eq 1 ]
  grep -q 'event=starttls ip=127.0.0.1 .* discarded=36$' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  # The same through openssl s_client, which sends STARTTLS itself: the
  # server still greets inside TLS only when asked.
  run timeout 20 sh -c "printf 'QUIT\r\n' | openssl s_client -quiet -starttls smtp -connect 127.0.0.1:$SMTP_PORT 2>/dev/null"
  [[ "$output" == *"221 2.0.0 localhost closing connection"* ]] || { echo "$output"; false; }
}

@test "no key: STARTTLS not offered, 454 4.7.0 if tried, session goes on, one warning" {
  rm "$HOME_DIR/etc/tls/key.pem"
  run chat <<EOF2
$HELLO
L STARTTLS
R 454 4.7.0 TLS not available
L NOOP
R 250 2.0.0 Ok
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  ! [[ "$output" == *STARTTLS* ]]
  grep -q "smtpd: warning: session=[0-9]* STARTTLS not offered: unable to read key file $HOME_DIR/etc/tls/key.pem: No such file or directory" \
    "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  grep -q 'event=reject cmd=STARTTLS code=454 status=4.7.0 ip=127.0.0.1 reason=no-key' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  # A key file that exists but is not a key: offered (cheap check), then 454.
  echo garbage > "$HOME_DIR/etc/tls/key.pem"
  run chat <<EOF2
$HELLO
L STARTTLS
R 454 4.7.0
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  grep -q "smtpd: warning: session=[0-9]* unable to start TLS: .*key.pem" "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}

@test "PARAM no-use-tls: STARTTLS neither offered nor accepted" {
  conf_param no-use-tls
  run chat <<EOF2
$HELLO
L STARTTLS
R 454 4.7.0
L QUIT
R 221
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(grep -c STARTTLS <<< "$output")" -eq 0 ]
}

@test "SMTPS: smtpd -s greets inside TLS (swaks --tlsc, python SMTP_SSL, BBSMAIL_IMPLICIT_TLS=1)" {
  serve SMTPS_PORT "$LIBEXEC/smtpd" -s
  run swaks_to "$SMTPS_PORT" --tlsc --to demo@localhost --data $'Subject: smtps\n\nimplicit'
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"<~  220 localhost ESMTP bbsmail"* ]]
  [[ "$output" == *"<~  250 2.0.0 Ok: queued as "* ]]
  ! [[ "$output" == *"STARTTLS"* ]]
  grep -q 'event=tls ip=127.0.0.1 version=TLSv1.3' "$BATS_TEST_TMPDIR/SMTPS_PORT.log"
  grep -q 'event=connect ip=127.0.0.1 host=unknown local=127.0.0.1:[0-9]* mode=smtps$' "$BATS_TEST_TMPDIR/SMTPS_PORT.log"
  BBSMAIL_IMPLICIT_TLS=1 serve ENV_PORT "$LIBEXEC/smtpd"
  run timeout 20 python3 - "$ENV_PORT" <<'PY'
import smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP_SSL('127.0.0.1', int(sys.argv[1]), context=ctx, timeout=10)
print(s.ehlo()[0], s.sock.version())
print(s.sendmail('a@example.org', ['demo@localhost'], b'Subject: ssl\r\n\r\nbody\r\n'))
print(s.quit()[0])
PY
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$output" = $'250 TLSv1.3\n{}\n221' ]
  [ "$(incoming_count)" -eq 2 ]
  grep -c $'\tby localhost (bbsmail) with ESMTPS id' $(incoming_files) | grep -c ':1$' | grep -qx 2
}

@test "SMTPS failures: no key or a plaintext client get no greeting at all; exit 111 logged" {
  serve SMTPS_PORT "$LIBEXEC/smtpd" -s
  # A plaintext client: the handshake fails, nothing readable comes back.
  run chat_port "$SMTPS_PORT" <<'EOF2'
L EHLO client.example
E
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  ! [[ "$output" == *"< 2"* ]]
  grep -q 'event=tls-fail ip=127.0.0.1 reason=' "$BATS_TEST_TMPDIR/SMTPS_PORT.log"
  rm "$HOME_DIR/etc/tls/key.pem"
  run chat_port "$SMTPS_PORT" <<'EOF2'
E
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ -z "$(grep '^< ' <<< "$output")" ]
  grep -q 'smtpd: warning: session=[0-9]* unable to start TLS: unable to read key file' "$BATS_TEST_TMPDIR/SMTPS_PORT.log"
  grep -q 'event=close ip=127.0.0.1 messages=0 reason=tls-failed' "$BATS_TEST_TMPDIR/SMTPS_PORT.log"
  # The exit status itself, without tcpserver in between.
  run env TCPREMOTEIP=127.0.0.1 "$LIBEXEC/smtpd" -s < /dev/null
  [ "$status" -eq 111 ]
  ! [[ "$output" == *220* ]]
}

@test "smtpd -h prints the usage with -m and -s (run-embedded relies on it)" {
  run "$LIBEXEC/smtpd" -h
  [ "$status" -eq 100 ]
  [[ "$output" == *"smtpd: usage: smtpd [-d home] [-m] [-s]"* ]]
  run "$LIBEXEC/smtpd" -x
  [ "$status" -eq 100 ]
  [[ "$output" == *"[-m] [-s]"* ]]
}

# ---- tlsproxy(8): the TLS runs in a helper, smtpd never links OpenSSL ----

PROXY_CHECK="$BATS_TEST_DIRNAME/lib/tls_proxy_check.py"

# wait_log PATTERN: until the log holds a line matching PATTERN (10 s).
wait_log() {
  local i
  for i in $(seq 1 200); do
    grep -q -e "$1" "$BATS_TEST_TMPDIR/SMTP_PORT.log" && return 0
    sleep 0.05
  done
  echo "never logged: $1"; cat "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  return 1
}

# gone PID: the process has ended (a zombie counts: it runs no more code).
gone() {
  local i
  for i in $(seq 1 200); do
    [ -e "/proc/$1" ] || return 0
    [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ] && return 0
    sleep 0.05
  done
  echo "process $1 still running"
  return 1
}

@test "smtpd and pop3d hold no OpenSSL code; tlsproxy does" {
  local p
  for p in smtpd pop3d; do
    run sh -c "nm '$LIBEXEC/$p' | grep -cE ' [TtDdBbRr] (SSL_|EVP_|OPENSSL_|CRYPTO_|ERR_|RAND_|X509_)'"
    [ "$output" = 0 ]
    ! readelf -dW "$LIBEXEC/$p" | grep -E 'NEEDED.*lib(ssl|crypto)'
  done
  run sh -c "nm '$LIBEXEC/tlsproxy' | grep -cE ' T SSL_accept$'"
  [ "$output" = 1 ]
}

@test "after STARTTLS the TCP socket lives only in tlsproxy, smtpd's child" {
  run timeout 30 python3 "$PROXY_CHECK" sockets smtp "$SMTP_PORT" "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$output" = $'before smtpd=1\nafter receiver=0 proxy=1 comm=tlsproxy' ]
  wait_log 'smtpd: info: session=[0-9]* event=close ip=127.0.0.1 messages=0 reason=quit$'
  # After the 221 smtpd and the client close in either order.
  grep -Eq 'tlsproxy: info: session=[0-9]* event=end reason=(client|server)-closed in=[1-9][0-9]* out=[1-9][0-9]*$' \
    "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}

@test "a client that drops the connection mid-session ends smtpd and tlsproxy" {
  run timeout 30 python3 "$PROXY_CHECK" abandon "$SMTP_PORT" "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  read -r word smtpd_pid proxy_pid <<< "$output"
  [ "$word" = pids ] && [ "$proxy_pid" -gt 0 ]
  gone "$proxy_pid"
  gone "$smtpd_pid"
  wait_log "smtpd: info: session=$smtpd_pid event=close ip=127.0.0.1 messages=0 reason=eof$"
  grep -q "tlsproxy: info: session=$smtpd_pid event=end reason=client-closed in=[1-9][0-9]* out=[1-9][0-9]*$" \
    "$BATS_TEST_TMPDIR/SMTP_PORT.log"
}

@test "plain text after STARTTLS: the handshake fails, is logged, the session ends" {
  run chat <<EOF2
$HELLO
L STARTTLS
R 220 2.0.0 Ready to start TLS
L EHLO still.plain
E
EOF2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  # Nothing after the 220 is an SMTP reply.
  ! [[ "$(sed -n '/Ready to start TLS/,$p' <<< "$output" | tail -n +2)" == *"< 2"* ]]
  wait_log 'smtpd: info: session=[0-9]* event=close ip=127.0.0.1 messages=0 reason=tls-failed$'
  grep -q 'smtpd: notice: session=[0-9]* event=tls-fail ip=127.0.0.1 reason="TLS handshake: ' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  grep -q 'tlsproxy: info: session=[0-9]* event=end reason=tls-failed in=0 out=0 detail="TLS handshake: ' \
    "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  # No tlsproxy outlives its session (its argv names the home and session).
  local id
  id="$(log_session "$BATS_TEST_TMPDIR/SMTP_PORT.log" 'event=tls-fail')"
  [ -n "$id" ]
  ! pgrep -f "^tlsproxy -d $HOME_DIR $id "
}

@test "a 200 KiB message over STARTTLS is spooled byte for byte as over plain SMTP" {
  run timeout 60 python3 - "$SMTP_PORT" "$BATS_TEST_TMPDIR/sent" <<'PY'
import smtplib, ssl, sys
port, out = int(sys.argv[1]), sys.argv[2]
lines = [b'Subject: big', b'']
for i in range(3000):
    lines.append((b'.leading dot %d ' % i if i % 7 == 0 else b'line %d ' % i) + bytes(range(33, 127)))
body = b'\r\n'.join(lines) + b'\r\n'
open(out, 'wb').write(body)
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
for tls in (False, True):
    s = smtplib.SMTP('127.0.0.1', port, timeout=20)
    s.ehlo('client.example')
    if tls:
        s.starttls(context=ctx)
        s.ehlo('client.example')
    print(s.sendmail('a@example.org', ['demo@localhost'], body) == {})
    s.quit()
PY
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$output" = $'True\nTrue' ]
  [ "$(incoming_count)" -eq 2 ]
  local f plain="" tls=""
  for f in $(incoming_files); do
    if grep -q $'^\t(using TLSv1.3 cipher TLS_AES_256_GCM_SHA384 bits 256)$' "$f"; then tls="$f"; else plain="$f"; fi
  done
  [ -n "$plain" ] && [ -n "$tls" ]
  grep -q $'^\tby localhost (bbsmail) with ESMTPS id ' "$tls"
  message_of "$plain" > "$BATS_TEST_TMPDIR/plain.msg"
  message_of "$tls" > "$BATS_TEST_TMPDIR/tls.msg"
  [ "$(wc -c < "$BATS_TEST_TMPDIR/tls.msg")" -gt 200000 ]
  cmp "$BATS_TEST_TMPDIR/plain.msg" "$BATS_TEST_TMPDIR/tls.msg"
}
