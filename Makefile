# mod_websocket -- build, test, install and demo.
#
#   make                 build the module and the handlers (apxs)
#   make install         install into httpd's places (honours DESTDIR;
#                        LAYOUT=debian|conf.d: see "Install" below)
#   make uninstall       remove what install put there (same variables)
#   make test            unit + integration tests (after ./build.sh deps)
#   make start PORT=n    demo site in the background (default 8080);
#                        TLS=1: https/wss with HTTP/2 (self-signed cert);
#                        REDIS=redis://127.0.0.1:p: channels over Redis,
#                        shared by every demo given the same REDIS
#   make stop PORT=n     stop that one (no PORT: every demo)
#   make run             the same as start, in the foreground
#   (The demo on 8080 lives in build/demo, one on another port in
#   build/demo-<port>, so demos on several ports can run at once.)
#
# APXS=/path/to/apxs selects another httpd.  Warnings are errors.

APXS    ?= apxs
CC      ?= cc
PYTHON  ?= /usr/bin/python3
PORT    ?= 8080
MPM     ?= event
TLS     ?=
REDIS   ?=

BUILD   := build
SRC     := mod_websocket
INC     := $(SRC)/include

HTTPD_INCLUDEDIR := $(shell $(APXS) -q INCLUDEDIR)
HTTPD_LIBEXECDIR := $(shell $(APXS) -q LIBEXECDIR)
HTTPD_SYSCONFDIR := $(shell $(APXS) -q SYSCONFDIR)
HTTPD_TARGET     := $(shell $(APXS) -q TARGET)
HTTPD_BIN        := $(shell $(APXS) -q SBINDIR)/$(HTTPD_TARGET)
# The browser client and the React/Vue hooks (make install; not httpd's).
WS_DATADIR       ?= /usr/share/mod_websocket
APR_CFLAGS       := $(shell $(APXS) -q EXTRA_CPPFLAGS) \
                    -I$(shell $(APXS) -q APR_INCLUDEDIR) \
                    -I$(shell $(APXS) -q APU_INCLUDEDIR)

WARN    := -Wall -Wextra -Werror \
           -Wno-missing-field-initializers
CFLAGS_EXTRA ?=
LDFLAGS_EXTRA ?=

MOD_SRCS := $(SRC)/mod_websocket.c $(SRC)/ws_accesslog.c \
            $(SRC)/ws_addrlimit.c $(SRC)/ws_api.c \
            $(SRC)/ws_capacity.c $(SRC)/ws_channels.c $(SRC)/ws_child.c \
            $(SRC)/ws_config.c $(SRC)/ws_conn.c $(SRC)/ws_deflate.c \
            $(SRC)/ws_frame.c \
            $(SRC)/ws_handoff.c $(SRC)/ws_handshake.c $(SRC)/ws_hub.c \
            $(SRC)/ws_hubproto.c $(SRC)/ws_hubredis.c $(SRC)/ws_hubstore.c \
            $(SRC)/ws_ids.c $(SRC)/ws_redisconf.c \
            $(SRC)/ws_io.c $(SRC)/ws_location.c $(SRC)/ws_loop.c \
            $(SRC)/ws_mailbox.c $(SRC)/ws_outq.c $(SRC)/ws_plugin.c \
            $(SRC)/ws_pmd.c $(SRC)/ws_publish.c $(SRC)/ws_registry.c \
            $(SRC)/ws_session.c \
            $(SRC)/ws_slots.c $(SRC)/ws_snapshot.c $(SRC)/ws_stats.c \
            $(SRC)/ws_status.c \
            $(SRC)/ws_timers.c $(SRC)/ws_upgrade.c $(SRC)/ws_utf8.c
MOD_LIBS := -ljansson -lhiredis -lz
MOD_HDRS := $(wildcard $(SRC)/*.h) $(INC)/ws_plugin_api.h
MODULE   := $(BUILD)/modules/mod_websocket.so

HANDLERS      := echo broadcast chat
# Libraries a handler needs beyond libc (LIBS_<handler>).
LIBS_chat     := -ljansson
HANDLER_SOS   := $(HANDLERS:%=$(BUILD)/handlers/%.so)
TEST_HANDLERS := $(patsubst tests/handlers/%.c,$(BUILD)/test-handlers/%.so,\
                   $(wildcard tests/handlers/*.c))

# Pure units: no httpd, only APR and Check (ws_config.c's few httpd calls
# are stubbed in tests/unit/test_config.c).
UNIT_SRCS  := $(SRC)/ws_frame.c $(SRC)/ws_utf8.c $(SRC)/ws_conn.c \
              $(SRC)/ws_deflate.c \
              $(SRC)/ws_handshake.c $(SRC)/ws_config.c $(SRC)/ws_mailbox.c \
              $(SRC)/ws_outq.c $(SRC)/ws_snapshot.c $(SRC)/ws_timers.c \
              $(SRC)/ws_location.c $(SRC)/ws_hubproto.c $(SRC)/ws_hubstore.c \
              $(SRC)/ws_redisconf.c $(SRC)/ws_pmd.c
UNIT_TESTS := $(wildcard tests/unit/*.c)
UNIT_BIN   := $(BUILD)/tests/unit_tests
UNIT_LIBS  := $(shell pkg-config --cflags --libs check apr-1 apr-util-1 \
                2>/dev/null) -lz

.PHONY: all module handlers test-handlers install uninstall conf test unit \
        integration start stop run clean format fuzz fuzz-smoke test-asan \
        valgrind

all: module handlers conf

module: $(MODULE)

$(MODULE): $(MOD_SRCS) $(MOD_HDRS)
	@mkdir -p $(BUILD)/obj $(BUILD)/modules
	cp $(MOD_SRCS) $(MOD_HDRS) $(BUILD)/obj/
	cd $(BUILD)/obj && $(APXS) -c -n websocket -o mod_websocket.la \
	    $(addprefix -Wc$(comma),$(WARN) $(CFLAGS_EXTRA)) \
	    $(addprefix -Wl$(comma),$(LDFLAGS_EXTRA)) \
	    $(notdir $(MOD_SRCS)) $(MOD_LIBS) >build.log 2>&1 \
	    || { cat build.log; exit 1; }
	# A new file, not the old one rewritten: an httpd running this build
	# keeps the module it mapped (rewriting it in place crashes it).
	cp $(BUILD)/obj/.libs/mod_websocket.so $@.new && mv -f $@.new $@

comma := ,

handlers: $(HANDLER_SOS)

$(BUILD)/handlers/%.so: handlers/%.c $(INC)/ws_plugin_api.h
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC -O2 -g $(WARN) $(CFLAGS_EXTRA) -I$(INC) -o $@ $< \
	    $(LDFLAGS_EXTRA) $(LIBS_$*) -lpthread

test-handlers: $(TEST_HANDLERS)

# Built against the frozen first ABI 1 header, not the current one: a
# handler from before members were appended must keep loading.
$(BUILD)/test-handlers/abi_v1.so: tests/handlers/abi_v1.c \
                                  tests/abi/v1/ws_plugin_api.h
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC -O1 -g $(WARN) $(CFLAGS_EXTRA) -Itests/abi/v1 \
	    -o $@ $< $(LDFLAGS_EXTRA)

# testhandler_raw.c is testhandler.c without its channel callbacks.
$(BUILD)/test-handlers/testhandler_raw.so: tests/handlers/testhandler.c

$(BUILD)/test-handlers/%.so: tests/handlers/%.c $(INC)/ws_plugin_api.h
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC -O1 -g $(WARN) $(CFLAGS_EXTRA) -I$(INC) -o $@ $< \
	    $(LDFLAGS_EXTRA) -lpthread

$(UNIT_BIN): $(UNIT_SRCS) $(UNIT_TESTS) $(MOD_HDRS) tests/unit/unit.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu99 -O1 -g $(WARN) $(CFLAGS_EXTRA) -I$(SRC) -I$(INC) \
	    -I$(HTTPD_INCLUDEDIR) $(APR_CFLAGS) \
	    $(UNIT_SRCS) $(UNIT_TESTS) -o $@ $(UNIT_LIBS) $(LDFLAGS_EXTRA)

unit: $(UNIT_BIN)
	$(UNIT_BIN)

integration: all test-handlers
	HTTPD=$(HTTPD_BIN) $(PYTHON) -m pytest -q -p no:cacheprovider \
	    tests/integration

# Fuzzing (libFuzzer, clang): each harness runs FUZZ_SECONDS (default 300)
# from the seed corpus in tests/fuzz/corpus/, keeping what it finds in
# build/fuzz/.  `make test` runs each for 15 s as a smoke test.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 300
FUZZ_FLAGS   := -g -O1 -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=undefined -I$(SRC)
FUZZERS      := $(BUILD)/fuzz/fuzz_frame $(BUILD)/fuzz/fuzz_handshake \
                $(BUILD)/fuzz/fuzz_hub

$(BUILD)/fuzz/fuzz_frame: tests/fuzz/fuzz_frame.c $(SRC)/ws_frame.c \
                          $(SRC)/ws_utf8.c $(SRC)/ws_conn.c \
                          $(SRC)/ws_deflate.c $(MOD_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_frame.c \
	    $(SRC)/ws_frame.c $(SRC)/ws_utf8.c $(SRC)/ws_conn.c \
	    $(SRC)/ws_deflate.c -lz -lpthread

$(BUILD)/fuzz/fuzz_handshake: tests/fuzz/fuzz_handshake.c \
                              $(SRC)/ws_handshake.c $(MOD_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(APR_CFLAGS) -o $@ \
	    tests/fuzz/fuzz_handshake.c $(SRC)/ws_handshake.c \
	    $(shell pkg-config --libs apr-1 apr-util-1 2>/dev/null)

$(BUILD)/fuzz/fuzz_hub: tests/fuzz/fuzz_hub.c $(SRC)/ws_hubproto.c \
                        $(SRC)/ws_hubstore.c $(MOD_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_hub.c \
	    $(SRC)/ws_hubproto.c $(SRC)/ws_hubstore.c

fuzz: $(FUZZERS)
	@for h in frame handshake hub; do \
	    mkdir -p $(BUILD)/fuzz/corpus-$$h; \
	    echo "fuzz_$$h: $(FUZZ_SECONDS) s"; \
	    if $(BUILD)/fuzz/fuzz_$$h -max_total_time=$(FUZZ_SECONDS) \
	        -print_final_stats=1 -max_len=8192 \
	        -artifact_prefix=$(BUILD)/fuzz/ \
	        $(BUILD)/fuzz/corpus-$$h tests/fuzz/corpus/$$h \
	        > $(BUILD)/fuzz/fuzz_$$h.log 2>&1; then \
	        grep -E "^(Done|stat::number_of_executed_units|stat::new_units_added)" \
	            $(BUILD)/fuzz/fuzz_$$h.log; \
	    else \
	        grep -E -A30 "ERROR|SUMMARY|runtime error|deadly signal" \
	            $(BUILD)/fuzz/fuzz_$$h.log | head -60; \
	        echo "fuzz_$$h FAILED: see $(BUILD)/fuzz/fuzz_$$h.log"; exit 1; \
	    fi; \
	done

fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=15

# The module, handlers and test handlers built with ASan+UBSan into
# build/asan, and the integration tests run against them (the sanitizer
# runtime preloaded into httpd).  Fails if any report was written.
# use_sigaltstack=0: gcc 12's ASan runtime reports a stack overflow inside
# its own sigaltstack interceptor when any thread exits on this kernel.
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined
ASAN_RT    := $(shell $(CC) -print-file-name=libasan.so)

test-asan:
	$(MAKE) BUILD=$(BUILD)/asan CFLAGS_EXTRA="$(ASAN_FLAGS) -O1" \
	    LDFLAGS_EXTRA="-fsanitize=address,undefined" all test-handlers
	rm -rf $(BUILD)/asan/reports && mkdir -p $(BUILD)/asan/reports && \
	    chmod 1777 $(BUILD)/asan/reports   # httpd children write here
	WS_BUILD=$(abspath $(BUILD)/asan) WS_HTTPD_PRELOAD=$(ASAN_RT) \
	ASAN_OPTIONS=detect_leaks=0:detect_odr_violation=0:use_sigaltstack=0:log_path=$(abspath $(BUILD)/asan/reports)/asan \
	UBSAN_OPTIONS=print_stacktrace=1:log_path=$(abspath $(BUILD)/asan/reports)/ubsan \
	HTTPD=$(HTTPD_BIN) $(PYTHON) -m pytest -q -p no:cacheprovider \
	    tests/integration
	@if ls $(BUILD)/asan/reports/* >/dev/null 2>&1; then \
	    echo "sanitizer reports:"; head -50 $(BUILD)/asan/reports/*; \
	    exit 1; \
	fi; echo "test-asan: no sanitizer reports"

# The unit tests under valgrind (the pure core: codec, engine, config).
valgrind: $(UNIT_BIN)
	CK_FORK=no valgrind --error-exitcode=1 --leak-check=full \
	    --errors-for-leak-kinds=definite $(UNIT_BIN)

# The README's test command (./build.sh test) runs this after installing
# the dependencies.
test: unit fuzz-smoke integration

# --- Install -------------------------------------------------------------
#
# Every file is installed as a new file (tools/install.sh: a temporary name
# in the same directory, then a rename), never written into: httpd maps the
# module and the handlers, and writing into a mapped .so crashes every child.
#
# The configuration snippets (conf.d/) are installed with the paths below
# (HTTPD_LIBEXECDIR, WS_DATADIR) written in, in one of two layouts:
#   debian  websocket.load and websocket.conf in
#           $(HTTPD_SYSCONFDIR)/mods-available (a2enmod websocket),
#           websocket-echo.conf in conf-available (a2enconf websocket-echo);
#   conf.d  one $(HTTPD_SYSCONFDIR)/conf.d/websocket.conf, the LoadModule
#           line first (RHEL and the like read conf.d/*.conf); the echo
#           snippet goes to $(WS_DATADIR)/websocket-echo.conf only, for the
#           admin to copy (in conf.d/ it would enable /echo on every site).
# The layout is decided from the system, never from DESTDIR (a staged
# install must get the layout of the system it is for): debian where
# $(HTTPD_SYSCONFDIR)/mods-available exists, or where apxs is Debian's own
# (httpd named apache2 on a Debian system); conf.d elsewhere.  LAYOUT=
# decides instead.
#
# Configuration files are never overwritten once edited: the shipped
# versions are kept in $(WS_DATADIR)/conf/ to tell an edited file from an
# old unedited one; an edited one is kept and the new version goes beside
# it as <name>.dist, with a line saying so.  make uninstall removes what
# install put there, but keeps an edited configuration file (saying so).
DEBIAN_APXS := $(and $(filter apache2,$(HTTPD_TARGET)),\
                 $(wildcard /etc/debian_version))
LAYOUT ?= $(if $(or $(wildcard $(HTTPD_SYSCONFDIR)/mods-available),\
                    $(DEBIAN_APXS)),debian,conf.d)
ifeq ($(filter debian conf.d,$(LAYOUT)),)
$(error LAYOUT=$(LAYOUT): use LAYOUT=debian or LAYOUT=conf.d)
endif

CONF_BUILD := $(BUILD)/conf/$(LAYOUT)
SHIPPED    := $(WS_DATADIR)/conf
INSTALL_SH := sh tools/install.sh

# Files installed as they are, DEST:SOURCE (DEST without DESTDIR; "$\" at
# a line's end joins it to the next without a space).
INSTALL_FILES := \
    $(HTTPD_LIBEXECDIR)/mod_websocket.so:$(MODULE) \
    $(foreach h,$(HANDLERS),\
        $(HTTPD_LIBEXECDIR)/websocket/$(h).so:$(BUILD)/handlers/$(h).so) \
    $(HTTPD_INCLUDEDIR)/ws_plugin_api.h:$(INC)/ws_plugin_api.h \
    $(WS_DATADIR)/ws-client.js:demo/htdocs/ws-client.js \
    $(foreach f,react vue,$(WS_DATADIR)/$(f)/useWebSocket.js:$\
        demo/htdocs/examples/$(f)/useWebSocket.js)
# Configuration files (kept once edited), DEST:SOURCE.
ifeq ($(LAYOUT),debian)
CONF_FILES := \
    $(foreach f,websocket.load websocket.conf,$\
        $(HTTPD_SYSCONFDIR)/mods-available/$(f):$(CONF_BUILD)/$(f)) \
    $(HTTPD_SYSCONFDIR)/conf-available/websocket-echo.conf:$\
        $(CONF_BUILD)/websocket-echo.conf
else
CONF_FILES := \
    $(HTTPD_SYSCONFDIR)/conf.d/websocket.conf:$(CONF_BUILD)/websocket.conf
INSTALL_FILES += \
    $(WS_DATADIR)/websocket-echo.conf:$(CONF_BUILD)/websocket-echo.conf
endif
# Directories that are ours alone, removed by uninstall when empty
# (deepest first).  httpd's own (modules, include, mods-available...) stay.
OWN_DIRS := $(HTTPD_LIBEXECDIR)/websocket $(WS_DATADIR)/react \
            $(WS_DATADIR)/vue $(SHIPPED) $(WS_DATADIR)
# Debian: the links a2enmod and a2enconf make.
ENABLED := $(HTTPD_SYSCONFDIR)/mods-enabled/websocket.load \
           $(HTTPD_SYSCONFDIR)/conf-enabled/websocket-echo.conf

# conf.d/'s snippets with this install's paths written in, into
# $(CONF_BUILD) (by `make` too, so that `sudo make install` finds them
# there and writes into build/ only if a path changed, through a new file:
# a later `make` by the user can still replace it).
CONF_SED := -e 's|/usr/lib/apache2/modules|$(HTTPD_LIBEXECDIR)|g' \
            -e 's|/usr/share/mod_websocket|$(WS_DATADIR)|g'
# $(call render,SOURCES,TARGET)
render = sed $(CONF_SED) $(1) >$(2).tmp && \
         { cmp -s $(2).tmp $(2) && rm -f $(2).tmp || mv -f $(2).tmp $(2); }

conf:
	@mkdir -p $(CONF_BUILD)
ifeq ($(LAYOUT),debian)
	@$(call render,conf.d/websocket.load,$(CONF_BUILD)/websocket.load)
	@$(call render,conf.d/websocket.conf,$(CONF_BUILD)/websocket.conf)
else
	@$(call render,conf.d/websocket.load conf.d/websocket.conf,\
	    $(CONF_BUILD)/websocket.conf)
endif
	@$(call render,conf.d/websocket-echo.conf,\
	    $(CONF_BUILD)/websocket-echo.conf)

install: all conf
	@echo "make install: $(LAYOUT) layout$(if $(DESTDIR), under $(DESTDIR))"
	@set -e; for f in $(INSTALL_FILES); do \
	    $(INSTALL_SH) file 644 "$${f#*:}" "$(DESTDIR)$${f%%:*}"; \
	done
	@set -e; for f in $(CONF_FILES); do \
	    d=$${f%%:*}; \
	    $(INSTALL_SH) conffile 644 "$${f#*:}" "$(DESTDIR)$$d" \
	        "$(DESTDIR)$(SHIPPED)/$${d##*/}"; \
	done
ifeq ($(LAYOUT),debian)
	@if [ -e "$(DESTDIR)$(firstword $(ENABLED))" ]; then \
	    echo "make install: websocket is enabled: apachectl graceful" \
	         "loads the new files"; \
	else \
	    echo "make install: next, a2enmod websocket (and a2enconf" \
	         "websocket-echo for ws://<site>/echo), apachectl graceful"; \
	fi
endif

uninstall: conf
ifeq ($(LAYOUT),debian)
	@for l in $(ENABLED); do \
	    if [ -e "$(DESTDIR)$$l" ] || [ -L "$(DESTDIR)$$l" ]; then \
	        echo "make uninstall: $(DESTDIR)$$l is enabled: run" \
	             "a2dismod websocket and a2disconf websocket-echo, then" \
	             "apachectl graceful, first (httpd would not start" \
	             "without the files); nothing removed"; \
	        exit 1; \
	    fi; \
	done
endif
	@echo "make uninstall: $(LAYOUT) layout$(if $(DESTDIR), under $(DESTDIR))"
	@set -e; for f in $(CONF_FILES); do \
	    d=$${f%%:*}; \
	    $(INSTALL_SH) rmconffile "$(DESTDIR)$$d" \
	        "$(DESTDIR)$(SHIPPED)/$${d##*/}" "$${f#*:}"; \
	done
	@set -e; for f in $(INSTALL_FILES); do \
	    $(INSTALL_SH) rmfile "$(DESTDIR)$${f%%:*}"; \
	done
	@set -e; for d in $(OWN_DIRS); do \
	    $(INSTALL_SH) rmdir "$(DESTDIR)$$d"; \
	done

# A ServerRoot per port: two demos with the same REDIS share channels.
DEMO_DIR := $(if $(filter 8080,$(PORT)),$(BUILD)/demo,$(BUILD)/demo-$(PORT))
DEMO := $(PYTHON) tools/serverroot.py --httpd $(HTTPD_BIN) \
        --dir $(DEMO_DIR) --port $(PORT) --mpm $(MPM) --demo \
        $(if $(TLS),--tls) $(if $(REDIS),--redis '$(REDIS)')
# `make stop` without PORT=: every demo that may be running.
STOP_DIRS := $(if $(filter command line,$(origin PORT)),$(DEMO_DIR),\
               $(BUILD)/demo $(wildcard $(BUILD)/demo-*))

start: all
	$(DEMO) start

stop:
	@for d in $(STOP_DIRS); do \
	    printf '%s: ' $$d; \
	    $(PYTHON) tools/serverroot.py --dir $$d stop || exit 1; \
	done

run: all
	$(DEMO) run

# Format the lines changed since the last commit with .clang-format (the
# house style: httpd's).  Only changed lines: the tree's aligned tables
# and member comments are written by hand.
format:
	git clang-format --extensions c,h

clean:
	rm -rf $(BUILD)

# `make bench`: tools/wsbench.c (an epoll WebSocket load client) measures
# httpd + mod_websocket against Node's ws, libwebsockets (echo) and nginx +
# Nchan (broadcast); tools/bench.py runs it all.  BENCH_ARGS go to bench.py
# (e.g. BENCH_ARGS="--only echo"; bench.py -h lists them).
WSBENCH  := $(BUILD)/tools/wsbench
LWS_ECHO := $(BUILD)/tools/lws-echo
BENCH_ARGS ?=
SUDO      = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(WSBENCH): tools/wsbench.c
	@mkdir -p $(dir $@)
	$(CC) -std=c99 -O2 -Wall -Wextra -Werror -o $@ tools/wsbench.c -lpthread -lz

# The libwebsockets echo server, against Debian's libwebsockets-dev, which
# is installed here when pkg-config does not know it (apt-get, as root or
# through sudo; the package starts no service).
$(LWS_ECHO): tools/lws-echo.c
	@mkdir -p $(dir $@)
	@pkg-config --exists libwebsockets || { \
	    echo "installing libwebsockets-dev (apt-get)"; \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        --no-install-recommends libwebsockets-dev >/dev/null \
	    || { $(SUDO) apt-get update -qq && \
	         $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install \
	             -y -qq --no-install-recommends libwebsockets-dev \
	             >/dev/null; }; }
	$(CC) -std=c99 -O2 $(WARN) -o $@ tools/lws-echo.c \
	    $$(pkg-config --cflags --libs libwebsockets)

# A failed lws-echo does not stop the bench: the binary is removed (no
# stale one runs), its log kept, and bench.py runs the other rows, saying
# why the libwebsockets rows are missing (from $(LWS_ECHO).log).
.PHONY: bench lws-echo
lws-echo:
	@mkdir -p $(dir $(LWS_ECHO))
	@if $(MAKE) --no-print-directory $(LWS_ECHO) >$(LWS_ECHO).log 2>&1; \
	then cat $(LWS_ECHO).log; \
	else cat $(LWS_ECHO).log; rm -f $(LWS_ECHO); \
	    echo "bench: $(LWS_ECHO) not built (see $(LWS_ECHO).log):" \
	         "no libwebsockets rows"; \
	fi

bench: all $(WSBENCH) lws-echo
	ulimit -n $$(ulimit -Hn); $(PYTHON) tools/bench.py \
	    --httpd $(HTTPD_BIN) --wsbench $(WSBENCH) --lws-echo $(LWS_ECHO) \
	    $(BENCH_ARGS)
