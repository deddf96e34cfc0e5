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
#   # SGR ZSWAPAB pass=N arm=plain|cache|bounce marking=on|off rc=N ...
#                                one per zswap pass of bench_zswap_ab
#                                (copied=: the bytes the module copied out
#                                of its own buffer, the bounce arm's)
#   # SGR CLEN lo=B hi=B count=N  the compressed lengths lz4-dmatest
#                                produced over the passes (non-empty
#                                128-byte buckets)
#   # SGR CLENS lens=a,b,c,d source=zswap|default
#                                the copy lengths of the bounce_out and
#                                owned runs: the midpoints of the four
#                                quarters of that distribution
#
# and one case per part, bench_dma_map and bench_zswap_ab: failed only if
# a run produced no numbers (the tool failed, or the driver could not be
# bound) or the tool reported an error with them (a reuse-mode run whose
# buffer stayed mapped after sg_mark_stop_reuse(): iova=leaked), or a
# refused-mode run was served from the cache (hits above 0: its buffer was
# not refused, and its numbers would be a hit's).
#
# The tool is the tree's dma_map_benchmark (tools/dma/ on 7.3, the
# selftest on 6.12, with this series), whose -m takes the method names;
# the series' controls (sg1, unmarked, refused, empty) are timed by the
# test module's bench file instead (bench_module_run in lib.sh), which
# prints the same RESULT and HIST lines.
#
# Kernel command line parameters (read by sgr_params in lib.sh):
#   sgr.bench_seconds=N     seconds per run (default 2)
#   sgr.bench_methods=a,b   of single,sg,sg1,bounce,bounce_out,owned,
#                           unmarked,iova,refused,reuse,empty (default all)
#   sgr.bench_granules=a,b  pages per map (default 1,2,16: 4, 8, 64 KiB)
#   sgr.bench_zswap_mib=N   MiB per zswap pass (default 32; 0: none)
#   sgr.bench_zswap_passes=N passes per arm, interleaved plain, cache,
#                           bounce, plain, ... (default 5)
#
# The methods are the tool's modes, but for two shapes of the bounce mode:
# bounce is the reference shape (DMA_BIDIRECTIONAL, the whole buffer
# copied in and out); bounce_out is the shape a compressor driver would
# build (DMA_FROM_DEVICE, a copy-out of the compressed length only, the
# lengths from the zswap passes of this boot), and owned is the same
# buffer linked once through the two-step IOVA API.  Those two run at the
# granule of zswap's buffer only (BENCH_OUT_GRANULE).

# The tool (the host tests run a recorded one in its place).
SGR_DMA_MAP_BENCHMARK=${SGR_DMA_MAP_BENCHMARK:-/bin/dma_map_benchmark}
# zswap's per-CPU buffer: two pages.
BENCH_OUT_GRANULE=2
# The copy lengths of bounce_out and owned when no zswap pass ran.
BENCH_CLENS_DEFAULT=2048
BENCH_CLENS=$BENCH_CLENS_DEFAULT

bench_cases() {
	echo bench_dma_map
	echo bench_zswap_ab
}

bench_run() {
	local ncpu
	ncpu=$(ncpus)
	diag "bench: $ncpu CPUs, ${BENCH_SECONDS}s per run, methods $BENCH_METHODS," \
		"granules $BENCH_GRANULES"
	# zswap first: its compressed lengths are the copy lengths of the
	# bounce_out and owned runs.
	bench_zswap
	bench_clens
	bench_dma "$ncpu"
}

# bench_clens: BENCH_CLENS from lz4-dmatest's compressed_lengths (CLEN and
# CLENS records); the default if it has none.
bench_clens() {
	local f="$LZ4DT_DBG/compressed_lengths" src=default lens
	if [ -r "$f" ] && [ "$BENCH_ZSWAP_MIB" != 0 ]; then
		awk '$3 > 0 { print "lo=" $1, "hi=" $2, "count=" $3 }' "$f" | record_lines CLEN
		# The midpoints of the four quarters (1/8, 3/8, 5/8, 7/8),
		# interpolated in their 128-byte bucket.
		lens=$(awk '
			{ lo[NR] = $1; hi[NR] = $2; c[NR] = $3; n += $3 }
			END {
				if (n == 0) exit
				split("0.125 0.375 0.625 0.875", q, " ")
				for (k = 1; k <= 4; k++) {
					want = q[k] * n; acc = 0
					for (i = 1; i <= NR; i++) {
						if (acc + c[i] >= want) {
							w = hi[i] - lo[i] + 1
							if (w > 128) w = 128
							v = int(lo[i] + (want - acc) / c[i] * w)
							break
						}
						acc += c[i]
					}
					if (v < 1) v = 1
					if (v > 4096) v = 4096
					printf "%s%d", (k > 1 ? "," : ""), v
				}
			}' "$f")
		[ -n "$lens" ] && BENCH_CLENS=$lens src=zswap
	fi
	record CLENS "lens=$BENCH_CLENS" "source=$src"
}

# bench_one METHOD GRANULE THREADS: one run.  The tool prints a RESULT line
# and HIST lines; they are passed on as BENCH and HIST records with the
# run's parameters (a HIST line of another shape, as a prose line that
# says the record was refused).  Fails if
# there is no RESULT line or the tool exited non-zero (its numbers are
# still passed on).
bench_one() {
	local out rc=0
	out=$(bench_method_run "$1" "$2" "$3" "$BENCH_SECONDS" "$BENCH_CLENS") || rc=$?
	# A tool or kernel without the method (the 6.12 stack has no iova or
	# owned mode, and its test module no bench file): said once per
	# run, not a failure.
	if printf '%s\n' "$out" | grep -qE 'invalid map mode|not built into this kernel|does not know map mode|invalid option'; then
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
				case $m in
				bounce_out|owned) [ "$g" = $BENCH_OUT_GRANULE ] || continue ;;
				esac
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

# bench_zswap_pass ARM N: the N-th zswap pass on lz4-dmatest in ARM: plain
# (dma_reuse.enabled=N), cache (=Y) or bounce (=N, and the module's output
# through its own buffer mapped once); its numbers as a ZSWAPAB record.
bench_zswap_pass() {
	local arm="$1" pass="$2" st out rc r0 m0 q0 s0 c0 r1 m1 q1 s1 c1 marking=off
	st=$(lz4dt_stats)
	[ "$arm" = cache ] && marking=on
	if [ "$marking" = on ]; then
		echo Y >"$DMA_REUSE_SWITCH"
	else
		echo N >"$DMA_REUSE_SWITCH"
	fi
	if [ "$arm" = bounce ]; then
		echo Y >"$LZ4DT_DBG/bounce" || return 1
	elif [ -e "$LZ4DT_DBG/bounce" ]; then
		echo N >"$LZ4DT_DBG/bounce"
	fi
	r0=$(counter "$st" requests) m0=$(counter "$st" map_ns) q0=$(counter "$st" req_ns)
	s0=$(counter "$st" served) c0=$(counter "$st" bounce_bytes)
	# The program's KTAP is read here, not passed on: the numbers are in
	# the ZSWAPAB record.
	out=$(stress "bench_$arm" "$BENCH_ZSWAP_MIB" 7 1 3>&1)
	rc=$?
	r1=$(counter "$st" requests) m1=$(counter "$st" map_ns) q1=$(counter "$st" req_ns)
	s1=$(counter "$st" served) c1=$(counter "$st" bounce_bytes)
	[ "$arm" = bounce ] && echo N >"$LZ4DT_DBG/bounce"
	record ZSWAPAB "pass=$pass" "arm=$arm" "marking=$marking" "rc=$rc" \
		"store_pps=$(bench_value "$out" swapout_pages_per_s)" \
		"load_pps=$(bench_value "$out" swapin_pages_per_s)" \
		"mismatches=$(bench_value "$out" mismatches)" \
		"requests=$((r1 - r0))" "map_ns=$((m1 - m0))" "req_ns=$((q1 - q0))" \
		"served=$((s1 - s0))" "copied=$((${c1:-0} - ${c0:-0}))"
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
	# The arms interleaved, plain first: drift over the boot falls on
	# every arm alike instead of on one of them.  The bounce arm needs
	# the module's switch (not in the 6.12 stack's module).
	local i=1 a arms="plain cache"
	[ -e "$LZ4DT_DBG/bounce" ] && arms="plain cache bounce"
	while [ "$i" -le "$BENCH_ZSWAP_PASSES" ]; do
		for a in $arms; do
			bench_zswap_pass "$a" "$i" || bad=1
		done
		i=$((i + 1))
	done
	echo Y >"$DMA_REUSE_SWITCH"
	if [ $bad = 0 ]; then
		result 0 bench_zswap_ab
	else
		result 1 bench_zswap_ab "a zswap pass failed (data or coverage)"
	fi
}
