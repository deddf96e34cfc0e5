# shellcheck shell=sh
# shellcheck disable=SC3043 # local: dash and busybox ash, the two shells that run this, have it
#
# The comparison of make demo / make bench, run on the benchmark kernel
# (test "bench", not in the default list).  Measurements only: nothing
# here passes or fails on a time.  Its numbers are records (the dialect
# and its keys: the top of lib.sh), for the host's report:
#
#   # SGR BENCH method=M ...     one per dma_map_benchmark run: the tool's
#                                RESULT line after the method
#   # SGR HIST method=M granule=G threads=T side=map|unmap lo=NS hi=NS count=N
#                                one per histogram bucket of the run (the
#                                tool's HIST lines)
#   # SGR ZSWAPAB pass=N marking=on|off rc=N ...
#                                one per zswap pass of bench_zswap_ab
#
# and one case per part, bench_dma_map and bench_zswap_ab: failed only if
# a run produced no numbers (the tool failed, or the driver could not be
# bound) or the tool reported an error with them (a reuse-mode run whose
# buffer stayed mapped after sg_mark_stop_reuse(): iova=leaked), or a
# refused-mode run was served from the cache (hits above 0: its buffer was
# not refused, and its numbers would be a hit's).
#
# The tool is the tree's dma_map_benchmark (tools/dma/ on 7.3, the
# selftest on 6.12, with this series), whose -m takes the method names.
#
# Kernel command line parameters (read by sgr_params in lib.sh):
#   sgr.bench_seconds=N     seconds per run (default 2)
#   sgr.bench_methods=a,b   of single,sg,sg1,bounce,unmarked,iova,refused,
#                           reuse,empty (default all nine)
#   sgr.bench_granules=a,b  pages per map (default 1,2,16: 4, 8, 64 KiB)
#   sgr.bench_zswap_mib=N   MiB per zswap A/B pass (default 32; 0: none)
#   sgr.bench_zswap_passes=N passes per arm, interleaved off, on, off, on,
#                           ... (default 5)

# The tool (the host tests run a recorded one in its place).
SGR_DMA_MAP_BENCHMARK=${SGR_DMA_MAP_BENCHMARK:-/bin/dma_map_benchmark}

bench_cases() {
	echo bench_dma_map
	echo bench_zswap_ab
}

bench_run() {
	local ncpu
	ncpu=$(ncpus)
	diag "bench: $ncpu CPUs, ${BENCH_SECONDS}s per run, methods $BENCH_METHODS," \
		"granules $BENCH_GRANULES"
	bench_dma "$ncpu"
	bench_zswap
}

# bench_one METHOD GRANULE THREADS: one run.  The tool prints a RESULT line
# and HIST lines; they are passed on as BENCH and HIST records with the
# run's parameters (a HIST line of another shape, as a prose line that
# says the record was refused).  Fails if
# there is no RESULT line or the tool exited non-zero (its numbers are
# still passed on).
bench_one() {
	local out rc=0
	out=$("$SGR_DMA_MAP_BENCHMARK" -m "$1" -g "$2" -t "$3" -s "$BENCH_SECONDS" 2>&1) || rc=$?
	# A tool or kernel without the method (the 6.12 stack has no
	# unmarked, sg1 or iova mode): said once per run, not a failure.
	if printf '%s\n' "$out" | grep -qE 'invalid map mode|not built into this kernel|does not know map mode'; then
		diag "bench: method $1 granule $2 threads $3: not in this kernel or tool, skipped"
		return 0
	fi
	if ! printf '%s\n' "$out" | grep -q '^RESULT '; then
		printf '%s\n' "$out" | head -n 5 | diag_lines "bench output: "
		return 1
	fi
	printf '%s\n' "$out" | sed -n 's/^RESULT //p' | record_lines BENCH "method=$1"
	if [ "$1" = refused ] && printf '%s\n' "$out" | grep '^RESULT ' | grep -qv ' hits=0 '; then
		diag "bench: refused granule $2 threads $3: served from the cache (hits above 0)"
		return 1
	fi
	printf '%s\n' "$out" |
		sed -n -e 's/^HIST \([^ ]*\) \([^ ]*\) \([^ ]*\) \([^ ]*\)$/side=\1 lo=\2 hi=\3 count=\4/p' \
			-e t -e 's/^HIST //p' |
		record_lines HIST "method=$1" "granule=$2" "threads=$3"
	if [ "$rc" != 0 ]; then
		printf '%s\n' "$out" | grep -v -e '^RESULT ' -e '^HIST ' | tail -n 3 |
			diag_lines "bench: $1 granule $2 threads $3: exit $rc: "
		return 1
	fi
}

# bench_dma NCPU: every method x granule, 1 thread and one per CPU.
bench_dma() {
	local m g t bad=0 runs=0 threads=1
	if ! bind_edu; then
		result 1 bench_dma_map "cannot bind dma_map_benchmark to $EDU"
		return
	fi
	[ "$1" -gt 1 ] && threads="1 $1"
	for g in $BENCH_GRANULES; do
		for t in $threads; do
			for m in $BENCH_METHODS; do
				runs=$((runs + 1))
				bench_one "$m" "$g" "$t" || bad=$((bad + 1))
			done
		done
	done
	if [ $bad = 0 ]; then
		result 0 bench_dma_map
	else
		result 1 bench_dma_map "$bad of $runs runs printed no numbers or failed"
	fi
}

# bench_zswap_pass on|off N: the N-th zswap pass on lz4-dmatest with the marking
# on or off; its numbers as a ZSWAPAB record.
bench_zswap_pass() {
	local marking="$1" pass="$2" st out rc r0 m0 q0 s0 r1 m1 q1 s1
	st=$(lz4dt_stats)
	if [ "$marking" = on ]; then
		echo Y >"$DMA_REUSE_SWITCH"
	else
		echo N >"$DMA_REUSE_SWITCH"
	fi
	r0=$(counter "$st" requests) m0=$(counter "$st" map_ns) q0=$(counter "$st" req_ns)
	s0=$(counter "$st" served)
	# The program's KTAP is read here, not passed on: the numbers are in
	# the ZSWAPAB record.
	out=$(stress "bench_$marking" "$BENCH_ZSWAP_MIB" 7 1 3>&1)
	rc=$?
	r1=$(counter "$st" requests) m1=$(counter "$st" map_ns) q1=$(counter "$st" req_ns)
	s1=$(counter "$st" served)
	record ZSWAPAB "pass=$pass" "marking=$marking" "rc=$rc" \
		"store_pps=$(bench_value "$out" swapout_pages_per_s)" \
		"load_pps=$(bench_value "$out" swapin_pages_per_s)" \
		"mismatches=$(bench_value "$out" mismatches)" \
		"requests=$((r1 - r0))" "map_ns=$((m1 - m0))" "req_ns=$((q1 - q0))" \
		"served=$((s1 - s0))"
	return $rc
}

# bench_value OUTPUT KEY: the value of KEY in the first STRESS record of
# zswap_stress's output (empty if there is none, or it has no KEY).
bench_value() {
	printf '%s\n' "$1" | awk -v k="$2=" '
		$1 == "#" && $2 == "SGR" && $3 == "STRESS" {
			for (i = 4; i <= NF; i++)
				if (index($i, k) == 1) { print substr($i, length(k) + 1); break }
			exit
		}'
}

bench_needs() {
	echo bench_zswap_ab sgr.bench_zswap_mib
}

bench_zswap() {
	local bad=0
	if [ "$BENCH_ZSWAP_MIB" = 0 ]; then
		result skip bench_zswap_ab "sgr.bench_zswap_mib=0"
		return
	fi
	case $BENCH_ZSWAP_PASSES in
	''|*[!0-9]*|0)
		result 1 bench_zswap_ab "sgr.bench_zswap_passes wants a number above 0, not '$BENCH_ZSWAP_PASSES'"
		return ;;
	esac
	if ! lz4dt_bound; then
		result 1 bench_zswap_ab "lz4-dmatest is not bound to $TESTDEV"
		return
	fi
	if ! setup_swap; then
		result 1 bench_zswap_ab "swap setup failed"
		return
	fi
	if ! set_compressor lz4-dmatest; then
		result 1 bench_zswap_ab "zswap refused lz4-dmatest"
		return
	fi
	# The arms interleaved, off first: drift over the boot falls on both
	# arms alike instead of on one of them.
	local i=1
	while [ "$i" -le "$BENCH_ZSWAP_PASSES" ]; do
		bench_zswap_pass off "$i" || bad=1
		bench_zswap_pass on "$i" || bad=1
		i=$((i + 1))
	done
	echo Y >"$DMA_REUSE_SWITCH"
	if [ $bad = 0 ]; then
		result 0 bench_zswap_ab
	else
		result 1 bench_zswap_ab "a zswap pass failed (data or coverage)"
	fi
}
