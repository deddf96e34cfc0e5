# shellcheck shell=sh
# shellcheck disable=SC3043 # local: dash and busybox ash, the two shells that run this, have it
#
# iotlb_counts: what the emulated IOMMU sees of zswap's traffic, marking on
# and off, and (where the test module has its bounce switch) the module's
# output bounced through its own buffer, in one boot.  The guest only reports; the host counts QEMU's
# trace events per phase (tools/vm --trace auto, tools/iotlb.py).
#
# The phases are marked twice:
#   - in order with QEMU's trace, by writes into PCI configuration space
#     of the spare device 00:13.0 that QEMU traces as pci_cfg_write
#     (tests/guest/sgr_mark.c has the encoding): the domain id of the test
#     device once (VT-d, when CONFIG_INTEL_IOMMU_DEBUGFS shows it), then
#     per phase "begin PHASE" and "end PHASE", and before "end on" the
#     IOVAs the cache served (tools/iotlb.py reads them there only);
#   - for humans, as diagnostic lines:
#       # iotlb-domain N               the test device's VT-d domain id
#       # iotlb-phase PHASE begin|end  with 1 s of quiet inside each phase
#       # iotlb-iova PHASE 0x...       the buffer IOVAs the cache served
# and the lz4-dmatest requests of each phase, which the host divides the
# phase's IOMMU events by, as a record (the dialect: the top of lib.sh):
#       # SGR IOTLB phase=PHASE requests=N
# A marker that cannot be written fails the case.  Only strict domains
# (MODE_STRICT, type DMA): lazy ones batch their invalidations.

VTD_TRANSLATION=/sys/kernel/debug/iommu/intel/dmar_translation_struct

iotlb_cases() {
	echo iotlb_counts
}

iotlb_needs() {
	echo iotlb_counts strict CONFIG_DMA_REUSE_LZ4_TEST
}

iotlb_run() {
	local f iovas ph val r0 r1 rc c did before left mib="$IOTLB_MIB" why=""
	# memory.max is 3/4 of the region, in whole MiB.
	[ "$mib" -ge 4 ] 2>/dev/null || mib=4
	f=$(lz4dt_stats)
	iovas=$LZ4DT_DBG/served_iovas
	if [ "${MODE_STRICT:-0}" != 1 ]; then
		result skip iotlb_counts "mode $MODE is not strict (group type '${MODE_TYPE:-}', not DMA)"
		return
	elif [ ! -d "$LZ4DT" ]; then
		result skip iotlb_counts "lz4-dmatest is not built in"
		return
	elif ! lz4dt_bound; then
		result 1 iotlb_counts "lz4-dmatest is built in but did not bind $TESTDEV"
		return
	elif [ ! -e "$DMA_REUSE_SWITCH" ] || [ ! -e "$iovas" ]; then
		result 1 iotlb_counts "lz4-dmatest is bound, but there is no $DMA_REUSE_SWITCH or served_iovas"
		return
	fi
	# The zswap test normally ran before and left swap on.
	if ! setup_swap; then
		result 1 iotlb_counts "swap setup failed"
		return
	fi
	if ! set_compressor lz4-dmatest; then
		result 1 iotlb_counts "zswap refused compressor lz4-dmatest"
		return
	fi
	# Steady state: every CPU's buffer is cached before the "on" phase.
	# The stress's own KTAP goes to a file: its counters are not the
	# zswap test's, and one result line stands for the whole test.
	echo Y >"$DMA_REUSE_SWITCH"
	for c in $(seq 0 $(($(ncpus) - 1))); do
		# shellcheck disable=SC2034 # read by stress (lib.sh)
		STRESS_PREFIX="taskset -c $c"
		stress "iotlb_warm$c" 4 $((10 + c)) 1 3>/tmp/iotlb_warm.out ||
			why="warm-up stress on CPU $c failed"
		# shellcheck disable=SC2034 # read by stress (lib.sh)
		STRESS_PREFIX=
	done
	MARK_WHY=
	if [ -z "$why" ]; then
		if [ -e "$VTD_TRANSLATION" ]; then
			if did=$(vtd_domain_id "$VTD_TRANSLATION" "$TESTDEV"); then
				diag "iotlb-domain $did"
				mark domain "$did" || why=$MARK_WHY
			else
				diag "iotlb-domain: no context entry for $TESTDEV in $VTD_TRANSLATION"
			fi
		else
			diag "iotlb-domain: no $VTD_TRANSLATION (CONFIG_INTEL_IOMMU_DEBUGFS), no domain marker"
		fi
	fi
	# bounce: the marking off, the test module's output through its own
	# buffer mapped once (the driver-owned alternative), if it has one.
	local phases="on off"
	[ -e "$LZ4DT_DBG/bounce" ] && phases="on off bounce"
	for ph in $phases; do
		[ -z "$why" ] || break
		case $ph in on) val=Y ;; *) val=N ;; esac
		if [ "$ph" = bounce ] && ! echo Y >"$LZ4DT_DBG/bounce"; then
			why="cannot set $LZ4DT_DBG/bounce"
			break
		fi
		[ "$ph" = off ] && before=$(counter "$(cache_stats)" entries)
		echo $val >"$DMA_REUSE_SWITCH"
		# dma_reuse.enabled=N unmaps every cached buffer (every CPU's
		# and pool's) before the write returns, not when each is next
		# used (v1 left the buffers of idle CPUs and retired pools
		# mapped).
		if [ "$ph" = off ]; then
			left=$(counter "$(cache_stats)" entries)
			diag "dma_reuse.enabled=N: cached mappings $before, then $left"
			if [ "$before" = 0 ]; then
				why="nothing was cached before dma_reuse.enabled=N"
			elif [ "$left" != 0 ]; then
				why="$left mappings left once dma_reuse.enabled=N returned"
			fi
			[ -z "$why" ] || break
		fi
		diag "iotlb-phase $ph begin"
		if ! mark begin "$ph"; then
			why=$MARK_WHY
			break
		fi
		sleep 1
		r0=$(counter "$f" requests)
		stress "iotlb_$ph" "$mib" 3 1 3>"/tmp/iotlb_$ph.out"
		rc=$?
		[ $rc = 0 ] || grep -e 'not ok' -e error "/tmp/iotlb_$ph.out" |
			head -n 5 | sed 's/^ *//' | diag_lines "iotlb-stress $ph: "
		sleep 1
		r1=$(counter "$f" requests)
		record IOTLB "phase=$ph" "requests=$((r1 - r0))"
		diag_lines "iotlb-iova $ph " <"$iovas"
		# The host takes the served IOVAs from the on phase: the cache
		# serves nothing with the marking off, and the list only grows.
		[ "$ph" = on ] && iotlb_mark_iovas <"$iovas"
		[ "$ph" = bounce ] && echo N >"$LZ4DT_DBG/bounce"
		mark end "$ph"
		diag "iotlb-phase $ph end"
		if [ -n "$MARK_WHY" ]; then
			why=$MARK_WHY
		elif [ $rc != 0 ]; then
			why="zswap_stress exited $rc in phase $ph"
		elif [ $((r1 - r0)) -le 0 ]; then
			why="no lz4-dmatest request in phase $ph"
		fi
	done
	echo Y >"$DMA_REUSE_SWITCH"
	if [ -z "$why" ] && ! engine_clean; then
		why=$FAIL_WHY
	fi
	if [ -z "$why" ]; then
		result 0 iotlb_counts
	else
		result 1 iotlb_counts "$why"
	fi
}

# iotlb_mark_iovas: a marker for every IOVA on stdin (one a line); stops
# at the first that fails (MARK_WHY).
iotlb_mark_iovas() {
	local a
	while read -r a; do
		[ -n "$a" ] || continue
		mark iova "$a" || return 1
	done
}
