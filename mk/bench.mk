# make bench: the benchmarks of tests/bench/ (see docs/benchmarks.md).
# Tables go to stdout and to $(BUILD)/bench/results.md, raw numbers to
# $(BUILD)/bench/. BENCH_QUICK=1 runs a short smoke version.

BENCH_BIN := $(BUILD)/bench/bin
BENCH_PROGS := $(addprefix $(BENCH_BIN)/bench_,loop herd_server herd_launch loadgen)
BENCH_SHIM := $(BENCH_BIN)/bench_malloc_count.so
BENCH_CFLAGS = $(LANG_CFLAGS) $(WARN_CFLAGS) -O2 -g

.PHONY: bench bench-run bench-progs

bench: deps-bench
	@$(MAKE) --no-print-directory bench-run

bench-progs: all $(BENCH_PROGS) $(BENCH_SHIM) $(BUILD)/helpers/legacy_client

bench-run: bench-progs
	$(TEST_ENV) BS_BENCH_BIN=$(abspath $(BENCH_BIN)) BS_BENCH_OUT=$(abspath $(BUILD)/bench) \
		BENCH_QUICK=$(BENCH_QUICK) tests/bench/run.sh

$(BENCH_BIN)/bench_%: tests/bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $< -lpthread

$(BENCH_SHIM): tests/bench/malloc_count.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -fPIC -shared -o $@ $< -ldl

# make check builds bench-progs too (the Makefile's CHECK_PREREQS):
# tests/integration/test_bench_smoke.sh runs the quick version.
