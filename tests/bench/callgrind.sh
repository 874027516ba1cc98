# Instructions per call, counted by callgrind (sourced). Each call of the
# loop goes through its own noinline bench_* function; its inclusive cost
# over N and over 2N cycles, differenced, leaves the steady-state cost of
# one call: start-up, policy loading, lazy binding and the first-call
# set-up cancel out.

# Inclusive instructions of FUNC in a callgrind output file.
cg_inclusive() { # FILE FUNC
	callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
		awk -v f="loop.c:$2" '$0 ~ f" \\[" { gsub(",", "", $1); print $1; exit }'
}

# One callgrind run of bench_loop in a fresh namespace.
cg_run() { # OUTFILE CYCLES HOLD ENV...
	local file=$1 cycles=$2 held=$3
	shift 3
	ulimit -n "$(ulimit -Hn)" # valgrind keeps a few descriptors for itself
	in_netns env "$@" valgrind --tool=callgrind --callgrind-out-file="$file" \
		"$BIN/bench_loop" --cycles "$cycles" --warmup 20 --hold "$held" --sleep \
		>/dev/null 2>"$file.log" || { cat "$file.log" >&2; return 1; }
}

# "connect accept close nanosleep poll epoll_wait" instructions per call.
cg_per_call() { # NAME CYCLES HOLD ENV...
	local name=$1 n=$2 held=$3
	shift 3
	local d=$OUT/callgrind
	mkdir -p "$d"
	cg_run "$d/$name.1" "$n" "$held" "$@"
	cg_run "$d/$name.2" $((2 * n)) "$held" "$@"
	local f per
	for f in connect accept close nanosleep poll epoll_wait; do
		per=$n
		[ $f = close ] && per=$((2 * n))
		awk -v a="$(cg_inclusive "$d/$name.1" bench_$f)" \
			-v b="$(cg_inclusive "$d/$name.2" bench_$f)" -v n="$per" \
			'BEGIN { printf "%.0f ", (b - a) / n }'
	done
	echo
}
