# The version script of the preload: the names of preload/hooks.def
# (scripts/hook-names) and nothing else (every other symbol stays local).
$(EXPORTS_MAP): preload/hooks.def scripts/hook-names
	@mkdir -p $(dir $@)
	{ echo '{ global:'; CC='$(CC)' scripts/hook-names | sed 's/.*/\t&;/'; \
	  echo 'local: *; };'; } >$@.tmp && mv $@.tmp $@
