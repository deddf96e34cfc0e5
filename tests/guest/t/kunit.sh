# shellcheck shell=sh
# shellcheck disable=SC3043 # local: dash and busybox ash, the two shells that run this, have it
#
# kunit_rerun_<suite>: the KUnit suites of sgr.kunit_rerun run again
# through debugfs ("run") once edu is bound to a driver: with virtio-iommu
# an endpoint has no IOMMU group until a driver binds, so a suite's IOMMU
# cases can only run there after boot.  Each suite's debugfs results are a
# KTAP document with one subtest, the suite: it is nested under the case
# kunit_rerun_<suite>, whose own result line closes it.

kunit_cases() {
	local s
	for s in $KUNIT_RERUN; do
		echo "kunit_rerun_$s"
	done
}

kunit_run() {
	local s dir res last
	[ -n "$KUNIT_RERUN" ] || return 0
	bind_edu
	for s in $KUNIT_RERUN; do
		dir=/sys/kernel/debug/kunit/$s
		if [ ! -e "$dir/run" ]; then
			result 1 "kunit_rerun_$s" "no KUnit suite $s in this kernel"
			continue
		fi
		echo run >"$dir/run"
		res=$(cat "$dir/results")
		subtest_begin "kunit_rerun_$s" 1
		# Without the document's own "KTAP version 1" and "1..1": the
		# suite (its header, cases and result line) is the one subtest.
		printf '%s\n' "$res" |
			awk 'NR <= 2 && (/^KTAP version / || /^1\.\.[0-9]+$/) { next } { print }' |
			nested_lines
		last=$(printf '%s\n' "$res" | tail -n 1)
		case $last in
		"ok "*) subtest_end 0 ;;
		*) subtest_end 1 "the suite reported: ${last:-nothing}" ;;
		esac
	done
}
