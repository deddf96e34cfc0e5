# shellcheck shell=sh
# shellcheck disable=SC3043 # local: dash and busybox ash, the two shells that run this, have it
#
# iommu_debug_pagealloc_live: the IOMMU core's own checker of the guarantee
# this series makes (CONFIG_IOMMU_DEBUG_PAGEALLOC: no page may reach or
# leave the page allocator while an IOMMU domain maps it) is running, and
# sees a violation.  tools/vm puts iommu.debug_pagealloc=1 on the command
# line in every translating mode of a kernel built with it; then the
# checker must have announced itself, and the checker's KUnit case
# (iommu_debug_pagealloc, patch "iommu: debug-pagealloc: add a KUnit test
# that frees a mapped page"), which ran at boot, must have freed a page
# that a device still mapped, on purpose, between two "expected report"
# marker lines, and the checker's report must be between them.  Any other
# report of it fails dmesg_clean.  The KUnit case's own verdict (the page
# counted while mapped, not after the unmap) reaches the host in the
# KTAP.  Without the parameter (no translation, or a kernel without the
# checker, such as the 6.12 backport) the case is skipped, saying why; the
# host allows that skip only in such a boot (pagealloc_needs).

pagealloc_cases() {
	echo iommu_debug_pagealloc_live
}

pagealloc_needs() {
	echo iommu_debug_pagealloc_live translate CONFIG_IOMMU_DEBUG_PAGEALLOC CONFIG_IOMMU_DEBUG_PAGEALLOC_KUNIT_TEST
}

pagealloc_run() {
	local before n
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
	n=$(dmesg | grep -c 'iommu_debug_test_leak: .*: expected report begins')
	if [ "$n" -lt 1 ]; then
		result 1 iommu_debug_pagealloc_live "the checker's KUnit case left no marker: is CONFIG_IOMMU_DEBUG_PAGEALLOC_KUNIT_TEST built in, and did it skip?"
		return
	fi
	before=$(dmesg | grep -c 'iommu: Detected page leak!')
	n=$(dmesg_expected | grep -c 'iommu: Detected page leak!')
	diag "pagealloc: page leak reports: $before in all, $n between the KUnit case's markers"
	if [ "$before" -lt 1 ]; then
		result 1 iommu_debug_pagealloc_live "the checker did not report the page freed while mapped"
	elif [ "$n" -lt 1 ]; then
		result 1 iommu_debug_pagealloc_live "the report is not between the KUnit case's marker lines"
	else
		dmesg_expected | grep -A3 'iommu: Detected page leak!' | head -n 4 | diag_lines "expected report: "
		result 0 iommu_debug_pagealloc_live
	fi
}
