#!/usr/bin/env bats
# src/lib/tls.c through build/t/tls-selftest (a tiny STARTTLS server under a
# real tcpserver) and t/lib/tls_client.py (python's ssl); scripts/make-cert.

load helper

SELFTEST="$BBSMAIL_ROOT/build/t/tls-selftest"
CLIENT="$BBSMAIL_ROOT/t/lib/tls_client.py"

setup() {
  make_home
  "$BBSMAIL_ROOT/scripts/make-cert" "$HOME_DIR" >/dev/null
  CERT="$HOME_DIR/etc/tls/cert.pem"
  KEY="$HOME_DIR/etc/tls/key.pem"
}

client() { timeout 15 python3 "$CLIENT" "$TLS_PORT" "$@"; }
server_log() { cat "$BATS_TEST_TMPDIR/TLS_PORT.log"; }

@test "make-cert: EC P-256, CN and SAN localhost, 10 years, key mode 0600" {
  [ "$(stat -c %a "$KEY")" = 600 ]
  run openssl x509 -in "$CERT" -noout -subject -ext subjectAltName
  [[ "$output" == *"CN = localhost"* ]]
  [[ "$output" == *"DNS:localhost, IP Address:127.0.0.1"* ]]
  run openssl x509 -in "$CERT" -noout -checkend $((9 * 365 * 86400))
  [ "$status" -eq 0 ]
  run openssl pkey -in "$KEY" -noout -text
  [[ "$output" == *"prime256v1"* ]]
}

@test "make-cert: idempotent, never overwrites, refuses half a pair, custom hostname" {
  before="$(cat "$CERT" "$KEY" | md5sum)"
  run "$BBSMAIL_ROOT/scripts/make-cert" "$HOME_DIR"
  [ "$status" -eq 0 ]
  [ "$(cat "$CERT" "$KEY" | md5sum)" = "$before" ]
  rm "$CERT"
  run "$BBSMAIL_ROOT/scripts/make-cert" "$HOME_DIR"
  [ "$status" -eq 100 ]
  [ ! -e "$CERT" ]
  run "$BBSMAIL_ROOT/scripts/make-cert" "$BATS_TEST_TMPDIR/other" mx.example.org
  [ "$status" -eq 0 ]
  run openssl x509 -in "$BATS_TEST_TMPDIR/other/etc/tls/cert.pem" -noout -ext subjectAltName
  [[ "$output" == *"DNS:mx.example.org"* ]]
  run "$BBSMAIL_ROOT/scripts/make-cert" "$BATS_TEST_TMPDIR/x" 'bad host;rm'
  [ "$status" -eq 100 ]
  run "$BBSMAIL_ROOT/scripts/make-cert"
  [ "$status" -eq 100 ]
}

@test "context: loads the default pair; missing key is a clear error" {
  run "$SELFTEST" context
  [ "$status" -eq 0 ]
  [ "$output" = ok ]
  rm "$KEY"
  run "$SELFTEST" available
  [ "$status" -eq 1 ]
  [ "$output" = "unable to read key file $KEY: No such file or directory" ]
  run "$SELFTEST" context
  [ "$status" -eq 1 ]
  [ "$output" = "unable to read key file $KEY: No such file or directory" ]
}

@test "context: a key that does not match the certificate is refused" {
  "$BBSMAIL_ROOT/scripts/make-cert" "$BATS_TEST_TMPDIR/other" >/dev/null
  set_mail_key TLSKeyFile "$BATS_TEST_TMPDIR/other/etc/tls/key.pem"
  run "$SELFTEST" available
  [ "$status" -eq 0 ]
  run "$SELFTEST" context
  [ "$status" -eq 1 ]
  [[ "$output" == "key file $BATS_TEST_TMPDIR/other/etc/tls/key.pem does not match certificate $CERT: "* ]]
}

@test "context: a garbage key file is refused with the file named" {
  echo "not a key" > "$KEY"
  run "$SELFTEST" context
  [ "$status" -eq 1 ]
  [[ "$output" == "unable to load key file $KEY: "* ]]
}

@test "paths: PARAM tls-cert-file/tls-key-file beat mail.ini; relative paths are under the home" {
  mkdir "$HOME_DIR/etc/tls2"
  mv "$CERT" "$KEY" "$HOME_DIR/etc/tls2/"
  set_mail_key TLSCertFile /nonexistent/cert.pem
  set_mail_key TLSKeyFile /nonexistent/key.pem
  run "$SELFTEST" available
  [ "$status" -eq 1 ]
  [ "$output" = "unable to read key file /nonexistent/key.pem: No such file or directory" ]
  printf 'PARAM tls-cert-file etc/tls2/cert.pem\nPARAM tls-key-file etc/tls2/key.pem\nPARAM tls-CAfile etc/tls2/cert.pem\n' \
    > "$HOME_DIR/etc/smtpserver.conf"
  run "$SELFTEST" context
  [ "$status" -eq 0 ]
  [ "$output" = ok ]
}

@test "second pair (PARAM tls-dcert-file/tls-dkey-file): an RSA-only client gets the RSA certificate" {
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
    -keyout "$HOME_DIR/etc/tls/rsa-key.pem" -out "$HOME_DIR/etc/tls/rsa-cert.pem" 2>/dev/null
  printf 'PARAM tls-dcert-file etc/tls/rsa-cert.pem\nPARAM tls-dkey-file etc/tls/rsa-key.pem\n' \
    > "$HOME_DIR/etc/smtpserver.conf"
  serve TLS_PORT "$SELFTEST" server
  run client starttls --version 1.2 --ciphers ECDHE-RSA-AES256-GCM-SHA384
  [ "$status" -eq 0 ]
  [ "${lines[2]}" = "tls: 250 TLSv1.2 cipher ECDHE-RSA-AES256-GCM-SHA384 bits 256" ]
  run client starttls --version 1.2
  [ "${lines[2]}" = "tls: 250 TLSv1.2 cipher ECDHE-ECDSA-AES256-GCM-SHA384 bits 256" ]
  printf 'PARAM tls-dcert-file etc/tls/rsa-cert.pem\n' > "$HOME_DIR/etc/smtpserver.conf"
  run "$SELFTEST" context
  [ "$status" -eq 1 ]
  [ "$output" = "tls-dcert-file and tls-dkey-file must be set together" ]
}

@test "STARTTLS: EHLO advertises it, handshake verifies against the generated cert, close_notify at QUIT" {
  serve TLS_PORT "$SELFTEST" server
  run client starttls --ehlo --cafile "$CERT" --name localhost
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = "plain: 250-localhost" ]
  [ "${lines[2]}" = "plain: 250 STARTTLS" ]
  [ "${lines[3]}" = "plain: 220 2.0.0 Ready to start TLS" ]
  [[ "${lines[4]}" =~ ^"tls: 250 TLSv1.3 cipher TLS_".*" bits "(128|256)$ ]]
  [ "${lines[5]}" = "tls: 221 2.0.0 bye" ]
  [ "${lines[6]}" = "close: clean" ]
  run server_log
  [[ "$output" == *"event=starttls discarded=0 tls=\"TLSv1.3 cipher TLS_"* ]]
}

@test "STARTTLS injection (CVE-2011-0411): a command in the same packet is never answered inside TLS" {
  serve TLS_PORT "$SELFTEST" server
  run client starttls --inject
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 5 ]
  [ "${lines[1]}" = "plain: 220 2.0.0 Ready to start TLS" ]
  [[ "${lines[2]}" == "tls: 250 TLSv1.3 cipher "* ]]
  [ "${lines[3]}" = "tls: 221 2.0.0 bye" ]
  [[ "$output" != *NOOP* ]]
  run server_log
  [[ "$output" == *"event=starttls discarded=6 "* ]]
}

@test "bulk inside TLS: 6 MB to a slow reader (WANT_WRITE), 2000 pipelined commands (SSL_pending)" {
  serve TLS_PORT "$SELFTEST" server
  run client starttls --bulk
  [ "$status" -eq 0 ]
  [ "${lines[2]}" = "big: ok 250 60000 lines" ]
  [ "${lines[3]}" = "pipelined: ok 2000" ]
  [ "${lines[5]}" = "tls: 221 2.0.0 bye" ]
}

@test "versions: TLS 1.1 refused with a protocol alert, TLS 1.2 accepted with an ECDHE AEAD cipher" {
  serve TLS_PORT "$SELFTEST" server
  run client starttls --version 1.1
  [ "$status" -eq 2 ]
  [[ "$output" == *"error: "*"PROTOCOL_VERSION"* ]]
  run client starttls --version 1.2
  [ "$status" -eq 0 ]
  [ "${lines[2]}" = "tls: 250 TLSv1.2 cipher ECDHE-ECDSA-AES256-GCM-SHA384 bits 256" ]
  run server_log
  [[ "$output" == *"fatal: TLS handshake: "*"unsupported protocol"* ]]
}

@test "STARTTLS without a key: not advertised, 454, the session goes on in plain text" {
  rm "$KEY"
  serve TLS_PORT "$SELFTEST" server
  run timeout 10 python3 - "$TLS_PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
f = s.makefile("rb")
print(f.readline().decode().strip())
s.sendall(b"EHLO x\r\n"); print(f.readline().decode().strip())
s.sendall(b"STARTTLS\r\n"); print(f.readline().decode().strip())
s.sendall(b"NOOP\r\n"); print(f.readline().decode().strip())
s.sendall(b"QUIT\r\n"); print(f.readline().decode().strip())
PY
  [ "${lines[1]}" = "250 localhost" ]
  [ "${lines[2]}" = "454 4.7.0 TLS not available" ]
  [ "${lines[3]}" = "250 2.0.0 NOOP ok" ]
  [ "${lines[4]}" = "221 2.0.0 bye" ]
  run server_log
  [[ "$output" == *"warning: unable to start TLS: unable to read key file $KEY: No such file or directory"* ]]
}

@test "implicit TLS: -s and BBSMAIL_IMPLICIT_TLS=1 handshake before the greeting" {
  serve TLS_PORT "$SELFTEST" server -s
  run client implicit --cafile "$CERT"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "tls: 220 tls-selftest ready" ]
  [[ "${lines[1]}" == "tls: 250 TLSv1.3 cipher "* ]]
  [ "${lines[3]}" = "close: clean" ]
  local first="$TLS_PORT"
  serve TLS_PORT env BBSMAIL_IMPLICIT_TLS=1 "$SELFTEST" server
  [ "$TLS_PORT" != "$first" ]
  run client implicit
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "tls: 220 tls-selftest ready" ]
}

@test "handshake is bounded by the idle timeout: a client that stalls after STARTTLS is dropped" {
  set_mail_key MaxInactivity 1
  serve TLS_PORT "$SELFTEST" server
  run client stall
  [ "$status" -eq 0 ]
  [ "${lines[2]}" = "eof: b''" ]
  [ "${lines[3]}" = "waited: 1" ]
  run server_log
  [[ "$output" == *"fatal: TLS handshake: timed out"* ]]
}

@test "client side: SNI + verification against the CA file; a wrong name fails, verify=0 accepts it" {
  serve TLS_PORT "$SELFTEST" server
  run timeout 10 "$SELFTEST" client "$TLS_PORT" localhost "$CERT" 1
  [ "$status" -eq 0 ]
  [[ "${lines[2]}" == "250 TLSv1.3 cipher "* ]]
  [ "${lines[3]}" = "221 2.0.0 bye" ]
  run timeout 10 "$SELFTEST" client "$TLS_PORT" 127.0.0.1 "$CERT" 1
  [ "$status" -eq 0 ]
  run timeout 10 "$SELFTEST" client "$TLS_PORT" wrong.example "$CERT" 1
  [ "$status" -eq 1 ]
  [[ "$output" == *"TLS handshake: "*"certificate verify failed (hostname mismatch)"* ]]
  run timeout 10 "$SELFTEST" client "$TLS_PORT" wrong.example "$CERT" 0
  [ "$status" -eq 0 ]
}

@test "openssl s_client -starttls smtp interoperates" {
  serve TLS_PORT "$SELFTEST" server
  run bash -c "printf 'TLS\r\nQUIT\r\n' | timeout 10 openssl s_client -starttls smtp -connect 127.0.0.1:$TLS_PORT -CAfile '$CERT' -verify_return_error -quiet 2>/dev/null | tr -d '\\r'"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "250 TLSv1.3 cipher "* ]]
  [ "${lines[1]}" = "221 2.0.0 bye" ]
}
