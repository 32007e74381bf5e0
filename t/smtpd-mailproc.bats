#!/usr/bin/env bats
# External mail processors in smtpd (etc/mailproc.cfg, antispam(5)):
# python3 programs written by each test pass, refuse with their own reply,
# tag as spam, rewrite the message, crash, hang and print garbage; the
# environment they get is checked exactly, and nothing goes through a shell.
load helper
load lib/session

setup() {
  make_home
  PROC_DIR="$BATS_TEST_TMPDIR/proc dir"   # a space: argv, never a shell
  mkdir -p "$PROC_DIR"
}

# processor NAME PYTHON-BODY: an executable python3 script in PROC_DIR;
# sys.argv[-1] is the message file.
processor() {
  { echo '#!/usr/bin/python3'; echo 'import os, sys'; cat; } > "$PROC_DIR/$1"
  chmod 755 "$PROC_DIR/$1"
}

# cfg LINE...: etc/mailproc.cfg
cfg() { printf '%s\n' "$@" > "$HOME_DIR/etc/mailproc.cfg"; }

message() {
  printf 'From: a@far.example\nSubject: %s\nX-Spam-Flag: YES\n\tforged\n\n%s\n' "$2" "${3:-hello there}" > "$1"
}

send() {
  message "$BATS_TEST_TMPDIR/m" "${2:-test}"
  session 127.0.0.1 'EHLO client.example' "MAIL FROM:<${1:-s@far.example}>" 'RCPT TO:<demo@localhost>' \
    "DATA:$BATS_TEST_TMPDIR/m" QUIT
}

# The message part of the one spooled file: from the Received: line on.
stored() { sed -n '/^Received: /,$p' "$(spooled)"; }

@test "mailproc: a passing program leaves the message as it was; the copy is removed" {
  processor pass <<'PY'
sys.exit(0)
PY
  cfg "\"$PROC_DIR/pass\""
  start_smtpd
  run send
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  [ "$(spooled | wc -l)" -eq 1 ]
  run sed -n '/^From: /,$p' "$(spooled)"
  [ "${lines[0]}" = "From: a@far.example" ]
  [ "${lines[1]}" = "Subject: test" ]
  [ "${lines[2]}" = "hello there" ]
  [ "${#lines[@]}" -eq 3 ]
  [ -z "$(ls "$HOME_DIR/spool/tmp")" ]
}

@test "mailproc: a refusal uses the program's reply; a tempfail too; nothing is spooled" {
  processor rej <<'PY'
print("550 5.7.1 Go away\x01 spammer")
sys.exit(100)
PY
  processor tmp <<'PY'
print("452 4.3.1 Try later please")
sys.exit(111)
PY
  cfg "\"$PROC_DIR/rej\""
  start_smtpd
  run send
  [ "${lines[5]}" = "550 5.7.1 Go away? spammer" ]
  [ -z "$(spooled)" ]
  grep -q 'event=reject cmd=DATA code=550 .*reason=mailproc' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  cfg "\"$PROC_DIR/tmp\""
  run send
  [ "${lines[5]}" = "452 4.3.1 Try later please" ]
  [ -z "$(spooled)" ]
  [ -z "$(ls "$HOME_DIR/spool/tmp")" ]
}

@test "mailproc: exit 100 without a reply gets 554 5.7.1; a reply of the wrong class is garbage (451)" {
  processor plain <<'PY'
sys.exit(100)
PY
  processor wrong <<'PY'
print("250 2.0.0 fine")
sys.exit(100)
PY
  cfg "\"$PROC_DIR/plain\""
  start_smtpd
  run send
  [ "${lines[5]}" = "554 5.7.1 Message refused by a content check" ]
  cfg "\"$PROC_DIR/wrong\""
  run send
  [ "${lines[5]}" = "451 4.3.0 Temporary local problem, try again later" ]
  grep -q 'event=mailproc-fail line=1 program=.* reason=bad-reply onerror=tempfail' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  [ -z "$(spooled)" ]
}

@test "mailproc: exit 1 tags the message; the client's forged X-Spam-Flag is gone; #nospam hides it" {
  processor spam <<'PY'
sys.exit(1)
PY
  cfg "\"$PROC_DIR/spam\""
  start_smtpd
  serve POP3_PORT "$LIBEXEC/pop3d"
  run send s@far.example spammy
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  run sed -n '/^From: /,/^$/p' "$(spooled)"
  [ "${lines[0]}" = "From: a@far.example" ]
  [ "${lines[1]}" = "Subject: spammy" ]
  [ "${lines[2]}" = "X-Spam-Flag: YES" ]
  [ "${#lines[@]}" -eq 3 ]
  grep -q 'event=mailproc-spam line=1' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  run_stages
  cfg ''
  run send s@far.example ham
  run_stages
  [ "$(mailbox_count 2)" -eq 2 ]
  run python3 - "$POP3_PORT" <<'PY'
import poplib, sys
for user in ('demo#nospam', 'demo'):
    p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=30)
    p.user(user); p.pass_('demo')
    print(user, p.stat()[0])
    p.quit()
PY
  [ "${lines[0]}" = "demo#nospam 1" ]
  [ "${lines[1]}" = "demo 2" ]
}

@test "mailproc: a rewrite is stored exactly; an X-Spam-Flag it adds is dropped; the next program sees it" {
  processor rewrite <<'PY'
path = sys.argv[-1]
data = open(path).read()
head, body = data.split("\n\n", 1)
open(path, "w").write("X-Score: 4.2\nX-Spam-Flag: YES\n  folded\n" + head + "\n\n" + body.upper())
PY
  processor check <<'PY'
data = open(sys.argv[-1]).read()
sys.exit(0 if data.startswith("X-Score: 4.2\n") else 100)
PY
  cfg "\"$PROC_DIR/rewrite\"" "\"$PROC_DIR/check\""
  start_smtpd
  run send
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  # The envelope record ends in a NUL, the message follows it.
  run sh -c 'tr "\\000" "\\n" < "$1" | sed -n "/^X-Score: /,\$p"' sh "$(spooled)"
  [ "${lines[0]}" = "X-Score: 4.2" ]
  [[ "${lines[1]}" == "Received: from client.example "* ]]
  run sed -n '/^From: /,$p' "$(spooled)"
  [ "${lines[0]}" = "From: a@far.example" ]
  [ "${lines[1]}" = "Subject: test" ]
  [ "${lines[2]}" = "HELLO THERE" ] || { echo "$output"; false; }
  [ "${#lines[@]}" -eq 3 ]
  ! grep -q 'X-Spam-Flag' "$(spooled)"
  # The envelope is untouched: route still reads the file.
  run_stages
  [ "$(mailbox_count 2)" -eq 1 ]
}

@test "mailproc: a broken rewrite (NUL, long line) is ignored and logged" {
  processor nul <<'PY'
open(sys.argv[-1], "ab").write(b"bad\x00byte\n")
PY
  processor long <<'PY'
open(sys.argv[-1], "a").write("x" * 999 + "\n")
PY
  cfg "\"$PROC_DIR/nul\"" "\"$PROC_DIR/long\""
  start_smtpd
  run send
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  grep -q 'event=mailproc-bad-rewrite line=1 program=.* reason=nul: rewrite ignored' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  grep -q 'event=mailproc-bad-rewrite line=2 program=.* reason=long-line: rewrite ignored' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  run sed -n '/^From: /,$p' "$(spooled)"
  [ "${lines[2]}" = "hello there" ]
  [ "${#lines[@]}" -eq 3 ]
}

@test "mailproc: a crash tempfails by default; onerror=pass and onerror=reject" {
  processor crash <<'PY'
os.kill(os.getpid(), 9)
PY
  cfg "\"$PROC_DIR/crash\""
  start_smtpd
  run send
  [ "${lines[5]}" = "451 4.3.0 Temporary local problem, try again later" ]
  grep -q 'event=mailproc-fail line=1 program=.* reason=signal-9 onerror=tempfail' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  cfg "onerror=pass \"$PROC_DIR/crash\""
  run send
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  cfg "onerror=reject \"$PROC_DIR/crash\""
  run send
  [ "${lines[5]}" = "554 5.7.1 Message refused by a content check" ]
  [ "$(spooled | wc -l)" -eq 1 ]
}

@test "mailproc: a program that cannot be run tempfails, named in the log; onerror=pass lets the mail in" {
  cfg "\"$PROC_DIR/not-there\""
  start_smtpd
  run send
  [ "${lines[5]}" = "451 4.3.0 Temporary local problem, try again later" ]
  grep -q "unable to run $PROC_DIR/not-there: No such file or directory" "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  grep -q 'event=mailproc-fail line=1 program=.* reason=spawn onerror=tempfail' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  cfg "onerror=pass \"$PROC_DIR/not-there\""
  run send
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
}

@test "mailproc: a hanging program is killed at its timeout, with what it started" {
  processor hang <<'PY'
import subprocess
subprocess.Popen(["sleep", "300"])
import time
time.sleep(300)
PY
  cfg "timeout=2 \"$PROC_DIR/hang\""
  start_smtpd
  start=$(date +%s)
  run send
  [ "${lines[5]}" = "451 4.3.0 Temporary local problem, try again later" ]
  [ $(( $(date +%s) - start )) -lt 60 ]
  grep -q 'event=mailproc-fail line=1 program=.* reason=timeout onerror=tempfail' "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  ! pgrep -f "$PROC_DIR/hang" > /dev/null
}

@test "mailproc: the environment is the envelope, exactly; a sender with shell characters is data" {
  processor env <<'PY'
import json
# python itself may add LC_CTYPE (PEP 538)
keep = {k: v for k, v in os.environ.items() if k != "LC_CTYPE"}
open(os.environ["OUT"] if "OUT" in os.environ else sys.argv[1], "w").write(json.dumps(sorted(keep.items())) + "\n" + json.dumps(sys.argv[1:-1]) + "\n" + str(sys.argv[-1].endswith(".proc")) + "\n")
PY
  cfg "\"$PROC_DIR/env\" \"$BATS_TEST_TMPDIR/out\" \"two \\\"words\\\"\""
  start_smtpd
  run send '"x;$(touch /tmp/pwned)`id`|&"@far.example'
  [[ "${lines[5]}" == "250 2.0.0 Ok: queued as "* ]]
  id="${lines[5]##* }"
  run python3 - "$BATS_TEST_TMPDIR/out" "$id" <<'PY'
import json, sys
env, args, isproc = open(sys.argv[1]).read().splitlines()
env = dict(json.loads(env))
want = {"PATH": "/usr/local/bin:/usr/bin:/bin",
        "MAIL_FROM": '"x;$(touch /tmp/pwned)`id`|&"@far.example',
        "RCPT_TO": "demo@localhost", "RCPT_COUNT": "1", "CLIENT_IP": "127.0.0.1",
        "CLIENT_HOST": env.get("CLIENT_HOST"), "CLIENT_HELO": "client.example", "AUTH_USER": "",
        "MESSAGE_ID": sys.argv[2], "PROTOCOL": "ESMTP"}
print("env", env == want, sorted(set(env) ^ set(want)))
print("args", json.loads(args))
print("file", isproc)
PY
  [ "${lines[0]}" = "env True []" ] || { echo "$output"; false; }
  [ "${lines[1]}" = "args ['$BATS_TEST_TMPDIR/out', 'two \"words\"']" ]
  [ "${lines[2]}" = "file True" ]
  [ ! -e /tmp/pwned ]
}

@test "mailproc: unauth programs skip authenticated sessions; a bad line is logged and skipped" {
  processor rej <<'PY'
sys.exit(100)
PY
  cfg "bogus-option \"$PROC_DIR/rej\"" "unauth \"$PROC_DIR/rej\""
  echo 'PARAM AUTH-LOGIN-also-without-TLS' > "$HOME_DIR/etc/smtpserver.conf"
  start_smtpd
  run send
  [ "${lines[5]}" = "554 5.7.1 Message refused by a content check" ]
  grep -q "etc/mailproc.cfg:1: unknown option or a program without a '/': line ignored" "$BATS_TEST_TMPDIR/SMTP_PORT.log"
  run python3 - "$SMTP_PORT" "$BATS_TEST_TMPDIR/m" <<'PY'
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=30)
s.ehlo('client.example')
s.login('demo', 'demo')
print(s.sendmail('demo@localhost', ['demo@localhost'], open(sys.argv[2], 'rb').read().replace(b'\n', b'\r\n')))
s.quit()
PY
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "${lines[0]}" = "{}" ]
}
