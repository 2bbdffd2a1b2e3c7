# pvd: user-space paravirtual I/O backends for Xen.
# Out-of-tree build into build/ (binaries in build/bin/).  See README.md.

BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
SAN      ?= 0
CC       ?= cc
FUZZ_CC  ?= clang

WARN     := -Wall -Wextra -Werror -Wshadow -Wimplicit-fallthrough -Wformat=2 \
            -Wno-unused-parameter
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 $(WARN) -D_GNU_SOURCE -Iinclude -MMD -MP -fno-strict-aliasing \
            $(shell pkg-config --cflags libnl-route-3.0)
LDLIBS   := -levent -lxenstore -lz -laio -luring -lnbd -lrbd -lrados -lsystemd $(shell pkg-config --libs xengnttab xenevtchn xencontrol) \
            $(shell pkg-config --libs libnl-route-3.0 jansson)
LDLIBS   += -largon2 $(shell pkg-config --libs libcrypto)
TSAN     ?= 0
ifeq ($(TSAN),1)
BUILD    := build-tsan
# GCC warns that TSan cannot see atomic_thread_fence (the shared rings'
# barriers): those are the guest's protocol, not our threads.
CFLAGS   += -fsanitize=thread -fno-omit-frame-pointer -Wno-tsan
LDFLAGS  += -fsanitize=thread
endif
ifeq ($(SAN),1)
BUILD    := build-san
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif

BIN      := $(BUILD)/bin
OBJ      := $(BUILD)/obj

COMMON_SRC := $(sort $(wildcard common/*.c))
STORED_SRC := $(sort $(filter-out stored/main.c,$(wildcard stored/*.c)))
# Each folder tools/<prog>/ is one program built from its .c files.
TOOLS      := $(patsubst tools/%/,%,$(sort $(dir $(wildcard tools/*/*.c))))
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
HARNESS    := $(patsubst %.c,$(OBJ)/%.o,$(sort $(wildcard tests/harness/*.c)))
ITEST_SRC  := $(sort $(wildcard tests/integration/*.c))
BENCH_SRC  := $(sort $(wildcard tests/bench/*.c))
FUZZ_SRC   := $(sort $(wildcard tests/fuzz/fuzz_*.c))

LIBPVD     := $(BUILD)/libpvd.a
LIBSTORED  := $(BUILD)/libstored.a
# Backend daemons: each folder with sources is pvd-<folder>.
BACKENDS   := $(foreach d,blkback netback consoled,$(if $(wildcard $(d)/*.c),$(d)))
# A backend without its main.c yet (netback while its control plane is
# written) is only its library, for the unit tests.
DAEMONS    := $(BIN)/pvd-stored $(addprefix $(BIN)/pvd-,$(foreach b,$(BACKENDS),$(if $(wildcard $(b)/main.c),$(b))))
TOOL_BINS  := $(addprefix $(BIN)/,$(TOOLS))
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRC))
ITEST_BINS := $(patsubst tests/integration/%.c,$(BUILD)/tests/integration/%,$(ITEST_SRC))
# Helper programs run inside the real-Xen test's dom0 (tests/xen/).
XEN_BINS   := $(patsubst tests/xen/%.c,$(BUILD)/tests/xen/%,$(sort $(wildcard tests/xen/*.c)))
BENCH_BINS := $(patsubst tests/bench/%.c,$(BUILD)/tests/bench/%,$(BENCH_SRC))
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))

obj = $(patsubst %.c,$(OBJ)/%.o,$(1))

.SECONDARY:
.PHONY: all deps check check-unit check-integration check-tsan check-xen fuzz fuzz-run bench demo install uninstall man clean
all: $(DAEMONS) $(TOOL_BINS)

deps:
	@scripts/deps.sh

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIBPVD): $(call obj,$(COMMON_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(LIBSTORED): $(call obj,$(STORED_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(BIN)/pvd-stored: $(OBJ)/stored/main.o $(LIBSTORED) $(LIBPVD)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# A backend's sources but main.c also form build/lib<backend>.a, which
# unit tests link.
define backend_rule
$(BUILD)/lib$(1).a: $(patsubst %.c,$(OBJ)/%.o,$(sort $(filter-out $(1)/main.c,$(wildcard $(1)/*.c))))
	@mkdir -p $$(dir $$@)
	rm -f $$@ && $$(AR) rcs $$@ $$^
$(BIN)/pvd-$(1): $(OBJ)/$(1)/main.o $(BUILD)/lib$(1).a $(LIBPVD)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
BACKEND_LIBS := $(foreach b,$(BACKENDS),$(BUILD)/lib$(b).a)
$(foreach b,$(BACKENDS),$(eval $(call backend_rule,$(b))))

# A tool, like a daemon, is build/lib<tool>.a (its sources but main.c, which
# unit tests and fuzz targets link) plus its main.c.
define tool_rule
$(BUILD)/lib$(1).a: $(patsubst %.c,$(OBJ)/%.o,$(sort $(filter-out tools/$(1)/main.c,$(wildcard tools/$(1)/*.c))))
	@mkdir -p $$(dir $$@)
	rm -f $$@ && $$(AR) rcs $$@ $$^
$(BIN)/$(1): $(OBJ)/tools/$(1)/main.o $(BUILD)/lib$(1).a $(LIBPVD)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
TOOL_LIBS := $(foreach t,$(TOOLS),$(BUILD)/lib$(t).a)
$(foreach t,$(TOOLS),$(eval $(call tool_rule,$(t))))

# --version: the VERSION file, compiled into one object.
$(OBJ)/common/version.o: CFLAGS += -DPVD_VERSION='"$(shell cat VERSION)"'
$(OBJ)/common/version.o: VERSION

# A unit test may name link-time seams in tests/unit/<test>.wrap
# (e.g. "-Wl,--wrap=write").
$(BUILD)/tests/unit/%: $(OBJ)/tests/unit/%.o $(HARNESS) $(LIBSTORED) $(BACKEND_LIBS) $(TOOL_LIBS) $(LIBPVD)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(shell cat tests/unit/$*.wrap 2>/dev/null) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/tests/integration/%: $(OBJ)/tests/integration/%.o $(LIBPVD)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lpthread

$(BUILD)/tests/xen/%: $(OBJ)/tests/xen/%.o $(LIBPVD)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lpthread

$(BUILD)/tests/bench/%: $(OBJ)/tests/bench/%.o $(LIBPVD)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lpthread

# libFuzzer targets: one per parser, built with clang from the sources of
# the libraries they test (never an #include of a .c).  A target names
# those libraries' folders in tests/fuzz/<target>.srcs (e.g. "blkback" or
# "tools/pvguest"; main.c left out); without one it gets stored/.  common/
# is always in; tests/harness/ (pvd-stored's in-memory connections) with
# stored/.
FUZZ_CFLAGS := -std=gnu11 -D_GNU_SOURCE -Iinclude -g -O1 -fsanitize=fuzzer,address,undefined \
               $(shell pkg-config --cflags libnl-route-3.0)
fuzz_dirs = $(or $(shell cat tests/fuzz/$(1).srcs 2>/dev/null),stored)
fuzz_srcs = $(foreach d,$(call fuzz_dirs,$(1)),$(sort $(filter-out $(d)/main.c,$(wildcard $(d)/*.c))))
fuzz_harness = $(if $(filter stored,$(call fuzz_dirs,$(1))),$(wildcard tests/harness/*.c))
.SECONDEXPANSION:
$(BUILD)/fuzz/%: tests/fuzz/%.c $(COMMON_SRC) $$(call fuzz_srcs,$$*) $$(call fuzz_harness,$$*) $$(wildcard tests/fuzz/$$*.srcs)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DPVD_VERSION='"$(shell cat VERSION)"' $(addprefix -I,$(call fuzz_dirs,$*)) -o $@ $(filter %.c,$^) $(LDLIBS)

tests: $(UNIT_BINS) $(ITEST_BINS) $(BENCH_BINS) $(XEN_BINS)

check: deps
	@$(MAKE) --no-print-directory all tests
	@BUILD=$(BUILD) SAN=$(SAN) scripts/run-tests.sh

# ThreadSanitizer (build-tsan/): the unit tests and pvd-blkback's and
# pvd-netback's integration tests, a report failing the run
# (scripts/check-tsan.sh; the simulated guests run from the plain build,
# made first).  Not part of make check.
check-tsan: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory TSAN=1 all tests
	@scripts/check-tsan.sh build-tsan

check-unit: all tests
	@BUILD=$(BUILD) ONLY=unit scripts/run-tests.sh

check-integration: all tests
	@BUILD=$(BUILD) ONLY=integration scripts/run-tests.sh

fuzz: $(FUZZ_BINS)

# Short bounded fuzz run (part of make check when clang is present).
fuzz-run: fuzz
	@BUILD=$(BUILD) scripts/fuzz-run.sh

bench: deps
	@$(MAKE) --no-print-directory all tests
	@BUILD=$(BUILD) tests/bench/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) scripts/demo.sh

# pvd on a real Xen 4.17 host booted under QEMU (tests/xen/, docs/xen-host.md):
# Linux's own blkfront and console in a domU, served from dom0.
check-xen: deps
	@$(MAKE) --no-print-directory all $(XEN_BINS)
	@XT_BUILD=$(BUILD)/xen XT_BIN=$(BUILD)/bin tests/xen/selftest.sh
	@XT_BUILD=$(BUILD)/xen XT_BIN=$(BUILD)/bin tests/xen/run.sh

# Man pages: man/NAME.SECTION.scd, built by scdoc into $(BUILD)/man.
MAN_SRC   := $(sort $(wildcard man/*.scd))
MAN_PAGES := $(patsubst man/%.scd,$(BUILD)/man/%,$(MAN_SRC))
man: $(MAN_PAGES)
$(BUILD)/man/%: man/%.scd
	@mkdir -p $(dir $@)
	scdoc < $< > $@.tmp && mv $@.tmp $@

# What install puts where; uninstall removes exactly these files (and
# pvd's own directories once empty).  No default configuration: no daemon
# reads a file (options on the command line; drop-ins change them).
UNITS      := $(sort $(wildcard systemd/*.service systemd/*.target))
SBINDIR    := $(PREFIX)/sbin
BINDIR     := $(PREFIX)/bin
UNITDIR    := $(PREFIX)/lib/systemd/system
DOCDIR     := $(PREFIX)/share/doc/pvd
MANDIR     := $(PREFIX)/share/man
DOCS       := $(sort $(wildcard docs/*.md))
# libxl's hotplug scripts for disks served by pvd-blkback and NICs served
# by pvd-netback (xl's disk and vif specs name them by this absolute path:
# docs/pvd-blkback.md and docs/pvd-netback.md "xl").
XENSCRIPTDIR := $(PREFIX)/lib/pvd/xen
XENSCRIPTS := scripts/xen/block-pvd scripts/xen/vif-pvd
INST_FILES := $(addprefix $(SBINDIR)/,$(notdir $(DAEMONS))) \
	      $(addprefix $(BINDIR)/,$(notdir $(TOOL_BINS))) \
	      $(addprefix $(UNITDIR)/,$(notdir $(UNITS))) \
	      $(addprefix $(DOCDIR)/,$(notdir $(DOCS))) \
	      $(addprefix $(XENSCRIPTDIR)/,$(notdir $(XENSCRIPTS))) \
	      $(foreach p,$(notdir $(MAN_PAGES)),$(MANDIR)/man$(subst .,,$(suffix $(p)))/$(p))

install: all man
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)
	install -m 755 $(DAEMONS) $(DESTDIR)$(SBINDIR)/
	$(if $(TOOL_BINS),install -m 755 $(TOOL_BINS) $(DESTDIR)$(BINDIR)/)
	for u in $(UNITS); do \
		sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' $$u > $(DESTDIR)$(UNITDIR)/$$(basename $$u) && \
		chmod 644 $(DESTDIR)$(UNITDIR)/$$(basename $$u) || exit 1; \
	done
	install -m 644 $(DOCS) $(DESTDIR)$(DOCDIR)/
	install -d $(DESTDIR)$(XENSCRIPTDIR)
	install -m 755 $(XENSCRIPTS) $(DESTDIR)$(XENSCRIPTDIR)/
	for p in $(MAN_PAGES); do \
		s=$$(echo $$p | sed 's/.*\.//'); \
		install -d $(DESTDIR)$(MANDIR)/man$$s && install -m 644 $$p $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; \
	done

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INST_FILES))
	rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null || true
	rmdir $(DESTDIR)$(XENSCRIPTDIR) $(DESTDIR)$(PREFIX)/lib/pvd 2>/dev/null || true

clean:
	rm -rf build build-san

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
