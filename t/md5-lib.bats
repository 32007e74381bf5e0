#!/usr/bin/env bats
# src/lib/md5.c (MD5, HMAC-MD5) and sha256.c through build/t/md5-test: the
# RFC 1321, RFC 2104/2202 and FIPS 180-2 vectors, then OpenSSL as a second
# opinion on every length up to 300 bytes.

load helper
bats_require_minimum_version 1.5.0

@test "md5, hmac_md5, sha256: published vectors and OpenSSL agree" {
  run --separate-stderr timeout 60 "$BBSMAIL_ROOT/build/t/md5-test"
  echo "$output"
  echo "$stderr"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "a wrong digest is caught: one changed vector fails exactly one check" {
  run --separate-stderr timeout 60 "$BBSMAIL_ROOT/build/t/md5-test" wrong
  [ "$status" -eq 1 ]
  [ "$(grep -c 'failed:' <<< "$output")" -eq 1 ]
  [[ "$output" == *'md5_is("abc", md5_abc)'* ]]
}
