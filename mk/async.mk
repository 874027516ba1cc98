# The fortified async client includes the plain one's source.
$(BUILD)/helpers/async_client_fortified: tests/helpers/async_client.c
