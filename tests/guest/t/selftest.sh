# shellcheck shell=sh
# shellcheck disable=SC3043 # local: dash and busybox ash, the two shells that run this, have it
#
# dma_reuse_selftest: the series' kselftest, the one a maintainer with the
# hardware runs (tools/testing/selftests/dma/dma_reuse_zswap.c, built from
# the tree by tools/initramfs as /bin/dma_reuse_zswap), here on the test
# module: zswap round trips in a memory cgroup with the cache on and off,
# every page verified, the cache's counters, the switch, the A/B rates.
# Its KTAP nests under this case; this case's verdict is the program's
# exit status.  The guest knows whether the mode translates, so the
# program is told what to expect (--expect-cache, or --expect-no-cache):
# none of its cases may skip here.  Without the cache (the options-off
# build) the case skips; the host allows that only in such a boot.
# It runs after iotlb (tests/iommu-modes): its switch off and on moves
# the cached buffers to new IOVAs, and lz4-dmatest's list of served IOVAs,
# which iotlb watches, would then name old ones that plain mappings reuse.

selftest_cases() {
	echo dma_reuse_selftest
}

selftest_needs() {
	echo dma_reuse_selftest CONFIG_DMA_REUSE_CACHE CONFIG_DMA_REUSE_LZ4_TEST
}

selftest_run() {
	local bin="${DMA_REUSE_SELFTEST_BIN:-/bin/dma_reuse_zswap}" expect out rc
	if [ ! -e "$DMA_REUSE_SWITCH" ]; then
		result skip dma_reuse_selftest "no $DMA_REUSE_SWITCH: the kernel has no DMA reuse cache"
		return
	fi
	if [ ! -x "$bin" ]; then
		result 1 dma_reuse_selftest "no $bin: the tree has no tools/testing/selftests/dma/dma_reuse_zswap.c"
		return
	fi
	if ! lz4dt_bound; then
		result 1 dma_reuse_selftest "lz4-dmatest is not bound to $TESTDEV"
		return
	fi
	if ! setup_swap; then
		result 1 dma_reuse_selftest "swap setup failed"
		return
	fi
	expect=--expect-no-cache
	[ "${MODE_TRANSLATES:-0}" = 1 ] && expect=--expect-cache
	out=$("$bin" -c lz4-dmatest -m "$SELFTEST_MIB" -p "$SELFTEST_PASSES" "$expect" 2>&1)
	rc=$?
	subtest_begin dma_reuse_selftest 5
	# Without the program's own version and plan lines (the first of
	# each, wherever a message put them): its cases are the subtest's.
	printf '%s\n' "$out" |
		awk '!v && /^K?TAP version / { v = 1; next }
			!p && /^1\.\.[0-9]+$/ { p = 1; next } { print }' |
		nested_lines
	if [ "$rc" = 0 ]; then
		subtest_end 0
	else
		subtest_end 1 "dma_reuse_zswap $expect exited $rc"
	fi
}
