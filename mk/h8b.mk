# rel_setuid runs setuid root, where ld.so ignores LD_PRELOAD paths: it is
# linked against the library instead, found through an absolute rpath
# ($ORIGIN is ignored under secure execution too), with the sanitizer
# runtime linked in first in those builds.
$(BUILD)/helpers/rel_setuid: tests/helpers/rel_setuid.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(CFLAGS) $(BS_LDFLAGS) -o $@ $< \
		-Wl,--no-as-needed $(abspath $(LIB)) -Wl,-rpath,$(abspath $(BUILD)) -Wl,--as-needed
