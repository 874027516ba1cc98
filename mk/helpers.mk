# Test helpers that need more than the Makefile's pattern rule.

# The accept fault-injection shim (tests/shims/libacc_fault.c): preloaded
# after libbackstop-preload.so by tests/integration/test_accept_faults.sh.
ACC_FAULT_SHIM := $(BUILD)/helpers/libacc_fault.so

$(ACC_FAULT_SHIM): tests/shims/libacc_fault.c
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) -fPIC -shared -o $@ $< -ldl

# The pause's double-close shim (tests/shims/libfault_pausefd.c),
# preloaded beside the library by tests/integration/test_fault_pause.sh.
PAUSEFD_SHIM := $(BUILD)/helpers/libfault_pausefd.so

$(PAUSEFD_SHIM): tests/shims/libfault_pausefd.c
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) -fPIC -shared -o $@ $< -ldl

# The pattern rule knows only a helper's .c file.
$(BUILD)/helpers/acc_client $(BUILD)/helpers/acc_server: tests/helpers/acc_addr.h
$(BUILD)/helpers/sleep_resume $(BUILD)/helpers/sleep_signal: tests/helpers/sleep_fail.h
$(BUILD)/helpers/async_client $(BUILD)/helpers/async_waiter: tests/helpers/async_outcome.h

# fault_setuid runs setuid root, where ld.so ignores LD_PRELOAD paths: it
# is linked against the library instead, found through an absolute rpath
# ($ORIGIN is ignored under secure execution too), with the sanitizer
# runtime linked in first in those builds.
$(BUILD)/helpers/fault_setuid: tests/helpers/fault_setuid.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(PROG_CFLAGS) $(BS_LDFLAGS) -o $@ $< \
		-Wl,--no-as-needed $(abspath $(LIB)) -Wl,-rpath,$(abspath $(BUILD)) -Wl,--as-needed
