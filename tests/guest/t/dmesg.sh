# shellcheck shell=sh
# shellcheck disable=SC3043 # local: dash and busybox ash, the two shells that run this, have it
#
# dmesg_clean: no IOMMU fault, DMA-API debug error, WARNING:, BUG: or
# lockdep report (tests/dmesg-patterns, /etc/dmesg-patterns here).  The
# reports a test provokes on purpose (an IOMMU fault after a teardown, the
# warning of a misused unmap) are bracketed by two marker lines, and the
# check skips them.

dmesg_cases() {
	echo dmesg_clean
}

dmesg_run() {
	local bad
	bad=$(dmesg_unexpected | grep -E -f "$DMESG_PATTERNS" |
		grep -v -e 'DMA-API: preallocated' -e 'DMA-API: debugging enabled')
	if [ -n "$bad" ]; then
		printf '%s\n' "$bad" | head -n 20 | diag_lines "dmesg: "
		result 1 dmesg_clean "$(printf '%s\n' "$bad" | wc -l) bad line(s) in dmesg"
	else
		result 0 dmesg_clean
	fi
}
