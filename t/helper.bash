# Shared Bats helpers: a throwaway home per test and real receivers under a
# real tcpserver on a free loopback port.  Load with `load helper`.
# Area-specific helpers live in t/lib/<area>.bash.

BBSMAIL_ROOT="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
export PATH="$BBSMAIL_ROOT/bin:$PATH"
LIBEXEC="$BBSMAIL_ROOT/libexec"

# Every process a test starts is recorded here and killed by PID in teardown.
_pidfile() { echo "$BATS_TEST_TMPDIR/pids"; }
track_pid() { echo "$1" >> "$(_pidfile)"; }

kill_tracked() {
  local f pid
  f="$(_pidfile)"
  [ -f "$f" ] || return 0
  while read -r pid; do
    kill -TERM "$pid" 2>/dev/null || true
  done < "$f"
  sleep 0.05
  while read -r pid; do
    kill -KILL "$pid" 2>/dev/null || true
  done < "$f"
  rm -f "$f"
}

# make_home [mail.ini extra lines...]: a fresh home in $HOME_DIR with the
# spool skeleton, a mail.ini for tests, and users sysop (1) and demo (2).
make_home() {
  HOME_DIR="$BATS_TEST_TMPDIR/home"
  export BBSMAIL_HOME="$HOME_DIR"
  mkdir -p "$HOME_DIR/etc/db"
  {
    echo "[mail]"
    echo "HostName = localhost"
    echo "MaxInactivity = 10"
    # Outbound mail waits (NO_SENDMAIL), and a test that turns it on without
    # its own dnsmasq asks a dead loopback port: never the system resolver.
    echo "Options = ALLOW_POP3 | ALLOW_SYSOP_ALIASES | NO_SENDMAIL"
    echo "DNSServer = 127.0.0.1:1"
    local line
    for line in "$@"; do echo "$line"; done
  } > "$HOME_DIR/etc/mail.ini"
  : > "$HOME_DIR/etc/smtpserver.conf"
  "$BBSMAIL_ROOT/bin/bbsmail-user" init
  "$BBSMAIL_ROOT/bin/bbsmail-user" add sysop --password demo >/dev/null
  "$BBSMAIL_ROOT/bin/bbsmail-user" add demo --password demo >/dev/null
}

# set_option KEY VALUE: replaces or adds a [mail] key in the test mail.ini.
set_mail_key() {
  local key="$1" value="$2" f="$HOME_DIR/etc/mail.ini"
  if grep -qi "^$key *=" "$f"; then
    sed -i "s|^$key *=.*|$key = $value|I" "$f"
  else
    sed -i "/^\[mail\]/a $key = $value" "$f"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_port() {
  local port="$1" i
  for i in $(seq 1 100); do
    if nc -z 127.0.0.1 "$port" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "port $port never opened" >&2
  return 1
}

# serve VAR PROGRAM [args...]: runs PROGRAM under tcpserver on a free port,
# stores the port in $VAR; the receiver's stderr goes to $BATS_TEST_TMPDIR/<VAR>.log
serve() {
  local var="$1" port log
  shift
  port="$(free_port)"
  log="$BATS_TEST_TMPDIR/$var.log"
  tcpserver -c 100 -H -R -l localhost 127.0.0.1 "$port" "$@" 2>>"$log" &
  track_pid $!
  wait_port "$port"
  printf -v "$var" '%s' "$port"
}

start_smtpd() { serve SMTP_PORT "$LIBEXEC/smtpd" "$@"; }

# run_stages: route then deliver-local once, as cron would.
run_stages() { "$BBSMAIL_ROOT/bin/runq" "$@"; }

# mailbox_files USERNUM: the delivered message files of a user, sorted.
mailbox_files() {
  find "$HOME_DIR/spool/mailbox/$1/new" "$HOME_DIR/spool/mailbox/$1/cur" -type f 2>/dev/null | sort
}
mailbox_count() { mailbox_files "$1" | wc -l; }

teardown() { kill_tracked; }
