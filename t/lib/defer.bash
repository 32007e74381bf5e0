# Helpers for the tests of deferred jobs (ETRN, runq -D, mailq): jobs made
# by the real programs (sendmail, route), then deferred in place the way the
# stage driver defers them (spool(5), D2).  Load after `load lib/stages`.

# remote_job SEQ ADDRESS...: a message to ADDRESS... (outside addresses, or
# a user whose forward address is outside), routed; JOB is its job name.
remote_job() {
  local seq="$1"
  shift
  inject "$seq" "$@" || return 1
  # route names a message's jobs after its queue id, the incoming name
  JOB="$(ls "$(SPOOL)/incoming")"
  "$LIBEXEC/route" 2>/dev/null || return 1
  [ -n "$JOB" ] && [ -e "$(SPOOL)/queue/remote/$JOB" ] && [ -e "$(SPOOL)/body/remote-$JOB" ]
}

# future_bucket [MINUTES]: a bucket name MINUTES (default 60) from now.
future_bucket() { echo $(( ($(date +%s) / 60 + ${1:-60}) * 60 )); }

# defer_job CHANNEL JOB BUCKET ATTEMPTS LAST [CODE STATUS TEXT MTA]: moves
# the queued job into spool/defer/CHANNEL/BUCKET/ as the driver's deferred
# copy: marked (mode 0400), with Q ATTEMPTS and L LAST (Unix time, 0: none),
# and each recipient with the last failure (r CODE, s STATUS, x TEXT,
# m MTA) when given.  The body link stays, as it does for a deferral.
defer_job() {
  local channel="$1" job="$2" bucket="$3" dir
  dir="$(SPOOL)/defer/$channel/$bucket"
  mkdir -p "$dir"
  python3 - "$(SPOOL)/queue/$channel/$job" "$dir/$job" "${@:4}" <<'EOF' || return 1
import os, sys
src, dst, attempts, last = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
fail = sys.argv[5:9]
data = open(src, 'rb').read()
fields = data[:data.index(b'\0\0') + 1].split(b'\0')[:-1]
head, rcpts = [], []
for f in fields:
    if f[:1] == b'T':
        rcpts.append([f])
    elif rcpts:
        rcpts[-1].append(f)
    else:
        head.append(f)
if attempts:
    head.append(b'Q%d' % attempts)
if last:
    head.append(b'L%d' % last)
out = head[:]
for r in rcpts:
    out += r
    if fail:
        code, status, text, mta = (x.encode() for x in fail)
        out += [b's' + status, b'r' + code, b'x' + text, b'm' + mta]
tmp = dst + '.tmp'
with open(tmp, 'wb') as f:
    f.write(b''.join(x + b'\0' for x in out) + b'\0')
os.chmod(tmp, 0o400)
os.rename(tmp, dst)
os.unlink(src)
EOF
}

# deferred_jobs CHANNEL: the names of the deferred jobs, sorted, one a line.
deferred_jobs() { find "$(SPOOL)/defer/$1" -type f -printf '%f\n' 2>/dev/null | sort; }
# queued_jobs CHANNEL: the names of the queued jobs, sorted, one a line.
queued_jobs() { find "$(SPOOL)/queue/$1" -type f -printf '%f\n' 2>/dev/null | sort; }
