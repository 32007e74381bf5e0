#!/usr/bin/env bats
# pop3d over TLS: STLS (RFC 2595) and POP3S (-s / BBSMAIL_IMPLICIT_TLS=1,
# RFC 8314) with real clients (curl, python poplib), the plaintext-injection
# attack, the state reset, and a missing key.
load helper
load lib/pop3

setup_file() { pop3_cert_file; }

setup() {
  pop3_home
  pop3_cert_home
  printf 'From: a@example.org\nSubject: first\n\nbody one\n' | put_message 2 1700000001.M1P1.test
  printf 'From: b@example.org\nSubject: second\n\nl1\nl2\n' | put_message 2 1700000002.M2P1.test
}

@test "curl --ssl-reqd pop3:// (STLS): RETR over TLS; CAPA offered STLS; logged with discarded=0" {
  start_pop3d
  run pop3_chat <<< $'CAPA\nQUIT'
  [[ "$output" == *$'\nIMPLEMENTATION bbsmail\nSTLS\nSASL PLAIN LOGIN CRAM-MD5\n.\n'* ]]
  run timeout 20 curl -sS -k --ssl-reqd "pop3://demo:demo@127.0.0.1:$POP3_PORT/1"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$output" = "$(printf 'From: a@example.org\r\nSubject: first\r\n\r\nbody one\r')" ]
  grep -q 'pop3d: info: session=[0-9]* event=stls ip=127.0.0.1 version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 discarded=0$' \
    "$BATS_TEST_TMPDIR/POP3_PORT.log"
  # curl prefers SASL CRAM-MD5 among what CAPA offers.
  grep -q 'event=login ip=127.0.0.1 user=demo number=2 method=auth-cram-md5 tls=1 nospam=0 messages=2 octets=97$' \
    "$BATS_TEST_TMPDIR/POP3_PORT.log"
}

@test "curl pop3s:// (implicit TLS): LIST and RETR; -h names -s" {
  run "$LIBEXEC/pop3d" -h
  [ "$status" -eq 100 ]
  [[ "$output" == *"[-s]"* ]]
  start_pop3s
  run timeout 20 curl -sS -k "pop3s://demo:demo@127.0.0.1:$POP3S_PORT/"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$output" = "$(printf '1 49\r\n2 48\r')" ]
  run timeout 20 curl -sS -k "pop3s://demo:demo@127.0.0.1:$POP3S_PORT/2"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$output" = "$(printf 'From: b@example.org\r\nSubject: second\r\n\r\nl1\r\nl2\r')" ]
  grep -q 'event=connect ip=127.0.0.1 mode=pop3s$' "$BATS_TEST_TMPDIR/POP3S_PORT.log"
  grep -q 'event=tls ip=127.0.0.1 version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 discarded=0$' \
    "$BATS_TEST_TMPDIR/POP3S_PORT.log"
  # In POP3S the CAPA does not offer STLS.
  run pop3_chats "$POP3S_PORT" <<< $'CAPA\nQUIT'
  [ "${lines[0]}" = "<tls TLSv1.3>" ]
  [[ "${lines[1]}" == "tls: +OK bbsmail POP3 server ready <"* ]]
  ! [[ "$output" == *"tls: STLS"* ]]
  [[ "$output" == *"tls: SASL PLAIN LOGIN CRAM-MD5"* ]]
}

@test "python poplib: POP3_SSL and POP3.stls() with USER/PASS, RETR byte for byte" {
  serve POP3S_ENV_PORT env BBSMAIL_IMPLICIT_TLS=1 "$LIBEXEC/pop3d"
  start_pop3d
  run timeout 20 python3 - "$POP3S_ENV_PORT" "$POP3_PORT" "$(mailbox_dir 2)/new/1700000001.M1P1.test" <<'PY'
import poplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
stored = open(sys.argv[3], "rb").read()
p = poplib.POP3_SSL("127.0.0.1", int(sys.argv[1]), context=ctx, timeout=10)
print(p.sock.version(), p.user("demo").decode(), p.pass_("demo").decode())
resp, lines, octets = p.retr(1)
print(b"\n".join(lines) + b"\n" == stored, octets)
print(p.quit().decode())
p = poplib.POP3("127.0.0.1", int(sys.argv[2]), timeout=10)
print(sorted(p.capa()))
print(p.stls(context=ctx).decode(), p.sock.version())
print(sorted(p.capa()))
print(p.user("demo").decode(), p.pass_("demo").decode())
print(p.stat())
print(p.quit().decode())
PY
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "${lines[0]}" = "TLSv1.3 +OK send PASS +OK demo has 2 messages (97 octets)" ]
  [ "${lines[1]}" = "True 49" ]
  [ "${lines[2]}" = "+OK bbsmail POP3 server signing off (2 messages left)" ]
  [ "${lines[3]}" = "['AUTH-RESP-CODE', 'EXPIRE', 'IMPLEMENTATION', 'PIPELINING', 'RESP-CODES', 'SASL', 'STLS', 'TOP', 'UIDL', 'USER']" ]
  [ "${lines[4]}" = "+OK Begin TLS negotiation TLSv1.3" ]
  # After STLS the client asks CAPA again: STLS is gone.
  [ "${lines[5]}" = "['AUTH-RESP-CODE', 'EXPIRE', 'IMPLEMENTATION', 'PIPELINING', 'RESP-CODES', 'SASL', 'TOP', 'UIDL', 'USER']" ]
  [ "${lines[6]}" = "+OK send PASS +OK demo has 2 messages (97 octets)" ]
  [ "${lines[7]}" = "(2, 97)" ]
  grep -q 'event=login ip=127.0.0.1 user=demo number=2 method=user tls=1 nospam=0 messages=2 ' \
    "$BATS_TEST_TMPDIR/POP3S_ENV_PORT.log"
}

@test "STLS resets the session: a USER sent before it is forgotten; no second STLS" {
  start_pop3d
  run pop3_chat <<< $'USER demo\nSTLS\nPASS demo\nSTLS\nCAPA\nUSER demo\nPASS demo\nQUIT'
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "${lines[1]}" = "+OK send PASS" ]
  [ "${lines[2]}" = "+OK Begin TLS negotiation" ]
  [ "${lines[3]}" = "<tls TLSv1.3>" ]
  [ "${lines[4]}" = "tls: -ERR give USER first" ]
  [ "${lines[5]}" = "tls: -ERR TLS already active" ]
  [ "${lines[6]}" = "tls: +OK capability list follows" ]
  ! [[ "$output" == *"tls: STLS"* ]]
  [[ "$output" == *$'tls: +OK send PASS\ntls: +OK demo has 2 messages (97 octets)\ntls: +OK bbsmail POP3 server signing off'* ]]
}

@test "STLS injection: a CAPA sent with STLS in one packet is never answered" {
  start_pop3d
  run pop3_chat <<< $'<raw STLS\\r\\nCAPA\\r\\n>\nQUIT'
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "${lines[1]}" = "+OK Begin TLS negotiation" ]
  [ "${lines[2]}" = "<tls TLSv1.3>" ]
  # The one reply inside TLS is the QUIT's.
  [ "${lines[3]}" = "tls: +OK bbsmail POP3 server signing off" ]
  [ "${lines[4]}" = "<eof>" ]
  [ "${#lines[@]}" -eq 5 ]
  grep -q 'event=stls ip=127.0.0.1 .* discarded=6$' "$BATS_TEST_TMPDIR/POP3_PORT.log"
}

@test "STLS after login is refused (TRANSACTION state)" {
  start_pop3d
  run pop3_chat <<< $'USER demo\nPASS demo\nSTLS\nSTAT\nQUIT'
  [ "${lines[3]}" = "-ERR STLS is not valid in the TRANSACTION state" ]
  [ "${lines[4]}" = "+OK 2 97" ]
  run pop3_chat <<< $'STLS now\nQUIT'
  [ "${lines[1]}" = "-ERR STLS takes no argument" ]
}

@test "no key: CAPA has no STLS, STLS is -ERR, POP3S closes without a greeting (exit 111); logged" {
  rm "$HOME_DIR/etc/tls/key.pem"
  start_pop3d
  run pop3_chat <<< $'CAPA\nSTLS\nUSER demo\nPASS demo\nQUIT'
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  ! [[ "$output" == *STLS* ]]
  [[ "$output" == *$'\n.\n-ERR TLS not available on this server\n+OK send PASS\n+OK demo has 2 messages'* ]]
  grep -q "pop3d: warning: session=[0-9]* STLS not offered: unable to read key file $HOME_DIR/etc/tls/key.pem: No such file or directory" \
    "$BATS_TEST_TMPDIR/POP3_PORT.log"
  [ "$(grep -c 'STLS not offered' "$BATS_TEST_TMPDIR/POP3_PORT.log")" -eq 1 ]
  grep -q 'event=stls-refused ip=127.0.0.1 reason=no-key' "$BATS_TEST_TMPDIR/POP3_PORT.log"
  # POP3S straight from the shell: nothing on stdout, exit 111.
  run bash -c 'exec 2>/dev/null; echo CAPA | "$1" -s' _ "$LIBEXEC/pop3d"
  [ "$status" -eq 111 ]
  [ -z "$output" ]
  start_pop3s
  run timeout 20 curl -sS -k "pop3s://demo:demo@127.0.0.1:$POP3S_PORT/"
  [ "$status" -ne 0 ]
  grep -q "pop3d: warning: session=[0-9]* unable to start TLS: unable to read key file" "$BATS_TEST_TMPDIR/POP3S_PORT.log"
}

@test "a plaintext client on the POP3S port gets no plaintext byte" {
  start_pop3s
  run timeout 20 python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"CAPA\r\n")
data = b""
try:
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except ConnectionResetError:
    pass
print(repr(data))' "$POP3S_PORT"
  [ "$status" -eq 0 ]
  # At most a TLS alert record (content type 21), never "+OK" or "-ERR".
  [[ "$output" == "b''" || "$output" == "b'\\x15"* ]]
  sleep 0.2
  grep -q 'event=tls-fail ip=127.0.0.1 reason=' "$BATS_TEST_TMPDIR/POP3S_PORT.log"
}

@test "key and certificate that differ: STLS is -ERR (logged) and CAPA stops offering it" {
  "$BBSMAIL_ROOT/scripts/make-cert" "$BATS_TEST_TMPDIR/other" localhost >/dev/null 2>&1
  cp "$BATS_TEST_TMPDIR/other/etc/tls/key.pem" "$HOME_DIR/etc/tls/key.pem"
  start_pop3d
  run pop3_chat <<< $'CAPA\nSTLS\nCAPA\nQUIT'
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(grep -c '^STLS$' <<< "$output")" -eq 1 ]
  [[ "$output" == *$'\nSTLS\nSASL PLAIN LOGIN CRAM-MD5\n.\n-ERR TLS not available on this server\n+OK capability list follows\n'* ]]
  grep -q "pop3d: warning: session=[0-9]* unable to start TLS: key file $HOME_DIR/etc/tls/key.pem does not match certificate" \
    "$BATS_TEST_TMPDIR/POP3_PORT.log"
}

@test "fetchmail over POP3S (ssl) and over STLS (sslproto tls1.2+): both messages, tls=1" {
  start_pop3d
  start_pop3s
  cat > "$BATS_TEST_TMPDIR/mda" <<EOF2
#!/bin/sh
{ echo "From fetchmail Thu Jan  1 00:00:00 1970"; cat; echo; } >> "$BATS_TEST_TMPDIR/mbox"
EOF2
  chmod +x "$BATS_TEST_TMPDIR/mda"
  for mode in ssl stls; do
    rc="$BATS_TEST_TMPDIR/fetchmailrc"
    if [ "$mode" = ssl ]; then port=$POP3S_PORT tls="ssl sslproto 'tls1.2+'"; else port=$POP3_PORT tls="sslproto 'tls1.2+'"; fi
    cat > "$rc" <<EOF2
set no syslog
set invisible
poll 127.0.0.1 with proto POP3 port $port auth password:
  user "demo" there with password "demo" is "$(id -un)" here
  mda "$BATS_TEST_TMPDIR/mda"
  options no rewrite keep fetchall $tls no sslcertck
EOF2
    chmod 600 "$rc"
    : > "$BATS_TEST_TMPDIR/mbox"
    run env HOME="$BATS_TEST_TMPDIR" timeout 60 fetchmail -f "$rc" -N --nosyslog \
      --pidfile "$BATS_TEST_TMPDIR/fetchmail.pid" --idfile "$BATS_TEST_TMPDIR/fetchids"
    [ "$status" -eq 0 ] || { echo "$mode: $output"; false; }
    [ "$(grep -c '^From fetchmail' "$BATS_TEST_TMPDIR/mbox")" -eq 2 ]
    grep -q '^Subject: second$' "$BATS_TEST_TMPDIR/mbox"
  done
  grep -q 'event=login ip=127.0.0.1 user=demo number=2 method=user tls=1 ' "$BATS_TEST_TMPDIR/POP3S_PORT.log"
  grep -q 'event=stls ip=127.0.0.1 ' "$BATS_TEST_TMPDIR/POP3_PORT.log"
  grep -q 'event=login ip=127.0.0.1 user=demo number=2 method=[a-z0-9-]* tls=1 ' "$BATS_TEST_TMPDIR/POP3_PORT.log"
}

# ---- tlsproxy(8): the TLS runs in a helper, pop3d never links OpenSSL ----

@test "after STLS the TCP socket lives only in tlsproxy, pop3d's child; the end is logged" {
  start_pop3d
  run timeout 30 python3 "$BATS_TEST_DIRNAME/lib/tls_proxy_check.py" sockets pop3 "$POP3_PORT" \
    "$BATS_TEST_TMPDIR/POP3_PORT.log"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$output" = $'before pop3d=1\nafter receiver=0 proxy=1 comm=tlsproxy' ]
  # CAPA and QUIT went in (12 bytes); after +OK, pop3d and the client
  # close in either order.
  local i re='tlsproxy: info: session=[0-9]* event=end reason=(client|server)-closed in=12 out=[1-9][0-9]*$'
  for i in $(seq 1 100); do
    grep -Eq "$re" "$BATS_TEST_TMPDIR/POP3_PORT.log" && break
    sleep 0.1
  done
  grep -Eq "$re" "$BATS_TEST_TMPDIR/POP3_PORT.log"
}

@test "plain text after STLS: the handshake fails, is logged, the session ends" {
  start_pop3d
  run timeout 20 python3 - "$POP3_PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb")
f.readline()
s.sendall(b"STLS\r\n")
print(f.readline().decode().rstrip())
s.sendall(b"CAPA\r\n")
try:
    print(repr(f.read()))
except ConnectionResetError:
    print("reset")
PY
  echo "$output"
  [ "${lines[0]}" = "+OK Begin TLS negotiation" ]
  # No POP3 reply after the +OK: at most a TLS alert record (type 21).
  [[ "${lines[1]}" == "b''" || "${lines[1]}" == "b'\\x15"* || "${lines[1]}" == reset ]]
  local i
  for i in $(seq 1 100); do
    grep -q 'tlsproxy: info: session=[0-9]* event=end reason=tls-failed in=0 out=0 detail=' \
      "$BATS_TEST_TMPDIR/POP3_PORT.log" && break
    sleep 0.1
  done
  grep -q 'tlsproxy: info: session=[0-9]* event=end reason=tls-failed in=0 out=0 detail="TLS handshake: ' \
    "$BATS_TEST_TMPDIR/POP3_PORT.log"
  grep -q 'pop3d: notice: session=[0-9]* event=tls-fail ip=127.0.0.1 reason="TLS handshake: ' \
    "$BATS_TEST_TMPDIR/POP3_PORT.log"
}

@test "a 300 KiB message over STLS (poplib RETR) is byte for byte the file" {
  python3 -c '
import sys
lines = [b"Subject: big", b""] + [(b"." if i % 5 == 0 else b"") + b"line %d " % i + bytes(range(33, 127)) for i in range(3000)]
sys.stdout.buffer.write(b"\n".join(lines) + b"\n")' > "$BATS_TEST_TMPDIR/big"
  put_message 2 1700000003.M3P1.test < "$BATS_TEST_TMPDIR/big"
  start_pop3d
  run timeout 60 python3 - "$POP3_PORT" "$BATS_TEST_TMPDIR/got" <<'PY'
import poplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=20)
p.stls(context=ctx)
p.user('demo'); p.pass_('demo')
_, lines, _ = p.retr(3)
open(sys.argv[2], 'wb').write(b'\n'.join(lines) + b'\n')
print(p.quit().decode())
PY
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$output" = "+OK bbsmail POP3 server signing off (3 messages left)" ]
  [ "$(wc -c < "$BATS_TEST_TMPDIR/got")" -gt 300000 ]
  cmp "$BATS_TEST_TMPDIR/big" "$BATS_TEST_TMPDIR/got"
}
