#!/usr/bin/env bats
# The DNS lookups of src/lib/dns.c through build/t/dns-test, against a real
# dnsmasq on loopback (t/lib/dnsmasq.bash) and a broken server
# (t/lib/dns_bad_server.py).  The driver prints one result a line and the
# status word last, with the error text after ": ".
load helper
load lib/dnsmasq
bats_require_minimum_version 1.5.0

dns() { timeout 60 "$BBSMAIL_ROOT/build/t/dns-test" "$@"; }
q() { dns -s "$DNSMASQ_SERVER" "$@"; }

# bad_server MODE: the broken server in the background; its port in BAD_PORT.
bad_server() {
  local portfile="$BATS_TEST_TMPDIR/bad-$1.port" i
  python3 "$BATS_TEST_DIRNAME/lib/dns_bad_server.py" "$1" "$portfile" &
  track_pid $!
  for i in $(seq 1 100); do
    [ -s "$portfile" ] && break
    sleep 0.05
  done
  BAD_PORT="$(cat "$portfile")"
}

long_string() { printf "%${2}s" | tr ' ' "$1"; }

setup() {
  bad_server servfail
  SERVFAIL_PORT="$BAD_PORT"
  dnsmasq_start \
    --mx-host=order.test,mx20.test,20 --mx-host=order.test,mx10.test,10 \
    --mx-host=order.test,mx30.test,30 \
    --host-record=mx10.test,192.0.2.10 --host-record=mx20.test,192.0.2.20,2001:db8::20 \
    --host-record=mx30.test,192.0.2.30 \
    --mx-host=equal.test,mxa.test,10 --mx-host=equal.test,mxb.test,10 \
    --host-record=mxa.test,192.0.2.1 --host-record=mxb.test,192.0.2.2 \
    --host-record=implicit.test,192.0.2.40 --host-record=six.test,2001:db8::6 \
    --host-record=dual.test,192.0.2.50,2001:db8::50 \
    --host-record=real.test,192.0.2.60 --cname=alias.test,real.test --cname=alias2.test,alias.test \
    --mx-host=viacname.test,alias2.test,10 \
    --mx-host=null.test,.,0 \
    --mx-host=noaddr.test,nowhere.test,10 \
    --mx-host=mixed.test,nowhere.test,5 --mx-host=mixed.test,mx10.test,10 \
    --server="/broken.test/127.0.0.1#$SERVFAIL_PORT" \
    --mx-host=halfbroken.test,mx.broken.test,5 --mx-host=halfbroken.test,mx30.test,10 \
    --mx-host=allbroken.test,mx.broken.test,10 \
    '--txt-record=spf.test,v=spf1 ip4:192.0.2.0/24 -all' \
    '--txt-record=split.test,v=spf1 ,-all' \
    "--txt-record=big.test,$(long_string x 200),$(long_string y 200),$(long_string z 200)" \
    --ptr-record=99.2.0.192.in-addr.arpa,ptr-only.test
}

@test "dns: MX records come sorted by preference" {
  run q mx order.test
  [ "$output" = "10 mx10.test
20 mx20.test
30 mx30.test
OK" ]
}

@test "dns: equal preferences: both hosts, and over many lookups both orders" {
  local i ab=0 ba=0 out
  for i in $(seq 1 40); do
    out="$(q mx equal.test)"
    case "$out" in
      $'10 mxa.test\n10 mxb.test\nOK') ab=$((ab + 1)) ;;
      $'10 mxb.test\n10 mxa.test\nOK') ba=$((ba + 1)) ;;
      *) echo "unexpected: $out"; return 1 ;;
    esac
  done
  echo "ab=$ab ba=$ba"
  [ "$ab" -gt 0 ] && [ "$ba" -gt 0 ]
}

@test "dns: destination: MX hosts in order, each with its addresses (AAAA first)" {
  run q dest order.test
  [ "$output" = "10 mx10.test 192.0.2.10
20 mx20.test 2001:db8::20 192.0.2.20
30 mx30.test 192.0.2.30
OK" ]
  run q -4 dest order.test
  [ "${lines[1]}" = "20 mx20.test 192.0.2.20 2001:db8::20" ]
}

@test "dns: destination without MX records is the domain itself (implicit MX)" {
  run q mx implicit.test
  [ "$output" = "NOTFOUND: implicit.test: no MX records" ]
  run q dest implicit.test
  [ "$output" = "implicit implicit.test 192.0.2.40
OK" ]
  run q dest six.test
  [ "$output" = "implicit six.test 2001:db8::6
OK" ]
}

@test "dns: A, AAAA and both families" {
  run q a dual.test
  [ "$output" = "192.0.2.50
OK" ]
  run q aaaa dual.test
  [ "$output" = "2001:db8::50
OK" ]
  run q addr dual.test
  [ "$output" = "2001:db8::50
192.0.2.50
OK" ]
  run q -4 addr dual.test
  [ "$output" = "192.0.2.50
2001:db8::50
OK" ]
  run q a six.test
  [ "$output" = "NOTFOUND: six.test: no A records" ]
  run q addr six.test
  [ "$output" = "2001:db8::6
OK" ]
}

@test "dns: CNAME chains are followed, for an address and for an MX host" {
  run q a alias2.test
  [ "$output" = "192.0.2.60
OK" ]
  run q addr alias.test
  [ "$output" = "192.0.2.60
OK" ]
  run q dest viacname.test
  [ "$output" = "10 alias2.test 192.0.2.60
OK" ]
}

@test "dns: null MX (MX 0 .) is its own status, for mx and dest" {
  run q mx null.test
  [ "$output" = "NULL_MX: null.test: accepts no mail (null MX, RFC 7505)" ]
  run q dest null.test
  [ "$output" = "NULL_MX: null.test: accepts no mail (null MX, RFC 7505)" ]
}

@test "dns: NXDOMAIN, and a name without records of the type" {
  run q mx nosuch.test
  [ "$output" = "NOTFOUND: nosuch.test: no such name (NXDOMAIN)" ]
  run q dest nosuch.test
  [ "$output" = "NOTFOUND: nosuch.test: no such name (NXDOMAIN)" ]
  run q addr nosuch.test
  [ "$output" = "NOTFOUND: nosuch.test: no such name (NXDOMAIN)" ]
  run q txt implicit.test
  [ "$output" = "NOTFOUND: implicit.test: no TXT records" ]
  run q addr order.test
  [ "$output" = "NOTFOUND: order.test: no A or AAAA records" ]
}

@test "dns: MX hosts without addresses are skipped; none left is NOTFOUND" {
  run q dest mixed.test
  [ "$output" = "10 mx10.test 192.0.2.10
skipped tempfail=0 noaddress=1
OK" ]
  run q dest noaddr.test
  [ "$output" = "skipped tempfail=0 noaddress=1
NOTFOUND: noaddr.test: no MX host has an address" ]
}

@test "dns: an MX host that fails temporarily is skipped but counted; all failing is TEMPFAIL" {
  run q dest halfbroken.test
  [ "$output" = "10 mx30.test 192.0.2.30
skipped tempfail=1 noaddress=0
OK" ]
  run q dest allbroken.test
  [ "${lines[0]}" = "skipped tempfail=1 noaddress=0" ]
  [[ "${lines[1]}" == "TEMPFAIL: allbroken.test: no MX host has an address now (mx.broken.test: "*"server failure (SERVFAIL))" ]]
}

@test "dns: TXT strings are joined per record" {
  run q txt spf.test
  [ "$output" = "v=spf1 ip4:192.0.2.0/24 -all
OK" ]
  run q txt split.test
  [ "$output" = "v=spf1 -all
OK" ]
}

@test "dns: a reply too big for UDP (TC) is asked again over TCP" {
  run q txt big.test
  [ "$output" = "$(long_string x 200)$(long_string y 200)$(long_string z 200)
OK" ]
  grep -c 'query\[TXT\] big.test' "$BATS_TEST_TMPDIR/dnsmasq.log"
  [ "$(grep -c 'query\[TXT\] big.test' "$BATS_TEST_TMPDIR/dnsmasq.log")" -eq 2 ]
}

@test "dns: PTR for IPv4 and IPv6" {
  run q ptr 192.0.2.10
  [ "$output" = "mx10.test
OK" ]
  run q ptr 2001:db8::20
  [ "$output" = "mx20.test
OK" ]
  run q ptr 192.0.2.99
  [ "$output" = "ptr-only.test
OK" ]
  run q ptr 192.0.2.98
  [ "$output" = "NOTFOUND: 98.2.0.192.in-addr.arpa: no such name (NXDOMAIN)" ]
}

@test "dns: TCP mode (-t, USE_TCP_DNS) asks over TCP only" {
  run q -t dest order.test
  [ "${lines[0]}" = "10 mx10.test 192.0.2.10" ]
  [ "${lines[3]}" = "OK" ]
  run q -t txt big.test
  [ "${lines[1]}" = "OK" ]
  # One query each: no UDP try before TCP.
  [ "$(grep -c 'query\[TXT\] big.test' "$BATS_TEST_TMPDIR/dnsmasq.log")" -eq 1 ]
  # A TCP port nobody listens on.
  run dns -t -s "127.0.0.1:$SERVFAIL_PORT" -T 2 a x.test
  [ "$output" = "TEMPFAIL: x.test: 127.0.0.1:$SERVFAIL_PORT: TCP: Connection refused" ]
}

@test "dns: a UDP port nobody listens on is TEMPFAIL at once" {
  local port start
  port="$(free_port)"
  start=$SECONDS
  run dns -s "127.0.0.1:$port" a real.test
  [ "$output" = "TEMPFAIL: real.test: 127.0.0.1:$port: Connection refused" ]
  [ $((SECONDS - start)) -lt 20 ]
}

@test "dns: a server that never answers is TEMPFAIL after tries x timeout" {
  local start
  bad_server silent
  start=$SECONDS
  run dns -s "127.0.0.1:$BAD_PORT" -T 1 -n 2 a real.test
  [ "$output" = "TEMPFAIL: real.test: 127.0.0.1:$BAD_PORT: no reply in time" ]
  echo "took $((SECONDS - start)) s"
  [ $((SECONDS - start)) -ge 1 ] && [ $((SECONDS - start)) -lt 20 ]
}

@test "dns: SERVFAIL is TEMPFAIL" {
  run dns -s "127.0.0.1:$SERVFAIL_PORT" mx real.test
  [ "$output" = "TEMPFAIL: real.test: 127.0.0.1:$SERVFAIL_PORT: server failure (SERVFAIL)" ]
}

@test "dns: garbage, a wrong id or another question are ignored until the timeout" {
  bad_server garbage
  run dns -s "127.0.0.1:$BAD_PORT" -T 1 -n 1 a real.test
  [ "$output" = "TEMPFAIL: real.test: 127.0.0.1:$BAD_PORT: no reply in time, ignored a message that is no DNS reply" ]
  bad_server wrongid
  run dns -s "127.0.0.1:$BAD_PORT" -T 1 -n 1 a real.test
  [ "$output" = "TEMPFAIL: real.test: 127.0.0.1:$BAD_PORT: no reply in time, ignored a reply with a wrong id" ]
  bad_server question
  run dns -s "127.0.0.1:$BAD_PORT" -T 1 -n 1 mx real.test
  [ "$output" = "TEMPFAIL: real.test: 127.0.0.1:$BAD_PORT: no reply in time, ignored a reply to another question" ]
}

@test "dns: a malformed reply to our question is TEMPFAIL with the reason" {
  bad_server truncated
  run dns -s "127.0.0.1:$BAD_PORT" -T 5 -n 1 a real.test
  [ "$output" = "TEMPFAIL: real.test: 127.0.0.1:$BAD_PORT: malformed reply: sections do not fit the message" ]
  bad_server badrdata
  run dns -s "127.0.0.1:$BAD_PORT" -T 5 -n 1 a real.test
  [ "$output" = "TEMPFAIL: real.test: 127.0.0.1:$BAD_PORT: malformed reply: malformed record data" ]
  bad_server loop
  run dns -s "127.0.0.1:$BAD_PORT" -T 5 -n 1 addr real.test
  [ "$output" = "TEMPFAIL: real.test: 127.0.0.1:$BAD_PORT: malformed reply: CNAME chain too long" ]
}

@test "dns: names that are never sent: too long, empty label, bad byte" {
  local long
  long="$(long_string a 63).$(long_string b 63).$(long_string c 63).$(long_string d 62)"   # 254
  run q a "$long"
  [ "$output" = "PERMFAIL: not a valid domain name (too long, an empty label or a bad character)" ]
  run q a "$(long_string a 64).test"
  [ "${lines[0]}" = "PERMFAIL: not a valid domain name (too long, an empty label or a bad character)" ]
  run q mx "a..test"
  [ "${lines[0]}" = "PERMFAIL: not a valid domain name (too long, an empty label or a bad character)" ]
  run q dest "[192.0.2.1]"
  [ "${lines[0]}" = "PERMFAIL: not a valid domain name (too long, an empty label or a bad character)" ]
  run q a "a b.test"
  [ "${lines[0]}" = "PERMFAIL: not a valid domain name (too long, an empty label or a bad character)" ]
  # 253 bytes, and a trailing dot, are fine.
  run q a "${long%?}"
  [ "$output" = "NOTFOUND: ${long%?}: no such name (NXDOMAIN)" ]
  run q a real.test.
  [ "$output" = "192.0.2.60
OK" ]
  ! grep -q 'query\[A\] a b' "$BATS_TEST_TMPDIR/dnsmasq.log"
}

@test "dns: server texts: IPv4, ports, IPv6 in brackets; bad ones refused" {
  local bad
  for bad in "192.0.2.1:" "192.0.2.1:0" "192.0.2.1:65536" "dns.example" "[::1" "[::1]x" "[192.0.2.1]:53" "::1:53x"; do
    run dns -s "$bad" a real.test
    [ "$status" -eq 2 ]
    [ "$output" = "dns_init: DNS server is not an IP address with an optional port (1-65535)" ]
  done
}

@test "dns: an IPv6 server address [::1]:PORT" {
  python3 -c 'import socket; s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("::1", 0))' 2>/dev/null ||
    skip "no ::1 on this machine"
  kill_tracked
  dnsmasq_start --listen-address=::1 --host-record=v6.test,192.0.2.66
  run dns -s "[::1]:$DNSMASQ_PORT" a v6.test
  [ "$output" = "192.0.2.66
OK" ]
  run dns -t -s "[::1]:$DNSMASQ_PORT" a v6.test
  [ "$output" = "192.0.2.66
OK" ]
}

# in_netns SCRIPT: runs SCRIPT (bash) in a private network and mount
# namespace, where only loopback exists and /etc/resolv.conf is ours:
# nameserver 127.0.0.1, port 53, which dnsmasq can bind there.
in_netns() {
  local flags=-nm
  [ "$(id -u)" -eq 0 ] || flags=-rnm
  echo "nameserver 127.0.0.1" > "$BATS_TEST_TMPDIR/resolv.conf"
  printf '%s\n' "set -e" "ip link set lo up" \
    "mount --bind '$BATS_TEST_TMPDIR/resolv.conf' /etc/resolv.conf" \
    "source '$BATS_TEST_DIRNAME/lib/dnsmasq.bash'" "$1" > "$BATS_TEST_TMPDIR/netns.sh"
  timeout 60 unshare $flags bash "$BATS_TEST_TMPDIR/netns.sh"
}

@test "dns: the system resolver (no DNSServer), in a private network namespace" {
  [ -e /etc/resolv.conf ] && unshare -rnm true 2>/dev/null && command -v ip >/dev/null ||
    skip "no private network namespace here"
  run --separate-stderr in_netns "
    D='$BBSMAIL_ROOT/build/t/dns-test'
    \$D -T 1 -n 1 a real.test
    dnsmasq --no-daemon --no-resolv --no-hosts --conf-file=/dev/null --user=root --group=root \
      --listen-address=127.0.0.1 --bind-interfaces --port=53 --local=/#/ \
      --mx-host=m.test,mx1.test,10 --mx-host=m.test,mx2.test,20 --host-record=mx1.test,192.0.2.1 \
      --host-record=mx2.test,192.0.2.2,2001:db8::2 --cname=alias.test,mx1.test --mx-host=null.test,.,0 \
      '--txt-record=spf.test,v=spf1 -all' 2>/dev/null &
    pid=\$!
    trap 'kill \$pid' EXIT
    _dnsmasq_wait 53 \$pid
    \$D dest m.test; \$D a alias.test; \$D mx mx1.test; \$D a nosuch.test; \$D mx null.test
    \$D txt spf.test; \$D ptr 192.0.2.2; \$D -t addr mx2.test"
  echo "$output"
  echo "$stderr"
  [ "$status" -eq 0 ]
  [ "$output" = "TEMPFAIL: real.test: the system resolver: no reply in time, or a server failure
10 mx1.test 192.0.2.1
20 mx2.test 2001:db8::2 192.0.2.2
OK
192.0.2.1
OK
NOTFOUND: mx1.test: no MX records
NOTFOUND: nosuch.test: no such name (NXDOMAIN)
NULL_MX: null.test: accepts no mail (null MX, RFC 7505)
v=spf1 -all
OK
mx2.test
OK
2001:db8::2
192.0.2.2
OK" ]
}

@test "dns: mail.ini's DNSServer and USE_TCP_DNS (dns_init_config)" {
  make_home "DNSServer = $DNSMASQ_SERVER"
  run dns -c dest order.test
  [ "${lines[0]}" = "10 mx10.test 192.0.2.10" ]
  [ "${lines[3]}" = "OK" ]
  run dns -c txt big.test
  [ "${lines[1]}" = "OK" ]
  [ "$(grep -c 'query\[TXT\] big.test' "$BATS_TEST_TMPDIR/dnsmasq.log")" -eq 2 ]   # UDP, TC, TCP
  set_mail_key Options "USE_TCP_DNS"
  run dns -c txt big.test
  [ "${lines[1]}" = "OK" ]
  [ "$(grep -c 'query\[TXT\] big.test' "$BATS_TEST_TMPDIR/dnsmasq.log")" -eq 3 ]   # TCP only
  set_mail_key DNSServer "[::1"
  run dns -c a real.test
  [ "$status" -eq 2 ]
  [ "$output" = "dns_init: DNS server is not an IP address with an optional port (1-65535)" ]
}

@test "dns: parser, reverse names and the name check on built messages (dns-unit)" {
  run --separate-stderr timeout 20 "$BBSMAIL_ROOT/build/t/dns-unit"
  echo "$output"
  echo "$stderr"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}
