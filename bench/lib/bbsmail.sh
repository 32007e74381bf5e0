# bbsmail's side of a benchmark: checks that the programs are built and
# makes a throwaway home the way the tests do.  Source common.sh first.
#
#   bbsmail_built PROG...    true when every libexec/ or bin/ PROG is built
#   bbsmail_home DIR [USER...]  a home in DIR: HostName localhost, no cap on
#                            the messages waiting, user demo and every USER
#                            (password demo); exports BBSMAIL_HOME=DIR
#   bbsmail_session_env      the environment tcpserver would give a session

bbsmail_built() {
	local p
	for p in "$@"; do
		[ -x "$BENCH_ROOT/$p" ] || { bench_say "bbsmail: $p is not built"; return 1; }
	done
}

# NO_NOTIFY: no new-mail telegram per delivery, which Postfix has no
# counterpart of; the same work on both sides.
bbsmail_home() {
	local user
	mkdir -p "$1/etc" || return 1
	cat > "$1/etc/mail.ini" <<-EOT
	[global]
	HostName = localhost
	[mail]
	MaxInactivity = 60
	MaxMsgsWaiting = 0
	Options = ALLOW_SYSOP_ALIASES | ALLOW_POP3 | NO_NOTIFY
	EOT
	: > "$1/etc/smtpserver.conf"
	export BBSMAIL_HOME="$1"
	"$BENCH_ROOT/bin/bbsmail-user" init &&
		"$BENCH_ROOT/bin/bbsmail-user" add demo --password demo > /dev/null ||
		{ bench_say "bbsmail: bbsmail-user could not make the home"; return 1; }
	shift
	for user in "$@"; do
		[ "$user" != demo ] || continue
		"$BENCH_ROOT/bin/bbsmail-user" add "$user" --password demo > /dev/null ||
			{ bench_say "bbsmail: bbsmail-user could not add $user"; return 1; }
	done
}

bbsmail_session_env() {
	export TCPREMOTEIP=127.0.0.1 TCPREMOTEHOST=localhost TCPREMOTEPORT=40000 \
		TCPLOCALIP=127.0.0.1 TCPLOCALHOST=localhost TCPLOCALPORT=25 PROTO=TCP
}
