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

# The tool (the host tests run a recorded one in its place).
SGR_DMA_MAP_BENCHMARK=${SGR_DMA_MAP_BENCHMARK:-/bin/dma_map_benchmark}

dmabench_cases() {
	echo dma_map_benchmark_smoke
}

dmabench_run() {
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
