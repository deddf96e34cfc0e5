# shellcheck shell=sh
# shellcheck disable=SC3043 # local: dash and busybox ash, the two shells that run this, have it
#
# iommu_debug_pagealloc_live: the IOMMU core's own checker of the guarantee
# this series makes (CONFIG_IOMMU_DEBUG_PAGEALLOC: no page may reach or
# leave the page allocator while an IOMMU domain maps it) is running, and
# sees a violation.  tools/vm puts iommu.debug_pagealloc=1 on the command
# line in every translating mode of a kernel built with it; then the
# checker must have announced itself, and lz4-dmatest's test-only trigger
# (debugfs leak_mapped_page) frees a page that its device still maps, on
# purpose, between two "expected report" marker lines: the checker's
# report must be between them.  Any other report of it fails dmesg_clean.
# Without the parameter (no translation, or a kernel without the checker,
# such as the 6.12 backport) the case is skipped, saying why; the host
# allows that skip only in such a boot (pagealloc_needs).

pagealloc_cases() {
	echo iommu_debug_pagealloc_live
}

pagealloc_needs() {
	echo iommu_debug_pagealloc_live translate CONFIG_IOMMU_DEBUG_PAGEALLOC
}

pagealloc_run() {
	local trig before after n
	if ! cmdline_has iommu.debug_pagealloc=1; then
		if [ "${MODE_TRANSLATES:-0}" = 1 ]; then
			result skip iommu_debug_pagealloc_live \
				"no iommu.debug_pagealloc=1: the kernel has no CONFIG_IOMMU_DEBUG_PAGEALLOC"
		else
			result skip iommu_debug_pagealloc_live \
				"no iommu.debug_pagealloc=1: mode ${MODE:-?} does not translate"
		fi
		return
	fi
	if ! dmesg | grep -q 'iommu: Debugging page allocations'; then
		result 1 iommu_debug_pagealloc_live "iommu.debug_pagealloc=1, but the checker did not announce itself"
		return
	fi
	trig=${SGR_LEAK_TRIGGER:-/sys/kernel/debug/lz4_dmatest/$TESTDEV/leak_mapped_page}
	if [ ! -e "$trig" ]; then
		result 1 iommu_debug_pagealloc_live "no lz4_dmatest leak_mapped_page trigger (is lz4-dmatest bound to $TESTDEV?)"
		return
	fi
	before=$(dmesg | grep -c 'iommu: Detected page leak!')
	if ! echo 1 >"$trig" 2>/dev/null; then
		result 1 iommu_debug_pagealloc_live "writing $trig failed: the device's DMA is not translated?"
		return
	fi
	after=$(dmesg | grep -c 'iommu: Detected page leak!')
	n=$(dmesg_expected | grep -c 'iommu: Detected page leak!')
	diag "pagealloc: page leak reports: $before before the trigger, $after after, $n bracketed"
	if [ "$after" -le "$before" ]; then
		result 1 iommu_debug_pagealloc_live "the checker did not report the page freed while mapped"
	elif [ "$n" -lt 1 ]; then
		result 1 iommu_debug_pagealloc_live "the report is not between the trigger's marker lines"
	else
		dmesg_expected | grep -A3 'iommu: Detected page leak!' | head -n 4 | diag_lines "expected report: "
		result 0 iommu_debug_pagealloc_live
	fi
}
