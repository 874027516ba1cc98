# Sourced by tests/integration/test_install.sh and test_api.sh (after
# lib.sh): install the tree built in $BS_BUILD into a staging directory.

# bs_install DESTDIR PREFIX [TARGET]: `make install` (or TARGET) as an
# operator would type it, outside any make that may have started the test.
bs_install() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		make -C "$BS_TOP" --no-print-directory BUILD="$BS_BUILD" \
		SANITIZE="${BS_SANITIZE:-}" DESTDIR="$1" PREFIX="$2" "${3:-install}"
}

# Run a program built outside the tree: in sanitizer builds the installed
# libraries need the sanitizer runtime loaded first (the words of
# $BS_PRELOAD before the backstop library itself).
run_installed() {
	local runtime=${BS_PRELOAD% *}
	if [ -n "${BS_SANITIZE:-}" ] && [ "$runtime" != "$BS_PRELOAD" ]; then
		env LD_PRELOAD="$runtime" "$@"
	else
		"$@"
	fi
}
