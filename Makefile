# ferry: plain GNU make.
#   make              build build/ferry
#   make run          build and serve the current directory on http://127.0.0.1:8000/ only
#                     (RUN_PORT=N for another port, 0 for any free one)
#   make test         install what tests need (as root), build, run the unit tests (also under
#                     ASan/UBSan, in build/asan), the page's upload logic under node --test
#                     (unit-js), each fuzz target briefly, the end-to-end tests
#   make SANITIZE=1   build with AddressSanitizer and UBSan (any target)
#   make bench        run the benchmarks in bench/ (installs nginx-light, wrk)
#   make install PREFIX=/usr/local DESTDIR=   the binary, the man page and the bash, zsh and
#                     fish completions

CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
PYTHON  ?= /usr/bin/python3
RUN_PORT ?= 8000

CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
           -Wpointer-arith -Wvla -Wno-unused-parameter
ifeq ($(CI),true)
WARN    += -Werror
endif
ifeq ($(WERROR),1)
WARN    += -Werror
endif
ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -Isrc -pthread $(WARN) $(CFLAGS)
LDLIBS  += -lssl -lcrypto -lhiredis -lcrypt -lz -lexpat -pthread

SRC_LIB := $(wildcard src/core/*.c src/net/*.c src/proto/*.c src/serve/*.c src/get/*.c src/chat/*.c src/hello/*.c src/udp/*.c)
SRC_CMD := $(wildcard src/cmd/*.c)
OBJ_LIB := $(SRC_LIB:%.c=$(BUILD)/obj/%.o)
OBJ_CMD := $(SRC_CMD:%.c=$(BUILD)/obj/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
# The page's script and style (src/serve/page), embedded into the binary as
# C arrays generated at build time (src/serve/page/embed.sh, od and sed).
PAGE_SRC := src/serve/page/page.css src/serve/page/upload.js src/serve/page/page.js
PAGE_GEN := $(BUILD)/gen/serve/page/page_files.c
PAGE_OBJ := $(BUILD)/obj/gen/serve/page/page_files.o
PAGE_JS_TESTS := $(wildcard tests/js/test_*.mjs)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

# Debian packages each step needs; installed when missing and we are root.
# A policy-rc.d that says no keeps apt from starting services (nginx on :80)
# while installing; it is removed again.
PKG_BUILD := gcc make libc6-dev libssl-dev libhiredis-dev libcrypt-dev zlib1g-dev libexpat1-dev
PKG_TEST  := libcmocka-dev python3-pytest curl wget ncat openssl nginx-light redis-server haproxy \
             chromium nodejs iproute2 groff-base litmus rclone cadaver davfs2 \
             gvfs-backends libglib2.0-bin dbus-daemon
# tus-js-client (npm, pinned in tests/interop/package-lock.json): an outside
# client of the resumable-upload draft for tests/e2e/test_interop_tus.py.
INTEROP_STAMP := tests/interop/node_modules/.package-lock.json
PKG_BENCH := nginx-light wrk python3 bc curl wget time apache2 rclone libarchive-tools
PKG_FUZZ  := clang libclang-rt-14-dev

.PHONY: all run test unit unit-js unit-asan e2e fuzz fuzz-smoke deps-build deps-test deps-npm deps-bench deps-fuzz bench install clean

all: $(BUILD)/ferry

# Objects depend on the flags too, so switching SANITIZE rebuilds everything.
$(BUILD)/flags: FORCE
	@mkdir -p $(@D)
	@echo '$(CC) $(ALL_CFLAGS) $(LDFLAGS)' | cmp -s - $@ || echo '$(CC) $(ALL_CFLAGS) $(LDFLAGS)' > $@
FORCE:

$(BUILD)/obj/%.o: %.c $(BUILD)/flags
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(PAGE_GEN): $(PAGE_SRC) src/serve/page/embed.sh
	@mkdir -p $(@D)
	sh src/serve/page/embed.sh $(PAGE_SRC) > $@.tmp && mv $@.tmp $@

$(PAGE_OBJ): $(PAGE_GEN) $(BUILD)/flags
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libferry.a: $(OBJ_LIB) $(PAGE_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/ferry: $(OBJ_CMD) $(BUILD)/libferry.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libferry.a $(BUILD)/flags | deps-test
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -MMD -MP -o $@ $< $(BUILD)/libferry.a -lcmocka $(LDLIBS)

-include $(OBJ_LIB:.o=.d) $(OBJ_CMD:.o=.d) $(UNIT_BIN:=.d)

# In parallel unless make was given -j: a fresh clone's build is most of the wait.
NPROC   := $(shell nproc 2>/dev/null || echo 2)
run: deps-build
	$(MAKE) $(if $(findstring -j,$(MAKEFLAGS)),,-j$(NPROC)) all
	$(BUILD)/ferry serve -b 127.0.0.1 -p $(RUN_PORT) .

define install_missing
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    policy=""; if [ ! -e /usr/sbin/policy-rc.d ]; then policy=/usr/sbin/policy-rc.d; \
	      printf '#!/bin/sh\nexit 101\n' > $$policy; chmod 755 $$policy; fi; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null || \
	    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; }; \
	    rc=$$?; [ -z "$$policy" ] || rm -f $$policy; [ $$rc = 0 ] || exit $$rc; \
	  else echo "missing Debian packages:$$missing (run as root, or: sudo apt-get install$$missing)"; exit 1; fi; \
	fi
endef

deps-build:
	$(call install_missing,$(PKG_BUILD))
deps-test:
	$(call install_missing,$(PKG_TEST))
	@command -v npm >/dev/null 2>&1 || $(MAKE) --no-print-directory deps-npm
	@[ $(INTEROP_STAMP) -nt tests/interop/package-lock.json ] || \
	  (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)
# Debian's npm only where no npm came with nodejs (NodeSource's bundles it,
# and Debian's package would conflict with it).
deps-npm:
	$(call install_missing,npm)
deps-bench:
	$(call install_missing,$(PKG_BENCH))
deps-fuzz:
	$(call install_missing,$(PKG_FUZZ))

# libFuzzer targets for the parsers a peer feeds and for a whole server
# connection (tests/fuzz/fuzz_*.c), built with clang and ASan/UBSan; each runs FUZZ_SECONDS from its seeds, its
# corpus growing in $(BUILD)/fuzz/. A crash stops make and leaves the input.
# The library is compiled once for all of them, in $(BUILD)/fuzz/obj.
# make fuzz-smoke (part of make test): each target FUZZ_SMOKE_SECONDS, so that a
# harness that no longer builds or crashes on its seeds fails the tests.
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 3
FUZZ_CC      ?= clang
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_OBJ     := $(SRC_LIB:%.c=$(BUILD)/fuzz/obj/%.o) $(BUILD)/fuzz/obj/gen/page_files.o
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -Isrc -pthread -g -O1 $(WARN) -Wno-missing-prototypes \
                -fsanitize=address,undefined -fno-sanitize-recover=undefined

$(BUILD)/fuzz/flags: FORCE
	@mkdir -p $(@D)
	@echo '$(FUZZ_CC) $(FUZZ_CFLAGS)' | cmp -s - $@ || echo '$(FUZZ_CC) $(FUZZ_CFLAGS)' > $@

$(BUILD)/fuzz/obj/%.o: %.c $(BUILD)/fuzz/flags | deps-fuzz
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(BUILD)/fuzz/obj/gen/page_files.o: $(PAGE_GEN) $(BUILD)/fuzz/flags | deps-fuzz
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ) $(BUILD)/fuzz/flags | deps-fuzz
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -MMD -MP -o $@ $< $(FUZZ_OBJ) -lssl -lcrypto -lhiredis -lcrypt -lz -lexpat

.SECONDARY: $(FUZZ_OBJ)
-include $(FUZZ_OBJ:.o=.d) $(FUZZ_BIN:=.d)

fuzz: $(FUZZ_BIN)
	@set -e; for b in $(FUZZ_BIN); do n=$${b##*/fuzz_}; mkdir -p $(BUILD)/fuzz/corpus-$$n; \
	  echo "== $$b ($(FUZZ_SECONDS) s)"; \
	  $$b -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -artifact_prefix=$(BUILD)/fuzz/crash-$$n- \
	    $(BUILD)/fuzz/corpus-$$n tests/fuzz/seeds/$$n > $(BUILD)/fuzz/$$n.log 2>&1 || \
	    { tail -40 $(BUILD)/fuzz/$$n.log; exit 1; }; tail -2 $(BUILD)/fuzz/$$n.log; done
fuzz-smoke:
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS)

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

# The page's upload logic (src/serve/page/upload.js) under node's own test
# runner: no framework, no package, no network.
unit-js: deps-test
	node --test $(PAGE_JS_TESTS)

# The unit tests under ASan/UBSan, built apart (build/asan) so that the
# objects of build/ferry are not rebuilt.
unit-asan:
	$(MAKE) --no-print-directory BUILD=$(BUILD)/asan SANITIZE=1 unit

# -rs lists every skip and its reason; FERRY_NEED_TOOLS=1: a program the
# tests need that is missing (deps-test installs them all) fails its module
# (ferrylib.need_tool); under CI=true any skip not in conftest's
# MACHINE_SKIPS fails.
e2e: $(BUILD)/ferry deps-test
	FERRY=$(abspath $(BUILD)/ferry) FERRY_NEED_TOOLS=1 $(PYTHON) -m pytest -q -rs tests/e2e

test: deps-build deps-test
	$(MAKE) -j$$(nproc) all
	$(MAKE) unit
	$(MAKE) unit-js
	$(MAKE) unit-asan
	$(MAKE) fuzz-smoke
	$(MAKE) e2e

bench: deps-bench $(BUILD)/ferry
	bash bench/run.sh

install: $(BUILD)/ferry
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BUILD)/ferry $(DESTDIR)$(PREFIX)/bin/ferry
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 docs/ferry.1 $(DESTDIR)$(PREFIX)/share/man/man1/ferry.1
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	  $(DESTDIR)$(PREFIX)/share/zsh/site-functions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 644 completions/ferry.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/ferry
	install -m 644 completions/_ferry $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_ferry
	install -m 644 completions/ferry.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/ferry.fish

clean:
	rm -rf $(BUILD)
