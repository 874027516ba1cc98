# Section 2: cost against the number of rules and of tracked descriptors
# (sourced by run.sh). Tracked: held client connections to 127.0.0.x
# under a rule with a max_conns cap, so each one holds a cap slot. A size
# the hard descriptor limit cannot hold (without CAP_SYS_RESOURCE it
# cannot be raised) is reported as not run.

scale_table() { # LABEL rules|held POLICY_FN SIZES...
	local label=$1 kind=$2 fn=$3
	shift 3
	header "$label" "connect instr" "close instr" "connect ratio" "close ratio"
	local n c first=()
	for n in "$@"; do
		if [ "$kind" = held ] && [ "$(ulimit -Hn)" != unlimited ] &&
			[ $((n + 1024)) -gt "$(ulimit -Hn)" ]; then
			row "$n" "not run: hard ulimit -n is $(ulimit -Hn)" - - -
			continue
		elif [ "$kind" = rules ]; then
			c=($(cg_per_call "rules_$n" "$BENCH_CG_CYCLES" 0 $(preload_env "$($fn "$n")")))
		else
			c=($(cg_per_call "held_$n" "$BENCH_CG_CYCLES" "$n" $(preload_env "$($fn)")))
		fi
		[ ${#first[@]} -eq 0 ] && first=("${c[@]}")
		row "$n" "${c[0]}" "${c[2]}" "$(ratio "${c[0]}" "${first[0]}")" "$(ratio "${c[2]}" "${first[2]}")"
	done
}

scale_section() {
	section "2. Scale" \
		"Instructions per connect and per close (callgrind, as in 1b), ratios against the smallest case. Target: <= 1.2."
	scale_table "[dest] rules" rules policy_rules $BENCH_RULES
	scale_table "tracked connections held" held policy_max_conns $BENCH_HELD
}
