#!/usr/bin/env bats
# src/lib/sasl.c and base64.c through build/t/sasl-selftest, against a real
# user database made by bbsmail-user (make_home: sysop and demo, password demo).

load helper

SASL="$BBSMAIL_ROOT/build/t/sasl-selftest"

setup() {
  make_home
  bbsmail-user add off --password demo --flags disabled >/dev/null
  bbsmail-user add nocram --password demo --no-cram >/dev/null
  bbsmail-user set demo --alias Dee >/dev/null
}

b64() { printf "$1" | base64 -w0; }
# sasl MECH [INITIAL] with client lines on stdin; -p = plaintext allowed
sasl() { timeout 30 "$SASL" run "$@"; }

@test "PLAIN: initial response, any case of the name, authzid equal to authcid" {
  run sasl -p PLAIN "$(b64 '\0demo\0demo')"
  [ "$status" -eq 0 ]
  [ "$output" = "DONE user=demo number=2" ]
  run sasl -p plain "$(b64 'DEMO\0Demo\0demo')"
  [ "$output" = "DONE user=demo number=2" ]
}

@test "PLAIN and CRAM-MD5: the alias logs in as its user" {
  run sasl -p PLAIN "$(b64 '\0dee\0demo')"
  [ "$output" = "DONE user=demo number=2" ]
  run timeout 10 "$SASL" cram DEE demo
  [ "${lines[1]}" = "DONE user=demo number=2" ]
}

@test "PLAIN: empty challenge then the response; CRLF on the line is fine" {
  run sasl -p PLAIN <<< "$(b64 '\0sysop\0demo')"$'\r'
  [ "${lines[0]}" = "C " ]
  [ "${lines[1]}" = "DONE user=sysop number=1" ]
}

@test "PLAIN: wrong password, unknown user, disabled user, authzid mismatch are 535 5.7.8" {
  run sasl -p PLAIN "$(b64 '\0demo\0wrong')"
  [ "$status" -eq 1 ]
  [ "$output" = "FAIL credentials 535 5.7.8 Authentication credentials invalid detail=bad password authcid=demo" ]
  run sasl -p PLAIN "$(b64 '\0nobody\0demo')"
  [ "$output" = "FAIL credentials 535 5.7.8 Authentication credentials invalid detail=no such user authcid=nobody" ]
  run sasl -p PLAIN "$(b64 '\0off\0demo')"
  [ "$output" = "FAIL credentials 535 5.7.8 Authentication credentials invalid detail=disabled authcid=off" ]
  run sasl -p PLAIN "$(b64 'sysop\0demo\0demo')"
  [ "$output" = "FAIL credentials 535 5.7.8 Authentication credentials invalid detail=authzid differs from authcid authcid=demo" ]
}

@test "PLAIN: malformed decoded responses are 501 5.5.2" {
  run sasl -p PLAIN "$(b64 'demo\0demo')"
  [ "$output" = "FAIL syntax 501 5.5.2 Malformed authentication response detail=PLAIN response needs two NULs authcid=" ]
  run sasl -p PLAIN "$(b64 '\0demo\0de\0mo')"
  [[ "$output" == "FAIL syntax 501 5.5.2 "* ]]
  run sasl -p PLAIN "$(b64 '\0\0demo')"
  [[ "$output" == "FAIL syntax 501 5.5.2 "* ]]
  run sasl -p PLAIN "$(b64 '\0demo\r\n\0demo')"
  [[ "$output" == "FAIL syntax 501 5.5.2 "* ]]
  run sasl -p PLAIN "$(head -c 300 /dev/zero | tr '\0' a | sed 's/^/\\0/; s/$/\\0demo/' | xargs -0 printf | base64 -w0)"
  [[ "$output" == "FAIL syntax 501 5.5.2 "* ]]
  run sasl -p PLAIN =
  [[ "$output" == "FAIL syntax 501 5.5.2 "* ]]
}

@test "bad base64 is 501 5.5.2, in the initial response and in a step" {
  run sasl -p PLAIN 'AGRlbW8AZGVtbw='
  [ "$output" = "FAIL bad-base64 501 5.5.2 Cannot decode response detail=invalid base64 authcid=" ]
  run sasl -p PLAIN <<< 'AGRl bW8AZGVtbw=='
  [ "${lines[1]}" = "FAIL bad-base64 501 5.5.2 Cannot decode response detail=invalid base64 authcid=" ]
  run sasl -p LOGIN <<< 'ZGVtbw=!'
  [ "${lines[1]}" = "FAIL bad-base64 501 5.5.2 Cannot decode response detail=invalid base64 authcid=" ]
}

@test "cancel with * is 501 5.7.0 at any step" {
  run sasl -p PLAIN <<< '*'
  [ "${lines[1]}" = "FAIL cancelled 501 5.7.0 Authentication cancelled detail=cancelled by client authcid=" ]
  run sasl -p LOGIN <<< "$(b64 demo)"$'\n*'
  [ "${lines[2]}" = "FAIL cancelled 501 5.7.0 Authentication cancelled detail=cancelled by client authcid=" ]
  run sasl CRAM-MD5 <<< '*'
  [ "${lines[1]}" = "FAIL cancelled 501 5.7.0 Authentication cancelled detail=cancelled by client authcid=" ]
}

@test "LOGIN: the two prompts, good and bad password, user name as initial response" {
  run sasl -p LOGIN <<< "$(b64 demo)"$'\n'"$(b64 demo)"
  [ "${lines[0]}" = "C VXNlcm5hbWU6" ]
  [ "${lines[1]}" = "C UGFzc3dvcmQ6" ]
  [ "${lines[2]}" = "DONE user=demo number=2" ]
  run sasl -p LOGIN <<< "$(b64 demo)"$'\n'"$(b64 nope)"
  [ "${lines[2]}" = "FAIL credentials 535 5.7.8 Authentication credentials invalid detail=bad password authcid=demo" ]
  run sasl -p LOGIN "$(b64 sysop)" <<< "$(b64 demo)"
  [ "${lines[0]}" = "C UGFzc3dvcmQ6" ]
  [ "${lines[1]}" = "DONE user=sysop number=1" ]
}

@test "LOGIN: prompts can be overridden (smtp-auth-username-prompt/password-prompt)" {
  SASL_USER_PROMPT="User Name" SASL_PASS_PROMPT="Secret" run sasl -p LOGIN <<< "$(b64 demo)"$'\n'"$(b64 demo)"
  [ "${lines[0]}" = "C $(b64 'User Name')" ]
  [ "${lines[1]}" = "C $(b64 Secret)" ]
  [ "${lines[2]}" = "DONE user=demo number=2" ]
}

@test "plaintext mechanisms refused on a clear channel (538 5.7.11); CRAM-MD5 still offered" {
  run sasl PLAIN "$(b64 '\0demo\0demo')"
  [ "$output" = "FAIL encryption-required 538 5.7.11 Encryption required for requested authentication mechanism detail=plaintext mechanism without TLS authcid=" ]
  run sasl LOGIN
  [[ "$output" == "FAIL encryption-required 538 5.7.11 "* ]]
  run "$SASL" mechs 0
  [ "$output" = "CRAM-MD5" ]
  run "$SASL" mechs 1
  [ "$output" = "PLAIN LOGIN CRAM-MD5" ]
}

@test "POP3 replies: [AUTH] for credentials, [SYS/TEMP] for a broken database" {
  SASL_POP3=1 run sasl -p PLAIN "$(b64 '\0demo\0wrong')"
  [ "${lines[1]}" = "-ERR [AUTH] Authentication failed" ]
  rm -f "$HOME_DIR/spool/data/users.gdbm"
  mkdir "$HOME_DIR/spool/data/users.gdbm"
  SASL_POP3=1 run sasl -p PLAIN "$(b64 '\0demo\0demo')"
  [ "${lines[1]}" = "-ERR [SYS/TEMP] Temporary authentication failure" ]
}

@test "unknown mechanism is 504 5.5.4" {
  run sasl -p XOAUTH2
  [ "$output" = "FAIL unknown-mechanism 504 5.5.4 Unrecognized authentication type detail=unknown mechanism authcid=" ]
}

@test "CRAM-MD5: good digest from a standard HMAC-MD5 client, unique msg-id challenges" {
  run timeout 10 "$SASL" cram demo demo
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" =~ ^"challenge <"[0-9a-f]{16}\.[0-9]+"@selftest.example>"$ ]]
  [ "${lines[1]}" = "DONE user=demo number=2" ]
  first="${lines[0]}"
  run timeout 10 "$SASL" cram SYSOP demo
  [ "${lines[1]}" = "DONE user=sysop number=1" ]
  [ "${lines[0]}" != "$first" ]
}

@test "CRAM-MD5: wrong digest, unknown user, user without a secret, disabled user fail with 535" {
  run timeout 10 "$SASL" cram demo demo bad
  [ "${lines[1]}" = "FAIL credentials 535 5.7.8 Authentication credentials invalid detail=bad digest authcid=demo" ]
  run timeout 10 "$SASL" cram demo wrongpassword
  [ "${lines[1]}" = "FAIL credentials 535 5.7.8 Authentication credentials invalid detail=bad digest authcid=demo" ]
  run timeout 10 "$SASL" cram nobody demo
  [ "${lines[1]}" = "FAIL credentials 535 5.7.8 Authentication credentials invalid detail=no such user authcid=nobody" ]
  run timeout 10 "$SASL" cram nocram demo
  [ "${lines[1]}" = "FAIL credentials 535 5.7.8 Authentication credentials invalid detail=no CRAM-MD5 secret authcid=nocram" ]
  run timeout 10 "$SASL" cram off demo
  [ "${lines[1]}" = "FAIL credentials 535 5.7.8 Authentication credentials invalid detail=disabled authcid=off" ]
}

@test "CRAM-MD5: malformed responses and an initial response are 501 5.5.2" {
  run sasl CRAM-MD5 <<< "$(b64 'demo 0123')"
  [ "${lines[1]}" = "FAIL syntax 501 5.5.2 Malformed authentication response detail=CRAM-MD5 response is not \"user digest\" authcid=" ]
  run sasl CRAM-MD5 <<< "$(b64 'demo zz23456789abcdef0123456789abcdef')"
  [[ "${lines[1]}" == "FAIL syntax 501 5.5.2 "* ]]
  run sasl CRAM-MD5 "$(b64 'demo 0123456789abcdef0123456789abcdef')"
  [ "$output" = "FAIL syntax 501 5.5.2 Malformed authentication response detail=CRAM-MD5 takes no initial response authcid=" ]
}

@test "CRAM-MD5: the RFC 2195 example digest" {
  run "$SASL" vector
  [ "$output" = "b913a602c7eda7a495b4e6e7334d3890" ]
}

@test "no user database: credentials failure, not a crash" {
  rm -f "$HOME_DIR/spool/data/users.gdbm"
  run sasl -p PLAIN "$(b64 '\0demo\0demo')"
  [ "$output" = "FAIL credentials 535 5.7.8 Authentication credentials invalid detail=no such user authcid=demo" ]
}

@test "broken user database: 454 4.7.0 temporary failure" {
  rm -f "$HOME_DIR/spool/data/users.gdbm"
  mkdir "$HOME_DIR/spool/data/users.gdbm"
  run sasl -p PLAIN "$(b64 '\0demo\0demo')"
  [ "$output" = "TEMPFAIL temporary 454 4.7.0 Temporary authentication failure detail=user database unavailable authcid=demo" ]
}

@test "a response longer than 12288 octets is refused" {
  run sasl -p PLAIN <<< "$(head -c 12290 /dev/zero | tr '\0' A)"
  [[ "${lines[1]}" == "FAIL syntax 501 5.5.2 "*"detail=response too long"* ]]
}

@test "base64: strict decoder (padding, alphabet, leftover bits, exact length)" {
  run "$SASL" b64 decode "AGRlbW8AZGVtbw=="
  [ "$output" = "len=10 0064656d6f0064656d6f" ]
  run "$SASL" b64 decode ""
  [ "$output" = "len=0 " ]
  run "$SASL" b64 decode "YWI="
  [ "$output" = "len=2 6162" ]
  local bad
  for bad in "YQ" "YQ=" "YR==" "YWJ=" "Y===" "=YQ=" "YQ==YQ==" "YW I=" "YW\nI=" "YW-_"; do
    run "$SASL" b64 decode "$(printf "$bad")"
    [ "$status" -eq 1 ] || { echo "accepted: $bad"; false; }
    [ "$output" = invalid ]
  done
  run "$SASL" b64 encode "ab"
  [ "$output" = "YWI=" ]
}
