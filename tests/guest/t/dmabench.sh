# shellcheck shell=sh
# shellcheck disable=SC3043 # local: dash and busybox ash, the two shells that run this, have it
#
# dma_map_benchmark_smoke: dma_map_benchmark bound to edu through
# driver_override, the tree's dma_map_benchmark tool (tools/dma/ on 7.3,
# the selftest on 6.12; built statically from the tree by tools/initramfs)
# printed latencies; under swiotlb=force the mappings also bounced.  Only
# the lines every version of the tool prints are read: the default mode
# (dma_map_single()) and "average map|unmap latency(us):".  The swiotlb
# high-water mark is a record, "# SGR METRIC swiotlb_used_hiwater=N" (the
# dialect: the top of lib.sh).
#
# dma_map_benchmark_old_abi: the base's own tool, built against the base's
# header (tools/initramfs: /bin/dma_map_benchmark_old), runs unchanged on
# this kernel: struct map_benchmark keeps its size and layout, and a
# caller that zeroes it gets the run it asked for.  Its three lines and a
# non-zero mean map latency in 100ns units are read.
#
# lz4dt_bench_controls: the test module's bench file, where the series'
# controls are timed (t/bench.sh: plain, unmarked, refused, empty): one
# short run of each gives a RESULT line with iterations above 0, the
# refused buffer is never served from the cache (hits=0), and writes the
# file must refuse (an unknown method, no thread, more threads than CPUs,
# a granule or a time above its limits, a word missing) fail.  Skipped
# only where the kernel has no CONFIG_DMA_REUSE_LZ4_TEST (dmabench_needs).

# The tool (the host tests run a recorded one in its place).
SGR_DMA_MAP_BENCHMARK=${SGR_DMA_MAP_BENCHMARK:-/bin/dma_map_benchmark}
SGR_DMA_MAP_BENCHMARK_OLD=${SGR_DMA_MAP_BENCHMARK_OLD:-/bin/dma_map_benchmark_old}

dmabench_cases() {
	echo dma_map_benchmark_smoke
	echo dma_map_benchmark_old_abi
	echo lz4dt_bench_controls
}

dmabench_needs() {
	echo lz4dt_bench_controls CONFIG_DMA_REUSE_LZ4_TEST
}

dmabench_run() {
	dmabench_smoke
	dmabench_old_abi
	dmabench_lz4dt
}

dmabench_smoke() {
	local out avg hw
	if ! bind_edu; then
		result 1 dma_map_benchmark_smoke "cannot bind dma_map_benchmark to $EDU"
		return
	fi
	out=$("$SGR_DMA_MAP_BENCHMARK" -t 1 -s 2 -g 1 2>&1)
	# Prose, prefixed: the tool's own RESULT and HIST lines must not read
	# as a record or as the formats records replaced.
	printf '%s\n' "$out" | diag_lines "dma_map_benchmark: "
	unbind_override dma_map_benchmark "$EDU"
	avg=$(printf '%s\n' "$out" | grep -cE 'average (map|unmap) latency\(us\):[0-9]+\.[0-9]')
	if [ "$avg" != 2 ]; then
		result 1 dma_map_benchmark_smoke "no map/unmap latencies in the tool's output"
		return
	fi
	# 7.3 keeps the high-water mark only with swiotlb=...,track_hiwater
	# (the mode asks for it; 6.12 ignores the word and always keeps it).
	if cmdline_has swiotlb=force || cmdline_has swiotlb=force,track_hiwater; then
		hw=$(cat /sys/kernel/debug/swiotlb/io_tlb_used_hiwater 2>/dev/null || echo 0)
		record METRIC "swiotlb_used_hiwater=$hw"
		if [ "${hw:-0}" -eq 0 ]; then
			result 1 dma_map_benchmark_smoke "swiotlb=force, but nothing was bounced"
			return
		fi
	fi
	result 0 dma_map_benchmark_smoke
}

dmabench_old_abi() {
	local out rc=0
	if [ ! -x "$SGR_DMA_MAP_BENCHMARK_OLD" ]; then
		result 1 dma_map_benchmark_old_abi "no $SGR_DMA_MAP_BENCHMARK_OLD in the initramfs (tools/initramfs could not read the base revision of the tree)"
		return
	fi
	if ! bind_edu; then
		result 1 dma_map_benchmark_old_abi "cannot bind dma_map_benchmark to $EDU"
		return
	fi
	out=$("$SGR_DMA_MAP_BENCHMARK_OLD" -t 1 -s 1 -g 1 2>&1) || rc=$?
	printf '%s\n' "$out" | diag_lines "dma_map_benchmark_old: "
	unbind_override dma_map_benchmark "$EDU"
	if [ "$rc" != 0 ]; then
		result 1 dma_map_benchmark_old_abi "the base's tool exited $rc on this kernel"
	elif [ "$(printf '%s\n' "$out" | grep -cE '^average (map|unmap) latency\(us\):[0-9]+\.[0-9]')" != 2 ]; then
		result 1 dma_map_benchmark_old_abi "the base's tool printed no map/unmap latencies"
	elif printf '%s\n' "$out" | grep -qE '^average map latency\(us\):0\.0 '; then
		result 1 dma_map_benchmark_old_abi "the base's tool read a mean map latency of 0: the results are not where its header says"
	else
		result 0 dma_map_benchmark_old_abi
	fi
}

dmabench_lz4dt() {
	local m out bad="" w
	if ! lz4dt_bound; then
		if [ -d "$LZ4DT" ]; then
			result 1 lz4dt_bench_controls "lz4-dmatest is built in but did not bind $TESTDEV"
		else
			result skip lz4dt_bench_controls "lz4-dmatest is not built in"
		fi
		return
	fi
	for m in plain unmarked refused empty; do
		if ! out=$(bench_module_run "$m" 2 1 1); then
			printf '%s\n' "$out" | head -n 2 | diag_lines "lz4dt bench: $m: "
			bad="$bad $m"
			continue
		fi
		out=$(printf '%s\n' "$out" | grep '^RESULT ')
		printf '%s\n' "$out" | diag_lines "lz4dt bench: "
		case " $out " in
		*" iterations=0 "*|*" iterations= "*) bad="$bad $m(no iterations)" ;;
		*" iterations="[0-9]*) ;;
		*) bad="$bad $m(no RESULT line)" ;;
		esac
		if [ "$m" = refused ]; then
			case " $out " in
			*" hits=0 "*) ;;
			*) bad="$bad refused(served from the cache)" ;;
			esac
		fi
	done
	for w in "bogus 1 1 1" "plain 1 0 1" "plain 1 $(($(ncpus) + 1)) 1" \
		"plain 65 1 1" "plain 0 1 1" "plain 1 1 0" "plain 1 1 61" "plain 1 1"; do
		if echo "$w" 2>/dev/null >"$LZ4DT_DBG/bench"; then
			bad="$bad accepted('$w')"
		fi
	done
	if [ -n "$bad" ]; then
		result 1 lz4dt_bench_controls "failed:$bad"
	else
		result 0 lz4dt_bench_controls
	fi
}
