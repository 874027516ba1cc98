# Declared wrappers' tests (tests/integration/test_wrap_*.sh): a library
# that fails its first calls, a plugin that calls it, and a client, all
# linked -z now with full RELRO; the client finds both through its RUNPATH
# (wrap_client_rpath: the same client with an old-style DT_RPATH).
WRAP_LIB := $(BUILD)/helpers/libwrap_flaky.so
WRAP_PLUGIN := $(BUILD)/helpers/libwrap_plugin.so
WRAP_LDFLAGS := -Wl,-z,now,-z,relro -Wl,--enable-new-dtags -Wl,-rpath,'$$ORIGIN'
WRAP_CC = $(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(CFLAGS)

$(WRAP_LIB): tests/shims/libwrap_flaky.c
	@mkdir -p $(dir $@)
	$(WRAP_CC) -fPIC -shared -Wl,-soname,libwrap_flaky.so $(WRAP_LDFLAGS) -o $@ $<

$(WRAP_PLUGIN): tests/shims/libwrap_plugin.c $(WRAP_LIB)
	$(WRAP_CC) -fPIC -shared $(WRAP_LDFLAGS) -o $@ $< -L$(dir $@) -lwrap_flaky

$(BUILD)/helpers/wrap_client: tests/helpers/wrap_client.c $(WRAP_LIB)
	$(WRAP_CC) $(WRAP_LDFLAGS) -o $@ $< -L$(dir $@) -lwrap_flaky -ldl -lpthread

$(BUILD)/helpers/wrap_client_rpath: tests/helpers/wrap_client.c $(WRAP_LIB)
	$(WRAP_CC) $(subst --enable-new-dtags,--disable-new-dtags,$(WRAP_LDFLAGS)) -o $@ $< \
		-L$(dir $@) -lwrap_flaky -ldl -lpthread

check-run: $(WRAP_LIB) $(WRAP_PLUGIN) $(BUILD)/helpers/wrap_client_rpath
