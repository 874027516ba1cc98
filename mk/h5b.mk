# The accept fault-injection shim (tests/shims/libacc_fault.c): preloaded
# after libbackstop-preload.so by tests/integration/test_accept_faults.sh.
ACC_FAULT_SHIM := $(BUILD)/helpers/libacc_fault.so

$(ACC_FAULT_SHIM): tests/shims/libacc_fault.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(CFLAGS) -fPIC -shared -o $@ $< -ldl

check-run: $(ACC_FAULT_SHIM)

# The helpers' pattern rule knows only their .c file.
$(BUILD)/helpers/acc_client $(BUILD)/helpers/acc_server: tests/helpers/acc_addr.h
