# shellcheck shell=sh
# shellcheck disable=SC3043 # local: dash and busybox ash, the two shells that run this, have it
#
# steps_runs (make demo only, not in the default list): the runs that
# tools/steps.py single-steps from the host through QEMU's gdbstub.  One
# short run per method of sgr.steps_methods (default
# reuse,unmarked,sg1,sg,iova,bounce_out; dma_map_benchmark's, or the test
# module's bench file for the series' controls), 8 KiB, 1 thread, each long enough for the
# tracer's warm-up calls; the tracer counts the instructions of one of
# their map and unmap calls; each run's RESULT line is a BENCH record
# (tests/guest/lib.sh).  Fails only if a run produced no RESULT line;
# what the tracer found is judged on the host.
#
#   sgr.steps_methods=a,b   the methods to run, in order
#   sgr.steps_granule=N     pages per map (default 2: the zswap buffer)
#   sgr.steps_clens=a,b     bounce_out's copy lengths (default 2048; make
#                           demo passes those of its strict boot's zswap)

SGR_DMA_MAP_BENCHMARK=${SGR_DMA_MAP_BENCHMARK:-/bin/dma_map_benchmark}

steps_cases() {
	echo steps_runs
}

steps_run() {
	local m out bad=""
	if ! bind_edu; then
		result 1 steps_runs "cannot bind dma_map_benchmark to $EDU"
		return
	fi
	for m in $(list "$(param steps_methods reuse,unmarked,sg1,sg,iova,bounce_out)"); do
		out=$(bench_method_run "$m" "$(param steps_granule 2)" 1 1 "$(param steps_clens 2048)")
		if printf '%s\n' "$out" | grep -q '^RESULT '; then
			printf '%s\n' "$out" | sed -n 's/^RESULT //p' | record_lines BENCH "method=$m"
		else
			printf '%s\n' "$out" | head -n 3 | diag_lines "steps: $m: "
			bad="$bad $m"
		fi
	done
	unbind_override dma_map_benchmark "$EDU"
	if [ -n "$bad" ]; then
		result 1 steps_runs "no result from:$bad"
	else
		result 0 steps_runs
	fi
}
