# make install PREFIX=/usr/local DESTDIR=
#
#   $(PREFIX)/lib/backstop/libbackstop-preload.so  the preload library (kept out of
#                                           lib/ so -lbackstop never links it)
#   $(PREFIX)/lib/libbackstop.so*           the C API library, soname .so.0
#   $(PREFIX)/bin/backstop                  the CLI (finds ../lib/backstop/)
#   $(PREFIX)/include/backstop/*.h, $(PREFIX)/lib/pkgconfig/backstop.pc
#   $(PREFIX)/share/man/man1, man5          man pages
#   $(PREFIX)/share/doc/backstop/           README, docs, examples
#
# Every file and every directory the install created is listed, relative
# to PREFIX, in $(PREFIX)/lib/backstop/install-manifest; `make uninstall`
# removes exactly those (directories only when empty) and nothing else.
# Installing again first uninstalls what the previous manifest lists.

.PHONY: install uninstall

INSTALL_ROOT = $(DESTDIR)$(PREFIX)
INSTALL_MANIFEST = lib/backstop/install-manifest
PC_FILE = $(BUILD)/backstop.pc

$(PC_FILE): backstop.pc.in include/backstop/backstop.h FORCE_PC
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(API_VERSION)|' $< >$@.tmp
	@cmp -s $@.tmp $@ && rm $@.tmp || mv $@.tmp $@
.PHONY: FORCE_PC
FORCE_PC:

# Shell helpers for the recipes below. `put MODE SRC REL` installs a file
# as $(INSTALL_ROOT)/REL, `link TARGET REL` makes a symlink; both record
# REL, and every directory they create, in the manifest under construction.
INSTALL_SH = set -e; root='$(INSTALL_ROOT)'; list='$(BUILD)/install-manifest.new'; \
	: >"$$list"; \
	mkdirs() { [ -d "$$root/$$1" ] && return 0; \
		if [ "$$1" = . ]; then mkdir -p "$$root"; \
		else mkdirs "$$(dirname "$$1")"; mkdir "$$root/$$1"; fi; \
		echo "d $$1" >>"$$list"; }; \
	put() { mkdirs "$$(dirname "$$3")"; install -m "$$1" "$$2" "$$root/$$3"; \
		echo "f $$3" >>"$$list"; }; \
	link() { mkdirs "$$(dirname "$$2")"; ln -sfn "$$1" "$$root/$$2"; \
		echo "f $$2" >>"$$list"; };

install: all $(API_LIB) $(PC_FILE)
	@$(MAKE) --no-print-directory uninstall >/dev/null
	@$(INSTALL_SH) \
	mkdirs .; \
	put 0755 $(LIB) lib/backstop/libbackstop-preload.so; \
	put 0755 $(API_LIB) lib/libbackstop.so.$(API_VERSION); \
	link libbackstop.so.$(API_VERSION) lib/$(API_SONAME); \
	link $(API_SONAME) lib/libbackstop.so; \
	put 0755 $(CLI) bin/backstop; \
	for h in include/backstop/*.h; do put 0644 "$$h" "$$h"; done; \
	put 0644 $(PC_FILE) lib/pkgconfig/backstop.pc; \
	for m in man/*.[15]; do [ -e "$$m" ] || continue; \
		put 0644 "$$m" "share/man/man$${m##*.}/$${m##*/}"; done; \
	for d in README.md docs/*.md examples/*.conf examples/*.c examples/*.sh \
		examples/systemd/*; do [ -e "$$d" ] || continue; \
		put 0644 "$$d" "share/doc/backstop/$${d#docs/}"; done; \
	mkdirs lib/backstop; echo "f $(INSTALL_MANIFEST)" >>"$$list"; \
	install -m 0644 "$$list" "$$root/$(INSTALL_MANIFEST)"; rm -f "$$list"; \
	echo "installed into $$root (manifest: $$root/$(INSTALL_MANIFEST))"

# Files first, then directories deepest first (the manifest lists a parent
# before its children), each directory only if it is empty.
uninstall:
	@set -e; root='$(INSTALL_ROOT)'; m="$$root/$(INSTALL_MANIFEST)"; \
	[ -f "$$m" ] || { echo "uninstall: nothing to do ($$m not found)"; exit 0; }; \
	entries=$$(cat "$$m"); \
	printf '%s\n' "$$entries" | sed -n 's/^f //p' | while IFS= read -r p; do \
		rm -f "$$root/$$p"; done; \
	printf '%s\n' "$$entries" | sed -n 's/^d //p' | tac | while IFS= read -r p; do \
		d="$$root/$$p"; rmdir "$${d%/.}" 2>/dev/null || true; done; \
	echo "uninstalled from $$root"
