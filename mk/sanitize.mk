# Reliability runs beyond `make check` (docs/reliability.md):
#
#   make soak                  the soak test at its full size: 16 threads,
#                              1,000,000 connect/close cycles (make check
#                              runs it with 40,000)
#   make check SANITIZE=address,undefined | SANITIZE=thread (check-tsan)
#                              the whole suite with the preload built with
#                              that sanitizer (the Makefile); the options the
#                              runtimes get are in tests/sanitizer/.

SOAK_CYCLES ?= 1000000

.PHONY: soak
soak: all $(TESTS) $(HELPERS)
	$(TEST_ENV) SOAK_CYCLES=$(SOAK_CYCLES) CK_RUN_SUITE=integration CK_RUN_CASE=soak \
		CK_VERBOSITY=verbose $(TESTS); tail -3 $(BUILD)/test-logs/soak.log

# Sanitizer runtime options for everything `make` runs (the runner, the
# integration scripts and the programs they preload): UBSan findings fail
# the test, leaks of third-party programs are suppressed (lsan.supp). Under
# TSan the connect watchdog is a pthread, started again in a forked child
# by the first blocking connect there: die_after_fork=0 lets TSan go on.
SAN_SUPP := $(CURDIR)/tests/sanitizer
ifneq ($(findstring address,$(SANITIZE)),)
export ASAN_OPTIONS ?= detect_leaks=1:abort_on_error=0:allow_user_segv_handler=1
export LSAN_OPTIONS ?= suppressions=$(SAN_SUPP)/lsan.supp:print_suppressions=0
endif
ifneq ($(findstring undefined,$(SANITIZE)),)
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1
endif
ifneq ($(findstring thread,$(SANITIZE)),)
export TSAN_OPTIONS ?= halt_on_error=0:report_signal_unsafe=0:second_deadlock_stack=1:die_after_fork=0
endif

# The suite under ThreadSanitizer (build-thread/): `make check-tsan`.
.PHONY: check-tsan
check-tsan:
	@$(MAKE) --no-print-directory check-run SANITIZE=thread
