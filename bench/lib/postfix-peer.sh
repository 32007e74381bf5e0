# A private Postfix instance for benchmarks and interop: its own
# config_directory, queue_directory and data_directory under one directory,
# listening on 127.0.0.1:PORT only, DNS off, no chroot, its log in a file,
# and virtual Maildir delivery for the domain localhost.
# Source bench/lib/common.sh first, then this file.
#
#   postfix_peer_start DIR PORT USER...   start it; USER@localhost exists
#                                         (in cgroup $POSTFIX_PEER_CGROUP if set)
#   postfix_peer_maildir USER             that user's Maildir (new/ is inside)
#   postfix_peer_stop                     postfix stop, then kill by PID
#
# The caller must run inside a private network namespace (bench_enter_netns):
# inet_interfaces already keeps Postfix on loopback; the namespace makes
# sure nothing it does reaches another host or the system DNS.

POSTFIX_PEER_DIR=
# Mail is owned by this uid/gid in the Maildir (virtual(8) needs >= 100).
POSTFIX_PEER_UID="$(id -u nobody 2>/dev/null || echo 65534)"
POSTFIX_PEER_GID="$(id -g nobody 2>/dev/null || echo 65534)"

postfix_peer_main_cf() {
	local d="$1" port="$2"
	cat <<EOF
# Written by bench/lib/postfix-peer.sh: a throwaway loopback-only instance.
compatibility_level = 3.6
config_directory = $d/etc
queue_directory = $d/queue
data_directory = $d/data
command_directory = $(postconf -dh command_directory)
daemon_directory = $(postconf -dh daemon_directory)
meta_directory = $(postconf -dh meta_directory)
shlib_directory = $(postconf -dh shlib_directory)
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix-peer.localdomain
mydomain = localdomain
myorigin = \$myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains =
default_transport = error:no outbound mail from the bench peer
relay_transport = error:no outbound mail from the bench peer
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtpd_peername_lookup = no
virtual_mailbox_domains = localhost
virtual_mailbox_base = $d/vmail
virtual_mailbox_maps = texthash:$d/etc/vmailbox
virtual_uid_maps = static:$POSTFIX_PEER_UID
virtual_gid_maps = static:$POSTFIX_PEER_GID
virtual_minimum_uid = 100
maillog_file_prefixes = $d
maillog_file = $d/log/maillog
EOF
}

# master.cf: the services a receive-and-deliver-to-Maildir run uses, none
# chrooted (the queue directory is not a chroot jail), smtpd on PORT.
postfix_peer_master_cf() {
	cat <<EOF
127.0.0.1:$2 inet n - n - - smtpd
pickup    unix  n - n 60    1 pickup
cleanup   unix  n - n -     0 cleanup
qmgr      unix  n - n 300   1 qmgr
rewrite   unix  - - n -     - trivial-rewrite
bounce    unix  - - n -     0 bounce
defer     unix  - - n -     0 bounce
trace     unix  - - n -     0 bounce
verify    unix  - - n -     1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -     - proxymap
showq     unix  n - n -     - showq
error     unix  - - n -     - error
retry     unix  - - n -     - error
discard   unix  - - n -     - discard
virtual   unix  - n n -     - virtual
anvil     unix  - - n -     1 anvil
scache    unix  - - n -     1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
}

postfix_peer_start() {
	local d="$1" port="$2" user
	shift 2
	POSTFIX_PEER_DIR="$d"
	mkdir -p "$d/etc" "$d/queue" "$d/data" "$d/vmail" "$d/log" || return 1
	chown postfix:postfix "$d/data" &&
		chown "$POSTFIX_PEER_UID:$POSTFIX_PEER_GID" "$d/vmail" || return 1
	postfix_peer_main_cf "$d" "$port" > "$d/etc/main.cf"
	postfix_peer_master_cf "$d" "$port" > "$d/etc/master.cf"
	for user in "$@"; do printf '%s@localhost localhost/%s/\n' "$user" "$user"; done \
		> "$d/etc/vmailbox"
	# `postfix check` creates the queue subdirectories with their owners.
	# POSTFIX_PEER_CGROUP: a cgroup directory the whole instance runs in.
	postfix -c "$d/etc" check >> "$d/log/start" 2>&1 &&
		( [ -z "${POSTFIX_PEER_CGROUP:-}" ] || echo "$BASHPID" > "$POSTFIX_PEER_CGROUP/cgroup.procs"
		  exec postfix -c "$d/etc" start ) >> "$d/log/start" 2>&1 || {
		bench_say "postfix did not start; its words:"
		cat "$d/log/start" "$d/log/maillog" >&2 2>/dev/null
		return 1
	}
	bench_at_exit postfix_peer_stop
	bench_wait_port "$port" 10 || { bench_say "postfix never listened on $port"; return 1; }
}

postfix_peer_maildir() { echo "$POSTFIX_PEER_DIR/vmail/localhost/$1"; }

# The master's PID from its pid file; every Postfix daemon is its child.
postfix_peer_master_pid() {
	local f="$POSTFIX_PEER_DIR/queue/pid/master.pid"
	[ -r "$f" ] && tr -d ' \n' < "$f"
}

postfix_peer_stop() {
	local d="$POSTFIX_PEER_DIR" master pids pid
	[ -n "$d" ] && [ -d "$d/etc" ] || return 0
	master="$(postfix_peer_master_pid)"
	postfix -c "$d/etc" stop >> "$d/log/start" 2>&1 || true
	[ -n "$master" ] || { POSTFIX_PEER_DIR=; return 0; }
	if ! bench_wait_gone "$master" 10; then
		# Children first, by PID, then the master itself.
		pids="$(pgrep -P "$master" 2>/dev/null)"
		for pid in $pids "$master"; do kill -KILL "$pid" 2>/dev/null || true; done
	fi
	POSTFIX_PEER_DIR=
}

# postfix_peer_peak_rss NAME: the largest peak RSS (VmHWM, KiB) among the
# running Postfix daemons called NAME (smtpd, cleanup, virtual, ...); "-"
# when none runs.  Postfix reuses a daemon for many sessions, so this is the
# high-water mark of a long-lived process, not of one session.
postfix_peer_peak_rss() {
	local master pid comm kib best=-
	master="$(postfix_peer_master_pid)" || { echo -; return; }
	for pid in $(pgrep -P "$master" 2>/dev/null); do
		read -r comm < "/proc/$pid/comm" 2>/dev/null || continue
		[ "$comm" = "$1" ] || continue
		kib="$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)"
		[ -n "$kib" ] || continue
		if [ "$best" = - ] || [ "$kib" -gt "$best" ]; then best="$kib"; fi
	done
	echo "$best"
}
