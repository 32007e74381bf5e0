# bbsmail — one plain Makefile: all test run bench install clean.
# Programs are found by directory: src/<name>/*.c builds libexec/<name> or
# bin/<name> (the lists below say which), linked with src/lib as one archive.

# A bare `make` builds everything, whatever rule comes first below.
.DEFAULT_GOAL := all

PREFIX ?= /usr/local
DESTDIR ?=
# The home (etc/ + spool/) compiled in as the default; the checkout itself for
# `make run`, BBSMAIL_HOME or -d DIR override it at run time.
HOME_DEFAULT ?= $(CURDIR)

CC ?= cc
OPT ?= -O2 -g
SANITIZE ?=
ifeq ($(SANITIZE),1)
OPT = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
endif
# Hardening, for every program: position-independent code (ASLR covers the
# program's own code too), stack canaries, glibc's checked variants of the
# string and memory calls, the GOT read-only after start-up (full RELRO), no
# executable stack; t/hardening.bats checks the built binaries.  Fortify
# needs -O (OPT has it) and level 3 needs GCC 12 or clang 9 (glibc warns and
# falls back otherwise, and the warning would be an error here), so the level
# is probed once; -U first, as some compilers predefine a level.  Sanitizer
# builds leave fortify off: ASan does not support it (not every glibc *_chk
# variant is intercepted, so checks would be lost).
FORTIFY_LEVEL := $(shell printf '\043include <stdio.h>\n' | \
	$(CC) -O2 -Werror -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3 -fsyntax-only -x c - \
	2>/dev/null && echo 3 || echo 2)
HARDEN_CFLAGS = -fPIE -fstack-protector-strong
ifneq ($(SANITIZE),1)
HARDEN_CFLAGS += -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=$(FORTIFY_LEVEL)
endif
HARDEN_LDFLAGS = -Wl,-z,relro,-z,now -Wl,-z,noexecstack
PIE_LDFLAGS = -pie
CFLAGS_ALL = -std=c99 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wformat=2 \
	-Wno-format-nonliteral -Isrc/lib '-DBBSMAIL_DEFAULT_HOME="$(HOME_DEFAULT)"' \
	$(HARDEN_CFLAGS) $(OPT) $(CFLAGS)
LDFLAGS_ALL = $(OPT) $(PIE_LDFLAGS) $(HARDEN_LDFLAGS) -Wl,--as-needed $(LDFLAGS)
LIBS = -lssl -lcrypto -lgdbm -lresolv
# The receivers start once per connection, so they are linked fully static,
# as static PIEs (rcrt1.o: the program relocates itself, no dynamic loader).
# Self-relocation cost follows the pointers in the image, and most were
# libcrypto's, so smtpd and pop3d no longer link OpenSSL at all: their MD5,
# HMAC-MD5 and SHA-256 are our own (src/lib/md5.c, sha256.c) and TLS runs in
# libexec/tlsproxy, which they start at STARTTLS/STLS or -s and which holds
# the key and the socket (tlsproxy(8)).  CPU per QUIT session,
# bench/smtp-startup -n 500, two interleaved runs at load 5.4 (a shared
# machine): static-pie smtpd with OpenSSL 796/815 us, without 364/370 us
# (an empty static program: 316/319 us); page faults 163 -> 44.  Earlier,
# at load 0.2-0.6, with OpenSSL: static non-PIE 415 us, static-pie 716 us,
# dynamic PIE with libssl/libcrypto static 1051 us, all dynamic 1698 us.
# A TLS session now pays one more exec (tlsproxy, static-pie with OpenSSL)
# and the relay: SMTPS sessions/s
# from bench/smtps-vs-postfix -s 5 -r 1, two runs each, old/new: 3 workers
# 357,256 / 245,189; 16 workers 347,245 / 201,219 (Postfix 63-67 and
# 318-330 in the same runs).
# tlsproxy uses no NSS or dlopen, so the linker's warnings about those in
# libcrypto do not apply.  ASan needs the dynamic loader: sanitizer builds
# keep libc dynamic (a dynamic PIE).
libexec/smtpd libexec/pop3d: LIBS = -lgdbm -lresolv
libexec/tlsproxy: LIBS = -lssl -lcrypto
ifeq ($(SANITIZE),1)
libexec/tlsproxy: LIBS = -Wl,-Bstatic -lssl -lcrypto -Wl,-Bdynamic
else
libexec/smtpd libexec/pop3d libexec/tlsproxy: PIE_LDFLAGS = -static-pie
endif

# `make V=1` shows the full compiler lines.
ifeq ($(V),1)
Q =
say = @true
else
Q = @
say = @echo
endif

LIBEXEC_PROGS = smtpd pop3d tlsproxy pickup route deliver-local deliver-remote deliver-bounce deliver-board deliver-qwk deliver-fido
LIBEXEC_PROGS += mailproc-spamc contentfilter-pool
BIN_PROGS = runq sendmail mailq bbsmail-user bbsmail-config bbsmail-telegram bbsmail-board qwk-pack qwk-unpack fido-toss
BIN_PROGS += bbsmail-freezer
# sendmail picks up its own drop file when its caller is the mail user, and
# pickup parses the message's headers as sendmail does: they share code.
bin/sendmail: build/pickup/drop.o build/pickup/pickup.o
libexec/pickup: build/sendmail/message.o
# The pool checks its filters' answers with smtpd's parser.
libexec/contentfilter-pool: build/smtpd/smtpd-contentfilter-reply.o
# Only programs whose sources exist yet are built.
present = $(foreach p,$(1),$(if $(wildcard src/$(p)/*.c),$(p)))
LIBEXEC_TARGETS = $(addprefix libexec/,$(call present,$(LIBEXEC_PROGS)))
BIN_TARGETS = $(addprefix bin/,$(call present,$(BIN_PROGS)))
TEST_DRIVERS = $(patsubst t/drivers/%.c,build/t/%,$(wildcard t/drivers/*.c))

LIB_SRC = $(wildcard src/lib/*.c)
LIB_OBJ = $(patsubst src/%.c,build/%.o,$(LIB_SRC))
LIB_A = build/libbbsmail.a

.PHONY: all deps test run bench install clean
all: $(LIBEXEC_TARGETS) $(BIN_TARGETS) $(TEST_DRIVERS)

build/%.o: src/%.c $(wildcard src/lib/*.h) | build-dirs
	$(say) "  CC      $<"
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP -c -o $@ $<

build-dirs:
	@mkdir -p build/lib build/t $(addprefix build/,$(LIBEXEC_PROGS) $(BIN_PROGS))
.PHONY: build-dirs

$(LIB_A): $(LIB_OBJ)
	$(say) "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

# Keep objects: they are intermediates of the pattern rule below.
.SECONDARY:
.SECONDEXPANSION:
libexec/% bin/%: $$(addsuffix .o,$$(basename $$(subst src/,build/,$$(wildcard src/$$*/*.c)))) $(LIB_A)
	@mkdir -p $(@D)
	$(say) "  LD      $@"
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(filter %.o,$^) $(LIB_A) $(LIBS)

build/t/%: t/drivers/%.c $(LIB_A) | build-dirs
	$(say) "  CC/LD   $@"
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $< $(LIB_A) $(LIBS)

# Fuzzing: each fuzz/<name>.c defines LLVMFuzzerTestOneInput for one parser
# of outside input, and is built by clang with libFuzzer, ASan and UBSan
# against the library compiled again by clang into build/fuzz/ (the normal
# build may be gcc).  `make fuzz-smoke` runs each a short while from its
# seeds in fuzz/corpus/<name>/ (scripts/fuzz-smoke).
FUZZ_CC ?= clang
FUZZ_CFLAGS = -std=c99 -D_GNU_SOURCE -Wall -Wextra -Werror -Isrc/lib -g -O1 \
	-fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
	'-DBBSMAIL_DEFAULT_HOME="$(HOME_DEFAULT)"'
FUZZ_LIB_A = build/fuzz/libbbsmail.a
FUZZ_TARGETS = $(patsubst fuzz/%.c,build/fuzz/%,$(wildcard fuzz/*.c))
.PHONY: fuzz fuzz-smoke
fuzz: $(FUZZ_TARGETS)
build/fuzz/lib/%.o: src/lib/%.c $(wildcard src/lib/*.h)
	@mkdir -p $(@D)
	$(say) "  FUZZCC  $<"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(FUZZ_LIB_A): $(patsubst src/lib/%.c,build/fuzz/lib/%.o,$(LIB_SRC))
	$(Q)rm -f $@ && ar rcs $@ $^
# Harnesses of a program's own parser compile its source file in.
build/fuzz/smtp-params: src/smtpd/smtpd-params.c src/smtpd/smtpd-params.h src/smtpd/smtpd-session.h
build/fuzz/pop3-wire: src/pop3d/wire.c src/pop3d/wire.h
build/fuzz/maildir-name: src/pop3d/mailbox.c src/pop3d/mailbox.h src/pop3d/cache.c src/pop3d/cache.h src/pop3d/wire.c
build/fuzz/contentfilter-reply: src/smtpd/smtpd-contentfilter-reply.c src/smtpd/smtpd-contentfilter.h src/smtpd/smtpd-session.h
# The session harnesses compile the program's main file in (main renamed)
# and link its other sources as objects built here, so static names in
# different files cannot clash.  They replace the password verifiers
# (fuzz/session-harness.h says why).
FUZZ_SESSION_LDFLAGS = -Wl,--wrap=password_verify,--wrap=password_verify_none
FUZZ_SMTPD_OBJ = $(patsubst src/smtpd/%.c,build/fuzz/smtpd/%.o,$(filter-out src/smtpd/smtpd.c,$(wildcard src/smtpd/*.c)))
FUZZ_POP3D_OBJ = $(patsubst src/pop3d/%.c,build/fuzz/pop3d/%.o,$(filter-out src/pop3d/main.c,$(wildcard src/pop3d/*.c)))
build/fuzz/smtpd/%.o build/fuzz/pop3d/%.o: src/$$(notdir $$(@D))/%.c $(wildcard src/lib/*.h src/smtpd/*.h src/pop3d/*.h)
	@mkdir -p $(@D)
	$(say) "  FUZZCC  $<"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
build/fuzz/smtp-session: fuzz/smtp-session.c fuzz/session-harness.h src/smtpd/smtpd.c $(FUZZ_SMTPD_OBJ) $(FUZZ_LIB_A)
	$(say) "  FUZZLD  $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(FUZZ_SESSION_LDFLAGS) -o $@ $< $(FUZZ_SMTPD_OBJ) $(FUZZ_LIB_A) $(LIBS)
build/fuzz/pop3-session: fuzz/pop3-session.c fuzz/session-harness.h src/pop3d/main.c $(FUZZ_POP3D_OBJ) $(FUZZ_LIB_A)
	$(say) "  FUZZLD  $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(FUZZ_SESSION_LDFLAGS) -o $@ $< $(FUZZ_POP3D_OBJ) $(FUZZ_LIB_A) $(LIBS)
build/fuzz/%: fuzz/%.c $(FUZZ_LIB_A)
	$(say) "  FUZZLD  $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_A) $(LIBS)
fuzz-smoke: fuzz
	@scripts/fuzz-smoke

deps:
	@scripts/install-deps build test

# The whole suite, through the one runner that prints the closing count line.
test: deps all
	@scripts/run-tests

run: deps all
	@scripts/run-embedded

bench: deps all
	@scripts/install-deps bench
	@bench/run-all

install: all
	scripts/install-files "$(DESTDIR)" "$(PREFIX)"

# As root: the mail user and sendmail's drop group (INSTALL, section 3).
# Run before `make install`, which then installs sendmail setgid.
install-users:
	scripts/set-permissions --make-users --split
.PHONY: install-users

clean:
	rm -rf build $(addprefix libexec/,$(LIBEXEC_PROGS)) $(addprefix bin/,$(BIN_PROGS))

-include $(wildcard build/*/*.d)
