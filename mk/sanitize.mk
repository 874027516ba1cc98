# Reliability runs beyond `make check` (docs/reliability.md):
#
#   make soak                  the soak test at its full size: 16 threads,
#                              1,000,000 connect/close cycles (make check
#                              runs it with 40,000)
#   make check SANITIZE=address,undefined | SANITIZE=thread
#                              the whole suite with the preload built with
#                              that sanitizer (the Makefile); the options the
#                              runtimes get are in tests/sanitizer/.

SOAK_CYCLES ?= 1000000

.PHONY: soak
soak: all $(TESTS) $(HELPERS)
	$(TEST_ENV) SOAK_CYCLES=$(SOAK_CYCLES) CK_RUN_SUITE=integration CK_RUN_CASE=soak \
		CK_VERBOSITY=verbose $(TESTS); tail -3 $(BUILD)/test-logs/soak.log
