# shellcheck shell=sh
# shellcheck disable=SC3043 # local: dash and busybox ash, the two shells that run this, have it
#
# dmesg_clean: no IOMMU fault, DMA-API debug error, WARNING:, BUG: or
# lockdep report (tests/dmesg-patterns, /etc/dmesg-patterns here).  One
# report is expected: the KUnit case dma_reuse_test_misuse_free frees a
# marked page without stopping it, CONFIG_DMA_REUSE_CACHE_DEBUG reports it
# naming the marking function, and the case brackets the report with two
# marker lines; it must be there, and the check skips it.

dmesg_cases() {
	echo dmesg_clean
}

dmesg_run() {
	local bad expected
	# The misuse case ran: its report must be there and name the marker.
	if dmesg | grep -q 'dma-reuse-kunit: expected report begins'; then
		expected=$(dmesg_expected)
		if ! printf '%s\n' "$expected" |
			grep -q 'ODEBUG: free active.*object type: dma_reuse_buffer hint: misuse_mark'; then
			printf '%s\n' "$expected" | head -n 20 | diag_lines "expected report: "
			result 1 dmesg_clean "the misuse report does not name the marking function"
			return
		fi
		diag "dmesg: the KUnit misuse case's report is there and names misuse_mark"
	fi
	bad=$(dmesg_unexpected | grep -E -f "$DMESG_PATTERNS" |
		grep -v -e 'DMA-API: preallocated' -e 'DMA-API: debugging enabled')
	if [ -n "$bad" ]; then
		printf '%s\n' "$bad" | head -n 20 | diag_lines "dmesg: "
		result 1 dmesg_clean "$(printf '%s\n' "$bad" | wc -l) bad line(s) in dmesg"
	else
		result 0 dmesg_clean
	fi
}
