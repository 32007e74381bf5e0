# Shared helpers for the bench/*-vs-* scripts: a private network namespace,
# one scratch directory, processes tracked by PID, bounded waits, arithmetic.
# Source it from a bench script: . "$(dirname "$0")/lib/common.sh"
# Every wait here has a timeout, and bench_cleanup (run from the EXIT trap)
# kills what was started by PID and removes the scratch directory.

BENCH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH_NAME="$(basename "$0")"
# The system python through pyenv's shim costs a shell start per call.
BENCH_PY=/usr/bin/python3
[ -x "$BENCH_PY" ] || BENCH_PY=python3

bench_say() { printf '%s: %s\n' "$BENCH_NAME" "$*" >&2; }
bench_die() { bench_say "fatal: $*"; exit 111; }

# bench_need CMD:PACKAGE ...: installs the Debian packages whose command is
# missing (as root; otherwise names them and stops).  scripts/install-deps
# bench normally did this already; this is the fallback for a direct run.
bench_need() {
	local pair cmd pkg missing=()
	for pair in "$@"; do
		cmd="${pair%%:*}" pkg="${pair#*:}"
		command -v "$cmd" >/dev/null 2>&1 || [ -x "$cmd" ] || missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || bench_die "missing Debian packages: ${missing[*]}"
	bench_say "installing ${missing[*]}"
	echo "postfix postfix/main_mailer_type select No configuration" |
		debconf-set-selections 2>/dev/null || true
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2 ||
		bench_die "apt-get install ${missing[*]} failed"
}

# bench_enter_netns "$@": re-executes the calling script inside a fresh
# network namespace that has only a loopback interface, so no packet (DNS
# included) can leave the machine whatever a peer is configured to do.
bench_enter_netns() {
	if [ "${BENCH_IN_NETNS:-}" != 1 ]; then
		[ "$(id -u)" = 0 ] || bench_die "needs root (unshare -n, a private Postfix)"
		bench_need unshare:util-linux ip:iproute2
		BENCH_IN_NETNS=1 exec unshare -n -- "$0" "$@"
	fi
	ip link set lo up || bench_die "cannot bring up lo in the private namespace"
}

# bench_workdir: one scratch directory on the disk (not tmpfs, so fsync
# costs what it costs in production), readable by the peers' own users.
bench_workdir() {
	BENCH_DIR="$(mktemp -d "${BENCH_TMP:-/var/tmp}/bbsmail-bench.XXXXXX")" ||
		bench_die "mktemp failed"
	chmod 755 "$BENCH_DIR"
}

BENCH_PIDS=()
BENCH_CLEANUPS=()
BENCH_CGROUPS=()
bench_track() { BENCH_PIDS+=("$1"); }
# bench_at_exit CMD...: runs CMD (one word list) at cleanup, newest first.
bench_at_exit() { BENCH_CLEANUPS=("$*" "${BENCH_CLEANUPS[@]}"); }

bench_cleanup() {
	local c pid
	for c in "${BENCH_CLEANUPS[@]}"; do eval "$c" || true; done
	bench_stop_pids "${BENCH_PIDS[@]}"
	for c in "${BENCH_CGROUPS[@]}"; do rmdir "$c" 2>/dev/null || true; done
	if [ -n "${BENCH_DIR:-}" ] && [ -z "${BENCH_KEEP:-}" ]; then
		rm -rf "$BENCH_DIR"
	elif [ -n "${BENCH_DIR:-}" ]; then
		bench_say "kept $BENCH_DIR"
	fi
}

# bench_stop_pids PID...: TERM each PID and its direct children (a
# tcpserver's sessions, runq's stages), then KILL whatever is left after 3 s.
bench_stop_pids() {
	local pid kids=()
	for pid in "$@"; do
		kids+=($(pgrep -P "$pid" 2>/dev/null))
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${kids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "$@" "${kids[@]}"; do
		bench_wait_gone "$pid" 3 || kill -KILL "$pid" 2>/dev/null || true
	done
	# Forget them: a PID killed later could belong to someone else by then.
	bench_untrack "$@"
}

bench_traps() {
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# bench_wait_gone PID SECONDS: true once PID has exited.
bench_wait_gone() {
	local pid="$1" end=$((SECONDS + $2))
	while kill -0 "$pid" 2>/dev/null; do
		[ $SECONDS -lt "$end" ] || return 1
		sleep 0.05
	done
}

# bench_wait_port PORT [SECONDS]: until something listens on 127.0.0.1:PORT.
bench_wait_port() {
	local port="$1" end=$((SECONDS + ${2:-10}))
	until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
		[ $SECONDS -lt "$end" ] || return 1
		sleep 0.05
	done
}

# bench_run CMD...: runs CMD as a background job and waits for it.  Bash
# runs a trap only after the foreground command ends; `wait` is cut short by
# a trapped INT or TERM instead, so the script stops at once and cleanup
# kills the job by PID.  Redirections given to bench_run reach CMD (<&0
# keeps fd 0: a background job would otherwise read /dev/null).
bench_run() {
	local pid rc
	"$@" <&0 &
	pid=$!
	bench_track "$pid"
	wait "$pid"
	rc=$?
	bench_untrack "$pid"
	return $rc
}

bench_untrack() {
	local keep=() p
	for p in "${BENCH_PIDS[@]}"; do
		[[ " $* " == *" $p "* ]] || keep+=("$p")
	done
	BENCH_PIDS=("${keep[@]}")
}

# bench_wait_count VAR COUNT SECONDS DIR...: waits until the DIRs (glob
# patterns allowed, for directories that appear later) hold COUNT regular
# files in all, polling every 5 ms from one process, and sets VAR to the
# wall clock (seconds since the epoch) when the count was reached; at the
# timeout it says how many there were and fails.
bench_wait_count() {
	local var="$1" out="$BENCH_DIR/.wait-count"
	shift
	bench_run bench_count_py "$@" > "$out" || return 1
	printf -v "$var" %s "$(cat "$out")"
}

# bench_count DIR...: prints how many regular files the DIRs hold now.
bench_count() { bench_count_py -1 0 "$@"; }

bench_count_py() {
	"$BENCH_PY" - "$@" <<'EOF'
import glob, os, sys, time
want, limit, patterns = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
end = time.time() + limit
def count():
    n = 0
    for d in [d for p in patterns for d in glob.glob(p)]:
        try:
            with os.scandir(d) as it:
                n += sum(1 for e in it if e.is_file(follow_symlinks=False))
        except FileNotFoundError:
            pass
    return n
if want < 0:
    print(count())
    sys.exit(0)
while True:
    n = count()
    now = time.time()
    if n >= want:
        print("%.6f" % now)
        sys.exit(0)
    if now > end:
        print("only %d of %d after %gs" % (n, want, limit), file=sys.stderr)
        sys.exit(1)
    time.sleep(0.005)
EOF
}

# bench_rate COUNT T0 T1: messages per second, whole; "-" without a time.
bench_rate() {
	awk -v n="$1" -v a="$2" -v b="$3" \
		'BEGIN { if (a != "" && b != "" && b > a) printf "%.0f", n / (b - a); else printf "-" }'
}
# bench_ratio A B: A/B to two places; "-" when either is missing or B is 0.
bench_ratio() {
	awk -v a="$1" -v b="$2" \
		'BEGIN { if (a != "-" && a != "" && b != "-" && b + 0 > 0) printf "%.2f", a / b; else printf "-" }'
}
# bench_load: the one-minute load average, to print beside a figure.
bench_load() { cut -d' ' -f1 /proc/loadavg; }
# bench_secs T0 T1: elapsed seconds to three places.
bench_secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# CPU accounting for a whole server side (every process it forks, daemons
# included), from a cpuacct cgroup of our own: CPU time per message does not
# swing with the machine's load the way wall-clock rates do.
#   bench_cgroup VAR NAME      VAR = a new cgroup's directory, or "" if none
#   bench_cgroup_join DIR      moves the calling (sub)shell into it; children follow
#   bench_cgroup_usage DIR     CPU nanoseconds used in it so far ("-" if none)
BENCH_CPUACCT=/sys/fs/cgroup/cpuacct
bench_cgroup() {
	local dir=
	if [ -w "$BENCH_CPUACCT" ]; then
		dir="$BENCH_CPUACCT/bbsmail-bench-$$-$2"
		mkdir "$dir" 2>/dev/null && BENCH_CGROUPS+=("$dir") || dir=
	fi
	[ -n "$dir" ] || [ ! -d /sys/fs/cgroup/unified ] || bench_say "no cpuacct cgroup: no CPU figures"
	printf -v "$1" %s "$dir"
}
bench_cgroup_join() { [ -z "$1" ] || echo "$BASHPID" > "$1/cgroup.procs"; }
bench_cgroup_usage() {
	if [ -n "$1" ] && [ -r "$1/cpuacct.usage" ]; then cat "$1/cpuacct.usage"; else echo -; fi
}
# bench_per_msg NS0 NS1 COUNT: microseconds of CPU per message, or "-".
bench_per_msg() {
	awk -v a="$1" -v b="$2" -v n="$3" \
		'BEGIN { if (a == "-" || b == "-" || n + 0 == 0) printf "-"; else printf "%.0f", (b - a) / 1000 / n }'
}
