#!/usr/bin/env bats
# bin/bbsmail-config: values, flags, PARAMs, and bad files.
load helper

setup() { make_home "MaxMsgSize = 1MB" "RescanFrequency = 2M"; }

@test "prints values with units resolved, and defaults" {
  run bbsmail-config MaxMsgSize RescanFrequency MaxRecipients HostName
  [ "$status" -eq 0 ]
  [ "$output" = $'1048576\n120\n100\nlocalhost' ]
}

@test "-o tests Options flags" {
  run bbsmail-config -o ALLOW_POP3
  [ "$status" -eq 0 ]
  run bbsmail-config -o allow_relay
  [ "$status" -eq 1 ]
  run bbsmail-config -o NO_SUCH_FLAG
  [ "$status" -eq 100 ]
  [ "$output" = "bbsmail-config: fatal: unknown Options flag NO_SUCH_FLAG" ]
}

@test "-p prints PARAMs; no-<name> turns one off" {
  printf 'PARAM min-availspace 5000  # KiB\nPARAM VRFYcmd\nPARAM hdr220 "%%H hello # there"\n' > "$HOME_DIR/etc/smtpserver.conf"
  run bbsmail-config -p min-availspace
  [ "$output" = "5000" ]
  run bbsmail-config -p hdr220
  [ "$output" = "%H hello # there" ]
  run bbsmail-config -p VRFYcmd
  [ "$status" -eq 0 ]
  echo "PARAM no-VRFYcmd" >> "$HOME_DIR/etc/smtpserver.conf"
  run bbsmail-config -p VRFYcmd
  [ "$status" -eq 1 ]
}

@test "-c: unknown keys and flags warn with file:line; bad values fail" {
  printf '[mail]\nHostName = x.example\nBogusKey = 1\nOptions = ALLOW_POP3 | FROBNICATE\n' > "$HOME_DIR/etc/mail.ini"
  run bbsmail-config -c
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "bbsmail-config: warning: $HOME_DIR/etc/mail.ini:3: unknown key BogusKey" ]
  [ "${lines[1]}" = "bbsmail-config: warning: $HOME_DIR/etc/mail.ini:4: unknown Options flag FROBNICATE" ]
  printf '[mail]\nMaxMsgSize = lots\n' > "$HOME_DIR/etc/mail.ini"
  run bbsmail-config -c
  [ "$status" -eq 100 ]
  [ "$output" = "bbsmail-config: fatal: $HOME_DIR/etc/mail.ini:2: bad value for MaxMsgSize: lots" ]
}

@test "an unreadable config file is a temporary error naming the file" {
  rm "$HOME_DIR/etc/mail.ini"
  mkdir "$HOME_DIR/etc/mail.ini"
  run bbsmail-config HostName
  [ "$status" -eq 111 ]
  [[ "$output" == "bbsmail-config: fatal: unable to read $HOME_DIR/etc/mail.ini: Is a directory" ]]
}

@test "bad usage prints the usage line and exits 100" {
  run bbsmail-config
  [ "$status" -eq 100 ]
  [ "$output" = "bbsmail-config: usage: bbsmail-config [-d DIR] (-c | -o FLAG | -p PARAM | KEY...)" ]
}

@test "-c: boards.cfg, qwknet.cfg and fidonet.cfg are checked whole, every bad one named; dns_blacklist.cfg warns" {
  run bbsmail-config -c
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  printf 'ok anyone 12Q - spool/boards/x X\n' > "$HOME_DIR/etc/boards.cfg"
  printf 'nonsense line\n' > "$HOME_DIR/etc/qwknet.cfg"
  printf 'address 2:250/1\nbogus\n' > "$HOME_DIR/etc/fidonet.cfg"
  printf 'bad_zone!\n' > "$HOME_DIR/etc/dns_blacklist.cfg"
  run bbsmail-config -c
  [ "$status" -eq 100 ]
  [[ "${lines[0]}" == "bbsmail-config: warning: etc/dns_blacklist.cfg:1: not a DNS zone: bad_zone! (skipped)" ]]
  [[ "${lines[1]}" == "bbsmail-config: error: $HOME_DIR/etc/boards.cfg:1: "* ]]
  [[ "${lines[2]}" == "bbsmail-config: error: $HOME_DIR/etc/qwknet.cfg:1: "* ]]
  [[ "${lines[3]}" == "bbsmail-config: error: $HOME_DIR/etc/fidonet.cfg:2: "* ]]
  [ "${#lines[@]}" -eq 4 ]
}

@test "-c: warns about modes wider than scripts/set-permissions makes them" {
  run bbsmail-config -c
  [ -z "$output" ]
  printf '[mail]\nRelayPassword = secret\n' >> "$HOME_DIR/etc/mail.ini"
  chmod 0644 "$HOME_DIR/etc/mail.ini"
  mkdir -p "$HOME_DIR/spool/incoming" "$HOME_DIR/spool/drop"
  chmod 0755 "$HOME_DIR/spool/incoming"
  chmod 0733 "$HOME_DIR/spool/drop"
  run bbsmail-config -c
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "bbsmail-config: warning: $HOME_DIR/etc/mail.ini is mode 0644: it holds RelayPassword (scripts/set-permissions)" ]
  [ "${lines[1]}" = "bbsmail-config: warning: $HOME_DIR/spool/incoming is mode 0755: queued mail is private, and only the receivers may add to it (scripts/set-permissions)" ]
  [ "${lines[2]}" = "bbsmail-config: warning: $HOME_DIR/spool/drop is mode 0733: writable by others without the sticky bit, or listable (scripts/set-permissions: 3730)" ]
  [ "${#lines[@]}" -eq 3 ]
  chmod 0640 "$HOME_DIR/etc/mail.ini"
  chmod 0700 "$HOME_DIR/spool/incoming"
  chmod 3730 "$HOME_DIR/spool/drop"
  run bbsmail-config -c
  [ -z "$output" ]
}
