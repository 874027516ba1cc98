# The log tests parse the lines they read back with jansson (a strict
# parser: it also rejects invalid UTF-8), not with string matching.
$(TESTS): LDFLAGS += $(JANSSON_LIBS)
