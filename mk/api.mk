# The C API library (include/backstop/backstop.h): api/ over the engine/
# and policy/ objects, with only the backstop_* functions exported (the
# objects are built -fvisibility=hidden; BACKSTOP_API marks the API).
# Installed as $(PREFIX)/lib/libbackstop.so, apart from the preload
# library, so that -lbackstop never picks up the interposer.

API_VERSION := $(shell sed -n 's/^\#define BACKSTOP_VERSION "\(.*\)"/\1/p' include/backstop/backstop.h)
API_SONAME := libbackstop.so.$(firstword $(subst ., ,$(API_VERSION)))
API_LIB := $(BUILD)/api/libbackstop.so

all: $(API_LIB)

$(API_LIB): $(API_OBJ) $(ENGINE_OBJ) $(POLICY_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared -o $@ -Wl,-soname,$(API_SONAME) $(API_OBJ) $(ENGINE_OBJ) $(POLICY_OBJ) $(INIH_A) \
		-Wl,--exclude-libs,ALL -Wl,-z,defs $(BS_LDFLAGS) $(LDFLAGS) -lpthread
