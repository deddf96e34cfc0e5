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

# The tool (the host tests run a recorded one in its place).
SGR_DMA_MAP_BENCHMARK=${SGR_DMA_MAP_BENCHMARK:-/bin/dma_map_benchmark}
SGR_DMA_MAP_BENCHMARK_OLD=${SGR_DMA_MAP_BENCHMARK_OLD:-/bin/dma_map_benchmark_old}

dmabench_cases() {
	echo dma_map_benchmark_smoke
	echo dma_map_benchmark_old_abi
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
	dmabench_old_abi
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
