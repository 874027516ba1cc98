# libFuzzer targets (tests/fuzz/fuzz_*.c), built with clang, ASan and UBSan
# against the engine/ and policy/ sources compiled the same way, in $(BUILD)/fuzz/.
#
#   make fuzz FUZZ_SECONDS=N   run every target N seconds (default 60)
#                              from its seed corpus tests/fuzz/corpus/NAME/;
#                              new inputs land in $(BUILD)/fuzz/work/NAME/,
#                              a crash in $(BUILD)/fuzz/crash-NAME-*
#
# make check builds the targets too: tests/integration/test_fault_fuzz_smoke.sh
# replays every corpus and fuzzes each target for a few seconds.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
FUZZ_CFLAGS = $(LANG_CFLAGS) -Iinclude -I. -g -O1 $(FUZZ_SAN) \
	$(shell pkg-config --cflags jansson)

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_POLICY_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/fuzz/obj/%.o) $(POLICY_SRC:%.c=$(BUILD)/fuzz/obj/%.o)

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_BINS)
# Kept: they are intermediate files of the pattern rule below.
.SECONDARY: $(FUZZ_POLICY_OBJ)

# Other people's code: warnings are gcc's -Werror business, not clang's.
$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(FUZZ_POLICY_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(WARN_CFLAGS) -fsanitize=fuzzer -o $@ $< \
		$(FUZZ_POLICY_OBJ) $(INIH_A) $(JANSSON_LIBS) -lm -lpthread

fuzz: $(FUZZ_BINS)
	@set -e; for bin in $(FUZZ_BINS); do t=$${bin##*/}; \
		mkdir -p $(BUILD)/fuzz/work/$$t; \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		$$bin -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(BUILD)/fuzz/crash-$$t- \
			$(BUILD)/fuzz/work/$$t tests/fuzz/corpus/$$t \
			2>$(BUILD)/fuzz/$$t.log || { tail -40 $(BUILD)/fuzz/$$t.log; exit 1; }; \
		grep -E 'stat::number_of_executed_units|cov:' $(BUILD)/fuzz/$$t.log | tail -2; \
	done
