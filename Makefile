# autosendfile: make (library + launcher), make test, make check-all, make install.
PREFIX  ?= /usr/local
DESTDIR ?=
LIBDIR  ?= $(PREFIX)/lib
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man

CC      ?= cc
B       ?= build
# The Debian multiarch triplet (x86_64-linux-gnu): where a package puts the library.
MULTIARCH ?= $(shell $(CC) -print-multiarch 2>/dev/null)
WARN    := -Wall -Wextra -Werror
CSTD    := -std=gnu11
OPT     ?= -O2 -g
CFLAGS_LIB := $(CSTD) $(OPT) $(WARN) -fPIC -fvisibility=hidden -pthread -Iinclude -Isrc $(EXTRA_CFLAGS)
# -z now: nothing is resolved lazily inside the library, e.g. while asynchronous
# cancellation is enabled around sendfile (redirect.c).
LDLIBS_LIB := -ldl -pthread -Wl,-z,now -Wl,-z,relro

LIB_SRC  := $(filter-out src/launcher%.c,$(wildcard src/*.c))
# The launcher's --stat reads the live counters files with the library's own layout code.
LAUNCHER_SRC := src/launcher.c src/launcher_stat.c src/launcher_prom.c src/livedir.c src/statline.c
LIB_OBJ  := $(patsubst src/%.c,$(B)/obj/%.o,$(LIB_SRC))
# The internals the unit tests link against: everything but the exported wrappers.
CORE_OBJ := $(filter-out $(B)/obj/wrap_%.o $(B)/obj/init.o,$(LIB_OBJ))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(B)/tests/unit_%,$(UNIT_SRC))
E2E_SRC  := $(wildcard tests/e2e/*.c)
E2E_BIN  := $(patsubst tests/e2e/%.c,$(B)/tests/%,$(E2E_SRC))
DEMO_SRC := $(wildcard demo/*.c)
DEMO_BIN := $(patsubst demo/%.c,$(B)/demo/%,$(DEMO_SRC))

.PHONY: all test test-bins check-all check-extra deps install uninstall clean passthrough-cost demo fuzz bench deb
all: $(B)/libautosendfile.so $(B)/autosendfile

$(B)/obj/%.o: src/%.c $(wildcard src/*.h) include/autosendfile.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_LIB) -c $< -o $@

$(B)/libautosendfile.so: $(LIB_OBJ)
	$(CC) -shared $(EXTRA_CFLAGS) -o $@ $^ $(LDLIBS_LIB)

$(B)/autosendfile: $(LAUNCHER_SRC) src/launcher_stat.h src/livefile.h src/statline.h include/autosendfile.h
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(OPT) $(WARN) -Iinclude -Isrc -DASF_LIBDIR='"$(LIBDIR)"' -DASF_MULTIARCH='"$(MULTIARCH)"' $(LAUNCHER_FLAGS) -o $@ $(LAUNCHER_SRC)

$(B)/tests/unit_%: tests/unit/%.c $(CORE_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(OPT) $(WARN) -pthread -Iinclude -Isrc $(EXTRA_CFLAGS) -o $@ $< $(CORE_OBJ) -lcmocka -ldl

$(B)/tests/%: tests/e2e/%.c tests/e2e/testutil.h
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(OPT) $(WARN) -pthread -Iinclude $(EXTRA_CFLAGS) -o $@ $<

$(B)/demo/%: demo/%.c demo/benchutil.h
	@mkdir -p $(@D)
	$(CC) $(CSTD) -O2 -g $(WARN) -pthread -Iinclude -o $@ $<

test-bins: all $(UNIT_BIN) $(E2E_BIN) $(DEMO_BIN)

# Installs what the tests need (apt-get when root), builds, runs every suite.
test: deps
	$(MAKE) test-bins
	bash tests/run.sh

deps:
	@bash tests/deps.sh

# make test, then the suites under ASan+UBSan, the threaded tests under TSan, a fuzz run
# and valgrind (check-extra alone skips the first part; .ci/run runs the two in turn).
check-all: test
	$(MAKE) check-extra

check-extra: deps
	$(MAKE) test-bins
	bash tests/check-all.sh

# `make demo`: the copy-loop demo server without and with the library, one table and the
# chart build/demo/demo.svg (about 45 s). DEMO_QUICK=1 make demo: the 15 s smoke run.
demo: all $(B)/demo/copyserver $(B)/demo/stallclient $(B)/demo/loadclient
	bash demo/demo.sh

# `make bench`: the before/after suite on real servers (~25 min); writes docs/BENCHMARKS.md.
bench: all $(B)/demo/copyserver $(B)/demo/stallclient $(B)/demo/loadclient
	bash demo/bench.sh

FUZZ_SECONDS ?= 60
# libFuzzer run of the tracking engine against its reference model (clang-14); fails on a finding.
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh

passthrough-cost: all
	bash demo/passthrough-cost.sh

install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(PREFIX)/include
	install -m 0755 $(B)/libautosendfile.so $(DESTDIR)$(LIBDIR)/libautosendfile.so
	install -m 0755 $(B)/autosendfile $(DESTDIR)$(BINDIR)/autosendfile
	install -m 0644 docs/autosendfile.1 $(DESTDIR)$(MANDIR)/man1/autosendfile.1
	install -m 0644 include/autosendfile.h $(DESTDIR)$(PREFIX)/include/autosendfile.h

# `make deb`: build/deb/autosendfile_VERSION_ARCH.deb (packaging/build-deb.sh; needs dpkg-dev).
deb:
	bash packaging/build-deb.sh

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libautosendfile.so $(DESTDIR)$(BINDIR)/autosendfile \
	      $(DESTDIR)$(MANDIR)/man1/autosendfile.1 $(DESTDIR)$(PREFIX)/include/autosendfile.h

clean:
	rm -rf $(B) build-asan build-tsan
