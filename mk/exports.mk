# The version script of the preload: the names of preload/hooks.def and
# nothing else (every other symbol stays local).
$(EXPORTS_MAP): preload/hooks.def
	@mkdir -p $(dir $@)
	{ echo '{ global:'; \
	  sed -n 's/^BS_HOOK(\([^,]*\), *\([a-z0-9_]*\),.*/\t\2;/p; s/^BS_HOOK_\(OVER\|SELF\)(\([a-z0-9_]*\))/\t\2;/p' $<; \
	  echo 'local: *; };'; } >$@
