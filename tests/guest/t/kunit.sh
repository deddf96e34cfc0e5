# shellcheck shell=sh
# shellcheck disable=SC3043 # local: dash and busybox ash, the two shells that run this, have it
#
# kunit_rerun_<suite>: the KUnit suites of sgr.kunit_rerun run again
# through debugfs ("run") once edu is bound to a driver: with virtio-iommu
# an endpoint has no IOMMU group until a driver binds, so a suite's IOMMU
# cases can only run there after boot.  Each suite's debugfs results are a
# KTAP document with one subtest, the suite: it is nested under the case
# kunit_rerun_<suite>, whose own result line closes it.
#
# A rerun must run: a failed write to "run" fails the case (the results
# file would still hold the boot's run), and where the test device's domain
# translates, at least one of the suite's cases must not skip (a rerun
# that did not run would read the boot's results, which were skips in
# virtio-iommu before the suite drove its own edu).  The host allows the
# nested skips only where the mode does not translate (kunit_needs).
# How many of a rerun's cases did not skip is a record, "# SGR METRIC
# kunit_rerun_<suite>_ran=N" (the dialect: the top of lib.sh).

kunit_cases() {
	local s
	for s in $KUNIT_RERUN; do
		echo "kunit_rerun_$s"
	done
}

kunit_needs() {
	local s
	for s in $KUNIT_RERUN; do
		echo "kunit_rerun_$s translate"
	done
}

kunit_run() {
	local s dir res last ran key
	[ -n "$KUNIT_RERUN" ] || return 0
	bind_edu
	for s in $KUNIT_RERUN; do
		dir=/sys/kernel/debug/kunit/$s
		if [ ! -e "$dir/run" ]; then
			result 1 "kunit_rerun_$s" "no KUnit suite $s in this kernel"
			continue
		fi
		if ! { echo run >"$dir/run"; } 2>/dev/null; then
			result 1 "kunit_rerun_$s" "writing 'run' to $dir/run failed: the suite did not run again"
			continue
		fi
		res=$(cat "$dir/results")
		# Case lines (nested: indented) that did not skip.
		ran=$(printf '%s\n' "$res" | grep -E '^[[:space:]]+(not )?ok [0-9]+ ' | grep -vc '# SKIP')
		subtest_begin "kunit_rerun_$s" 1
		# Without the document's own "KTAP version 1" and "1..1": the
		# suite (its header, cases and result line) is the one subtest.
		printf '%s\n' "$res" |
			awk 'NR <= 2 && (/^KTAP version / || /^1\.\.[0-9]+$/) { next } { print }' |
			nested_lines
		last=$(printf '%s\n' "$res" | tail -n 1)
		diag "rerun of $s: $ran case(s) ran (not skipped)"
		# A record's key is of [a-z_0-9]: so is every suite name of the
		# series, but KUnit allows others.
		key=$(printf '%s' "$s" | tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9_' '_')
		record METRIC "kunit_rerun_${key}_ran=$ran"
		case $last in
		"ok "*)
			if [ "${MODE_TRANSLATES:-0}" = 1 ] && [ "$ran" = 0 ]; then
				subtest_end 1 "every case of $s skipped, though mode $MODE translates: the rerun did not run"
			else
				subtest_end 0
			fi ;;
		*) subtest_end 1 "the suite reported: ${last:-nothing}" ;;
		esac
	done
}
