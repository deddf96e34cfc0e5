# shellcheck shell=sh
# shellcheck disable=SC3043 # local: dash and busybox ash, the two shells that run this, have it
#
# iommu_mode_proof: the boot is in the IOMMU mode it was asked for.  The
# dmesg line of the mode (MODE_PROOF, a leading '!': must not match), and
# the domain type of the edu device once a driver is bound (MODE_TYPE:
# DMA, DMA-FQ, identity, or none for no IOMMU group).

proof_cases() {
	echo iommu_mode_proof
	echo dma_reuse_switch
}

proof_needs() {
	echo dma_reuse_switch CONFIG_DMA_REUSE_CACHE
}

proof_run() {
	proof_mode
	proof_switch
}

# dma_reuse_switch: dma_reuse.enabled reads what the command line asked
# for (on by default).  The command line's value is parsed with interrupts
# off and only stored then; a setter that did more would warn (lockdep,
# "interrupts were enabled early"), which the dmesg test fails.
proof_switch() {
	local want got
	want=$(sgr_cmdline | awk -v k=dma_reuse.enabled= '{
		for (i = 1; i <= NF; i++)
			if (index($i, k) == 1) v = substr($i, length(k) + 1)
		} END { print v == "" ? "Y" : v }')
	case $want in
	0|n|N|off) want=N ;;
	*) want=Y ;;
	esac
	if [ ! -e "$DMA_REUSE_SWITCH" ]; then
		result skip dma_reuse_switch "no $DMA_REUSE_SWITCH (no CONFIG_DMA_REUSE_CACHE)"
		return
	fi
	got=$(cat "$DMA_REUSE_SWITCH")
	diag "dma_reuse.enabled: $got (the command line asks for $want)"
	if [ "$got" = "$want" ]; then
		result 0 dma_reuse_switch
	else
		result 1 dma_reuse_switch "dma_reuse.enabled reads $got, the command line asked for $want"
	fi
}

proof_mode() {
	local want proof got line groups rx
	want=${MODE_TYPE:-}
	proof=${MODE_PROOF:-}
	if [ -z "$want" ]; then
		result 1 iommu_mode_proof "mode $MODE is not in the mode table (/etc/sgr-modes.sh)"
		return
	fi
	rx=${proof#!}
	# grep exits 2 on a bad regex: that is a broken table, not a proof.
	line=$(dmesg | grep -E -m1 -e "$rx")
	if [ $? -gt 1 ]; then
		result 1 iommu_mode_proof "bad proof regex '$rx'"
		return
	fi
	case $proof in
	'!'*)
		if [ -n "$line" ]; then
			result 1 iommu_mode_proof "dmesg must not match '$rx' but has: $line"
			return
		fi
		diag "proof: dmesg has no line matching '$rx'" ;;
	*)
		if [ -z "$line" ]; then
			result 1 iommu_mode_proof "no dmesg line matches '$rx'"
			return
		fi
		diag "proof: $line" ;;
	esac
	if ! bind_edu; then
		result 1 iommu_mode_proof "cannot bind dma_map_benchmark to the edu device $EDU"
		return
	fi
	got=none
	[ -e "/sys/bus/pci/devices/$EDU/iommu_group" ] &&
		got=$(cat "/sys/bus/pci/devices/$EDU/iommu_group/type")
	groups=$(find /sys/kernel/iommu_groups -mindepth 1 -maxdepth 1 | wc -l)
	diag "edu $EDU: iommu group type $got (want $want); $groups iommu groups"
	if [ "$got" != "$want" ]; then
		result 1 iommu_mode_proof "edu is in a '$got' domain, mode $MODE wants '$want'"
	elif [ "$want" != none ] && [ "$groups" -eq 0 ]; then
		result 1 iommu_mode_proof "no IOMMU groups"
	else
		result 0 iommu_mode_proof
	fi
}
