# backstop — see README.md.
#
#   make            build/libbackstop-preload.so, build/api/libbackstop.so, build/backstop
#   make check      install test dependencies, build, run every suite
#   make unit       build and run the unit suites only (installs nothing)
#   make demo       the main job on the built-in default policy
#   make bench      benchmarks (tests/bench/)
#   make install    PREFIX=/usr/local DESTDIR=
#
# SANITIZE=address,undefined or SANITIZE=thread builds everything with that
# sanitizer into its own build directory. Targets beyond the core live in
# mk/*.mk, one fragment per concern.

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= gcc
SANITIZE ?=
comma := ,
BUILD ?= build$(if $(SANITIZE),-$(subst $(comma),-,$(SANITIZE)))

CFLAGS ?= -O2 -g
# The language and the warnings, for everything built here (the library,
# the CLI, the tests, helpers, shims, benchmarks and fuzz targets).
LANG_CFLAGS := -std=c11 -D_GNU_SOURCE
WARN_CFLAGS := -Wall -Wextra -Werror
BS_CFLAGS := $(LANG_CFLAGS) $(WARN_CFLAGS) -fPIC -fvisibility=hidden -Iinclude -I. -MMD -MP
# Standalone programs: test helpers, examples, shims.
PROG_CFLAGS = $(LANG_CFLAGS) $(WARN_CFLAGS) $(CFLAGS)
BS_LDFLAGS :=
ifneq ($(SANITIZE),)
BS_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -O1
BS_LDFLAGS += -fsanitize=$(SANITIZE)
endif

# Resolved when a recipe runs, after `deps` has installed the packages.
INIH_A = $(shell pkg-config --variable=libdir inih)/libinih.a
CHECK_CFLAGS = $(shell pkg-config --cflags check)
CHECK_LIBS = $(shell pkg-config --libs check)
JANSSON_LIBS = $(shell pkg-config --libs jansson)

POLICY_SRC := $(wildcard policy/*.c)
ENGINE_SRC := $(wildcard engine/*.c)
API_SRC := $(wildcard api/*.c)
PRELOAD_SRC := $(wildcard preload/*.c)
PRELOAD_ASM := $(wildcard preload/*.S)
CLI_SRC := $(wildcard cli/*.c)
TEST_SRC := $(wildcard tests/unit/*.c tests/runner/*.c)
HELPER_SRC := $(wildcard tests/helpers/*.c examples/*.c)

POLICY_OBJ := $(POLICY_SRC:%.c=$(BUILD)/obj/%.o)
ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/obj/%.o)
API_OBJ := $(API_SRC:%.c=$(BUILD)/obj/%.o)
PRELOAD_OBJ := $(PRELOAD_SRC:%.c=$(BUILD)/obj/%.o) $(PRELOAD_ASM:%.S=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)
HELPERS := $(addprefix $(BUILD)/helpers/,$(notdir $(HELPER_SRC:.c=)))
EXAMPLE_PROGS := $(addprefix $(BUILD)/helpers/,$(notdir $(basename $(wildcard examples/*.c))))

# The preload (LD_PRELOAD) and, below engine/ and policy/, everything the
# CLI and the tests link.
LIB := $(BUILD)/libbackstop-preload.so
CORE_LIB := $(BUILD)/libbackstop_core.a
EXPORTS_MAP := $(BUILD)/exports.map
CLI := $(BUILD)/backstop
TESTS := $(BUILD)/tests/check

# What LD_PRELOAD must hold to run the library (a sanitizer's runtime first).
SAN_RUNTIME = $(if $(findstring address,$(SANITIZE)),$(shell $(CC) -print-file-name=libasan.so)) \
	$(if $(findstring thread,$(SANITIZE)),$(shell $(CC) -print-file-name=libtsan.so))
BS_PRELOAD = $(strip $(SAN_RUNTIME) $(abspath $(LIB)))

.PHONY: all deps check check-run unit demo clean
.DEFAULT_GOAL := all

all: $(LIB) $(CLI)

# What each entry point installs: scripts/deps PART... reads
# scripts/deps.d/PART/*.list; "tests" is scripts/deps.d/*.list, the
# packages the test suites run. `make deps` installs what `make check` needs.
DEPS_FOR_check := build tests bench fuzz # check runs the bench and fuzz smoke tests
DEPS_FOR_demo := build
DEPS_FOR_bench := build bench
.PHONY: deps-check deps-demo deps-bench
deps-check deps-demo deps-bench: deps-%:
	@scripts/deps $(DEPS_FOR_$*)
deps: deps-check

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BS_CFLAGS) $(CHECK_CFLAGS_FOR_$(firstword $(subst /, ,$<))) $(CFLAGS) -c -o $@ $<

CHECK_CFLAGS_FOR_tests = $(CHECK_CFLAGS)
# The preload: pthread_cleanup_push becomes a cleanup attribute the
# unwinder runs on cancellation, at no cost when nothing is cancelled.
CHECK_CFLAGS_FOR_preload = -fexceptions

$(BUILD)/obj/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) -MMD -MP $(CFLAGS) -c -o $@ $<

$(CORE_LIB): $(ENGINE_OBJ) $(POLICY_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# Only the interposed symbols (preload/hooks.def) leave the library.
$(LIB): $(PRELOAD_OBJ) $(ENGINE_OBJ) $(POLICY_OBJ) $(EXPORTS_MAP)
	$(CC) -shared -o $@ $(PRELOAD_OBJ) $(ENGINE_OBJ) $(POLICY_OBJ) $(INIH_A) \
		-Wl,--version-script=$(EXPORTS_MAP) -Wl,--exclude-libs,ALL \
		-Wl,-z,defs -Wl,-z,now $(BS_LDFLAGS) $(LDFLAGS) -lffi -ldl -lpthread

$(CLI): $(CLI_OBJ) $(CORE_LIB)
	$(CC) -o $@ $(CLI_OBJ) $(CORE_LIB) $(INIH_A) $(BS_LDFLAGS) $(LDFLAGS) \
		$(JANSSON_LIBS) -lm -lpthread

# The unit suites also test the pure parts of the preload, linked in
# without interposition (tests/unit/test_fdtrack.c stands in for the
# runtime). The log tests parse the lines they read back with jansson (a
# strict parser: it also rejects invalid UTF-8), not with string matching.
PRELOAD_UNIT_OBJ := $(addprefix $(BUILD)/obj/preload/,fdtrack.o fdholders.o fdprivate.o fdgaps.o)
$(TESTS): $(TEST_OBJ) $(PRELOAD_UNIT_OBJ) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $(TEST_OBJ) $(PRELOAD_UNIT_OBJ) $(CORE_LIB) $(INIH_A) $(BS_LDFLAGS) $(LDFLAGS) \
		$(CHECK_LIBS) $(JANSSON_LIBS) -lpthread

# Test helpers and examples: small standalone programs, one .c each.
# Those that need more are in mk/helpers.mk.
$(BUILD)/helpers/%: tests/helpers/%.c
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) -o $@ $< -lpthread
$(BUILD)/helpers/%: examples/%.c
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) -o $@ $< -lpthread

# The environment every test sees (tests/integration/lib.sh reads it).
TEST_ENV = BS_TOP=$(CURDIR) BS_BUILD=$(abspath $(BUILD)) BS_LIB=$(abspath $(LIB)) \
	BS_PRELOAD="$(BS_PRELOAD)" BS_CLI=$(abspath $(CLI)) \
	BS_HELPERS=$(abspath $(BUILD)/helpers) BS_SANITIZE=$(SANITIZE)

check: deps-check
	@$(MAKE) --no-print-directory check-run

# The unit suites alone: no packages installed, no integration script run
# (the runner tags every script's case "integration").
unit: $(TESTS)
	umask 022 && $(TEST_ENV) CK_EXCLUDE_TAGS=integration $(TESTS)

demo: deps-demo
	@$(MAKE) --no-print-directory -s all $(EXAMPLE_PROGS)
	@$(TEST_ENV) examples/demo.sh

clean:
	rm -rf build build-*

-include $(wildcard mk/*.mk)

# Everything the suites run, in one list (the fragments above name their
# parts). CK_RUN_SUITE / CK_RUN_CASE (Check's own variables) select a part.
# umask 022: tests write policy files, and a privileged run (root) refuses
# a group- or world-writable one.
CHECK_PREREQS := all $(TESTS) $(HELPERS) $(ACC_FAULT_SHIM) $(PAUSEFD_SHIM) bench-progs $(FUZZ_BINS)
check-run: $(CHECK_PREREQS)
	umask 022 && $(TEST_ENV) $(TESTS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
