# shellcheck shell=sh
# shellcheck disable=SC3043 # local: dash and busybox ash, the two shells that run this, have it
#
# zswap on the test module lz4-dmatest, seven cases:
#   zswap_dma_driver         lz4-dmatest bound, self-tested, zswap's compressor
#   zswap_stress_under_fire  zswap_stress (C) while CPUs go offline/online
#                            and the compressor is switched away and back
#   zswap_teardown           switch away: the cache empties; unbind: no
#                            cached IOVA still translates; bind again
#   zswap_unbind_live_tfm    unbind while zswap's pool holds its tfm: the
#                            device's cache goes, the tfm's requests run
#                            on the CPU ("orphaned"), zswap keeps every
#                            page (the stress reads them back)
#   zswap_lz4_is_software    with the device unbound, "lz4" is only the
#                            software lz4, and a zswap pool of "lz4"
#                            works without a request reaching the module;
#                            bind again, new pool
#   zswap_stress_rebound     more traffic on the rebound device, then the
#                            cache's verdict (hit rate, misses; or nothing
#                            served where the mode does not translate)
#   zswap_bounce             the module's bounce switch: the output goes
#                            through its own buffer mapped once, copied out
#                            (the alternative to the cache); every page
#                            verified, the bytes copied recorded
# The two stress cases nest zswap_stress's own KTAP document (named like
# the case, --name): the program's leaves are the data checks, the
# parent's result line is this shell's verdict on the rest.  Without the
# test driver (the options-off build) the stress runs on software lz4 and
# the DMA cases skip; the host allows that skip only where the kernel's
# .config has no CONFIG_DMA_REUSE_LZ4_TEST (zswap_needs).  A driver
# that is built in but did not bind fails here already.  The numbers the
# host reads (the fire's events, the cache's and the teardown's counters)
# are METRIC records, zswap_stress's are STRESS records: the dialect and
# its keys are at the top of lib.sh.

zswap_cases() {
	echo zswap_dma_driver
	echo zswap_stress_under_fire
	echo zswap_teardown
	echo zswap_unbind_live_tfm
	echo zswap_lz4_is_software
	echo zswap_stress_rebound
	echo zswap_bounce
}

zswap_needs() {
	local t
	for t in zswap_dma_driver zswap_teardown zswap_unbind_live_tfm \
		zswap_lz4_is_software zswap_stress_rebound zswap_bounce; do
		echo "$t CONFIG_DMA_REUSE_LZ4_TEST"
	done
}

zswap_run() {
	local t rc why="lz4-dmatest is not built in"
	if ! setup_swap; then
		for t in $(zswap_cases); do
			result 1 "$t" "swap setup failed"
		done
		return
	fi
	if ! lz4dt_bound; then
		# Built in (its driver registered) but not bound: a failure.
		[ ! -d "$LZ4DT" ] || why="lz4-dmatest is built in but did not bind $TESTDEV"
		if [ -d "$LZ4DT" ]; then
			result 1 zswap_dma_driver "$why"
		else
			result skip zswap_dma_driver "$why"
		fi
		stress zswap_stress_under_fire "$ZSWAP_MIB" 1
		rc=$?
		if [ $rc = 0 ]; then
			result 0 zswap_stress_under_fire
		else
			result 1 zswap_stress_under_fire "zswap_stress exited $rc"
		fi
		for t in zswap_teardown zswap_unbind_live_tfm zswap_lz4_is_software \
			zswap_stress_rebound zswap_bounce; do
			if [ -d "$LZ4DT" ]; then
				result 1 "$t" "$why"
			else
				result skip "$t" "$why"
			fi
		done
		return
	fi
	zswap_driver
	zswap_under_fire
	zswap_teardown
	zswap_unbind_live
	zswap_rebound
	zswap_bounce
}

# 1. The test driver: bound, self-tested, zswap's compressor.
zswap_driver() {
	diag "lz4-dmatest-pci refcnt before zswap uses it: $(lz4dt_refcnt)"
	if [ "$(lz4dt_selftest)" != passed ]; then
		result 1 zswap_dma_driver "lz4-dmatest self-test: '$(lz4dt_selftest)'"
	elif ! set_compressor lz4-dmatest; then
		result 1 zswap_dma_driver "zswap refused compressor lz4-dmatest"
	else
		diag "zswap: compressor lz4-dmatest, dma_reuse.enabled $(cat "$DMA_REUSE_SWITCH")"
		result 0 zswap_dma_driver
	fi
}

# 2. Stress under fire.
zswap_under_fire() {
	local ev rc hot sw bad
	FAIL_WHY=
	rm -f /tmp/fire.rc
	(stress zswap_stress_under_fire "$ZSWAP_MIB" 1; echo $? >/tmp/fire.rc.new &&
		mv /tmp/fire.rc.new /tmp/fire.rc) &
	ev=$(fire /tmp/fire.rc)
	wait
	rc=$(cat /tmp/fire.rc)
	# shellcheck disable=SC2086 # the three numbers fire printed, split
	set -- $ev
	hot=$1 sw=$2 bad=$3
	diag "under fire: $hot CPU offline/online cycles, $sw compressor switches, $bad failed"
	record METRIC "fire_hotplug=$hot" "fire_switch=$sw"
	[ -e "$(cache_stats)" ] && diag "cache: $(oneline "$(cache_stats)")"
	if [ "$rc" != 0 ]; then
		FAIL_WHY="zswap_stress exited $rc"
	elif [ "$bad" != 0 ]; then
		FAIL_WHY="$bad hotplug or compressor switch operations failed"
	elif [ "$FIRE" != none ] && [ $((hot + sw)) = 0 ]; then
		FAIL_WHY="no teardown ran during the stress"
	else
		engine_clean
	fi
	verdict zswap_stress_under_fire
}

# 3. Teardown: switch away (the pool and its buffers go), the cache must
# be empty; unbind (the flush), the old addresses must not translate;
# bind again.
zswap_teardown() {
	local f chk tr
	FAIL_WHY=
	set_compressor lz4-scomp || FAIL_WHY="cannot switch zswap to lz4-scomp"
	# The old pool goes when its last entry does; the stress freed them all.
	# It must be gone before the unbind: the switch back below would
	# otherwise bring it back with tfms of the old binding.
	[ -n "$FAIL_WHY" ] || wait_no_dmatest_pool
	f=$(cache_stats)
	if [ -z "$FAIL_WHY" ] && cache_expected; then
		diag "cache after the switch: $(oneline "$f")"
		[ "$(counter "$f" entries)" = 0 ] && [ "$(counter "$f" pinned_pages)" = 0 ] ||
			FAIL_WHY="the cache still holds $(counter "$f" entries) mappings after the pool switch"
		record METRIC "teardown_stop=$(counter "$f" teardown_stop)"
		[ -z "$FAIL_WHY" ] && [ "$(counter "$f" teardown_stop)" = 0 ] &&
			FAIL_WHY="no teardown_stop counted: the pool's buffers were not stopped"
	fi
	if [ -z "$FAIL_WHY" ]; then
		echo "$TESTDEV" >"$LZ4DT/unbind" || FAIL_WHY="unbind failed"
	fi
	if [ -z "$FAIL_WHY" ]; then
		chk=$LZ4DT_ROOT_DBG/remove_check
		diag "remove: $(oneline "$chk")"
		record METRIC "remove_checked=$(counter "$chk" checked)"
		tr=$(counter "$chk" translating)
		if [ "$tr" != 0 ]; then
			FAIL_WHY="$tr cached DMA addresses still translate after the unbind"
		elif cache_expected && [ "$(counter "$chk" checked)" = 0 ]; then
			FAIL_WHY="no cached DMA address was recorded to check"
		elif ! cache_gone; then
			FAIL_WHY="the device cache outlived the unbind by ${SGR_CACHE_WAIT:-10}s"
		fi
	fi
	if [ -z "$FAIL_WHY" ]; then
		echo "$TESTDEV" >"$LZ4DT/bind" || FAIL_WHY="rebind failed"
	fi
	if [ -z "$FAIL_WHY" ]; then
		if [ "$(lz4dt_selftest)" != passed ]; then
			FAIL_WHY="after the rebind, lz4-dmatest self-test: '$(lz4dt_selftest)'"
		elif ! set_compressor lz4-dmatest; then
			FAIL_WHY="zswap refused lz4-dmatest after the rebind"
		fi
	fi
	verdict zswap_teardown
}

# 4. Unbind under a live tfm: zswap's current pool keeps the lz4-dmatest
# tfm it made on the device while the device goes.  The unbind must drop
# the device's cache as before; the tfm's later requests must not reach
# the device: the module runs them on its software fallback and counts
# them in "orphaned", and the stress, which reads every page back, must
# pass.  Unlike hisi_zip, whose remove waits for the last tfm, the unbind
# does not wait (the module's commit message says why).
# Then, still unbound, zswap_lz4_is_software: "lz4" must be the software
# lz4-scomp alone, and a zswap pool of "lz4" must work without a request
# reaching the module.  Then bind again; the old tfm stays without a
# device, so zswap must get a new pool on the new binding: wait until the
# old pool is destroyed (its tfms released), and only then switch back,
# or zswap resurrects it (see wait_no_dmatest_pool) and
# zswap_stress_rebound runs on a tfm that never reaches the device.
zswap_unbind_live() {
	local rc orph0 orph
	FAIL_WHY=
	if [ "$(cat "$ZP/compressor")" != lz4-dmatest ] || ! lz4dt_bound; then
		FAIL_WHY="no live lz4-dmatest pool to unbind under"
	fi
	orph0=$(cat "$LZ4DT_ROOT_DBG/orphaned" 2>/dev/null)
	if [ -z "$FAIL_WHY" ] && [ -z "$orph0" ]; then
		FAIL_WHY="$LZ4DT_ROOT_DBG/orphaned is missing"
	fi
	if [ -z "$FAIL_WHY" ]; then
		echo "$TESTDEV" >"$LZ4DT/unbind" || FAIL_WHY="unbind failed"
	fi
	if [ -z "$FAIL_WHY" ]; then
		if ! cache_gone; then
			FAIL_WHY="the device cache outlived the unbind by ${SGR_CACHE_WAIT:-10}s"
		elif [ "$(cat "$ZP/compressor")" != lz4-dmatest ]; then
			FAIL_WHY="zswap's compressor changed at the unbind: $(cat "$ZP/compressor")"
		fi
	fi
	if [ -z "$FAIL_WHY" ]; then
		stress zswap_unbind_live_tfm "$ZSWAP_MIB3" 3 1
		rc=$?
		orph=$(($(cat "$LZ4DT_ROOT_DBG/orphaned") - orph0))
		diag "unbound: $orph requests of the device's tfm ran on the CPU"
		record METRIC "unbound_orphaned=$orph"
		if [ $rc != 0 ]; then
			FAIL_WHY="zswap_stress exited $rc with the device unbound"
		elif [ "$orph" -le 0 ]; then
			FAIL_WHY="no request reached the tfm of the unbound device"
		fi
	fi
	verdict zswap_unbind_live_tfm
	zswap_lz4_software
	# Restore what the next case needs, whatever happened above.
	FAIL_WHY=
	lz4dt_bound || echo "$TESTDEV" >"$LZ4DT/bind" || FAIL_WHY="rebind failed"
	if [ -z "$FAIL_WHY" ] && [ "$(lz4dt_selftest)" != passed ]; then
		FAIL_WHY="after the rebind, lz4-dmatest self-test: '$(lz4dt_selftest)'"
	fi
	if ! set_compressor lz4-scomp; then
		FAIL_WHY=${FAIL_WHY:-"cannot switch zswap to lz4-scomp after the rebind"}
	elif wait_no_dmatest_pool && ! set_compressor lz4-dmatest; then
		FAIL_WHY=${FAIL_WHY:-"zswap refused a new lz4-dmatest pool after the rebind"}
	fi
	[ -z "$FAIL_WHY" ] || diag "rebind: $FAIL_WHY"
	REBIND_WHY=$FAIL_WHY
}

# 4b. With the device unbound: "lz4" is software only, and works.
zswap_lz4_software() {
	local rc drv req0 orph0 f
	FAIL_WHY=
	drv=$(lz4_drivers)
	diag "unbound: \"lz4\" is: $drv"
	f=$(lz4dt_stats)
	req0=$(counter "$f" requests)
	orph0=$(cat "$LZ4DT_ROOT_DBG/orphaned" 2>/dev/null)
	# The software lz4 alone (6.12 also lists its old-style cipher,
	# lz4-generic): nothing of the test module.
	case " $drv" in
	*dmatest*) FAIL_WHY="the test module registered as \"lz4\": $drv" ;;
	*" lz4-scomp "*) ;;
	*) FAIL_WHY="no lz4-scomp among the algorithms \"lz4\": $drv" ;;
	esac
	if [ -n "$FAIL_WHY" ]; then
		:
	elif ! set_compressor lz4; then
		FAIL_WHY="zswap refused compressor lz4 with the test device unbound"
	fi
	if [ -z "$FAIL_WHY" ]; then
		stress zswap_lz4_is_software "$ZSWAP_MIB3" 5 1
		rc=$?
		if [ $rc != 0 ]; then
			FAIL_WHY="zswap_stress exited $rc on \"lz4\""
		elif [ "$(counter "$f" requests)" != "$req0" ] ||
			[ "$(cat "$LZ4DT_ROOT_DBG/orphaned")" != "$orph0" ]; then
			FAIL_WHY="requests of \"lz4\" reached the test module"
		fi
	fi
	verdict zswap_lz4_is_software
}

# 5. A quiet stress on the rebound device: the cache's verdict.
zswap_rebound() {
	local rc f served reusable hits misses ncpu ref0 ref
	FAIL_WHY=${REBIND_WHY:-}
	ref0=$(cat "$LZ4DT_ROOT_DBG/orphaned" 2>/dev/null || echo 0)
	stress zswap_stress_rebound "$ZSWAP_MIB2" 2
	rc=$?
	ref=$(($(cat "$LZ4DT_ROOT_DBG/orphaned" 2>/dev/null || echo 0) - ref0))
	record METRIC "rebound_orphaned=$ref"
	f=$(lz4dt_stats)
	reusable=$(counter "$f" reusable)
	served=$(counter "$f" served)
	ncpu=$(ncpus)
	if [ -n "$FAIL_WHY" ]; then
		:
	elif [ "$ref" != 0 ]; then
		FAIL_WHY="$ref requests ran on the CPU: zswap's pool has a tfm of the unbound device"
		[ $rc = 0 ] || FAIL_WHY="$FAIL_WHY (zswap_stress exited $rc)"
	elif [ $rc != 0 ]; then
		FAIL_WHY="zswap_stress exited $rc"
	elif ! engine_clean; then
		:
	elif [ "$reusable" = 0 ]; then
		FAIL_WHY="zswap marked no request reusable"
	elif cache_expected; then
		hits=$(counter "$(cache_stats)" hits)
		misses=$(counter "$(cache_stats)" misses)
		diag "cache: $hits hits, $misses misses for $reusable marked lists" \
			"($served served); hit rate $((hits * 1000 / reusable / 10)).$((hits * 1000 / reusable % 10))%"
		diag "cache: $(oneline "$(cache_stats)")"
		record METRIC "cache_marked=$reusable" "cache_hits=$hits" "cache_misses=$misses"
		if [ $((hits * 100)) -lt $((reusable * 99)) ]; then
			FAIL_WHY="hits $hits are under 99% of the $reusable marked lists"
		elif [ "$misses" -gt $((ncpu * 4)) ]; then
			FAIL_WHY="$misses misses for $ncpu CPUs"
		fi
	else
		diag "no cache expected: $served served, $reusable marked lists"
		record METRIC "cache_marked=$reusable" "cache_hits=$served"
		if [ "$served" != 0 ]; then
			FAIL_WHY="$served lists served from a cache in mode $MODE"
		elif [ -e "$(cache_dir)" ]; then
			FAIL_WHY="a device cache exists in mode $MODE"
		fi
	fi
	verdict zswap_stress_rebound
}

# 6. The bounce switch: the module writes its output to a buffer of its
# own, mapped once at probe, and copies out only the bytes produced; the
# destination is never mapped.  Every page must read back; the bytes
# copied per request are zswap's compressed sizes (recorded for the
# report).
zswap_bounce() {
	local rc f br0 bb0 br bb per sw="$LZ4DT_DBG/bounce"
	FAIL_WHY=
	f=$(lz4dt_stats)
	if [ ! -e "$sw" ]; then
		FAIL_WHY="no bounce switch $sw"
	elif ! echo 1 >"$sw"; then
		FAIL_WHY="cannot set $sw"
	fi
	if [ -z "$FAIL_WHY" ]; then
		br0=$(counter "$f" bounce_requests)
		bb0=$(counter "$f" bounce_bytes)
		stress zswap_bounce "$ZSWAP_MIB3" 7 1
		rc=$?
		echo 0 >"$sw" || FAIL_WHY="cannot clear $sw"
		br=$(($(counter "$f" bounce_requests) - br0))
		bb=$(($(counter "$f" bounce_bytes) - bb0))
		per=0
		[ "$br" -le 0 ] || per=$((bb / br))
		diag "bounce: $br requests, $bb bytes copied out, $per per request"
		record METRIC "bounce_requests=$br" "bounce_bytes=$bb"
		if [ -n "$FAIL_WHY" ]; then
			:
		elif [ $rc != 0 ]; then
			FAIL_WHY="zswap_stress exited $rc with the bounce switch on"
		elif [ "$br" -le 0 ]; then
			FAIL_WHY="no request bounced its output"
		else
			engine_clean
		fi
	fi
	verdict zswap_bounce
}
