# shellcheck shell=sh
# shellcheck disable=SC3043 # local: dash and busybox ash, the two shells that run this, have it
# shellcheck disable=SC2034 # the variables set here are read by t/*.sh and /init
#
# The guest tests' library: sourced by /init (busybox ash, as
# /lib/sgr/lib.sh) and by tests/guest/plan on the host (dash).  POSIX sh
# plus "local".  Sourcing it defines variables and functions only; it
# touches nothing.
#
# A test is a file t/<test>.sh defining
#   <test>_cases   the names of the top-level KTAP cases it reports, one a
#                  line, in order; from the parameters alone, never from
#                  what happens at run time (tests/guest/plan prints them
#                  on the host, /init counts them for its plan)
#   <test>_run     reports exactly those cases, in that order (a case that
#                  cannot run is a SKIP or a failure; it never disappears)
# and, if any of its cases may skip, <test>_needs: one line per such case,
#                  "CASE NEED...", what the case needs to run.  The host
#                  (tools/expect.py) allows a case to skip only in a boot
#                  that lacks one of its needs, and fails any other skip:
#                    translate    the test device's domain translates
#                                 (tests/iommu-modes: type DMA or DMA-FQ)
#                    strict       ... and is strict (type DMA)
#                    CONFIG_FOO   the kernel's .config has CONFIG_FOO=y
#                    sgr.NAME     the parameter sgr.NAME is not set to 0
#                  A case with no line may never skip.
# The KTAP itself goes through tools/ktap.sh (/lib/sgr/ktap.sh), which
# /init sources and points at fd 3 (KTAP_FD=3, /dev/ttyS1).
#
# Records: every number the host reads from the guest is in a record, a
# KTAP diagnostic line at the current depth in one dialect,
#
#   # SGR KIND key=value key=value ...
#
# KIND an upper-case word, keys of [a-z_0-9], values without blanks (empty
# where a number is unknown).  Written by record and record_lines (below)
# and by tests/guest/zswap_stress.c; read on the host (tools/boot.py).
# Any other diagnostic line is prose for humans: no number is read from it.
# The kinds:
#
#   METRIC key=N ...       numbers of the boot (the host keeps the last
#                          value per key): fire_hotplug, fire_switch,
#                          teardown_stop, teardown_overlap, remove_checked,
#                          unbound_orphaned, rebound_orphaned, cache_marked,
#                          cache_hits, cache_misses, fallback_no_cache,
#                          bounce_requests, bounce_bytes (t/zswap.sh); swiotlb_used_hiwater
#                          (t/dmabench.sh); kunit_rerun_<suite>_ran, the
#                          rerun's cases that did not skip (t/kunit.sh)
#   STRESS name=NAME pass=N pages=N seed=N swapout_pages_per_s=N
#          zswap_stored_pages=N swapin_pages_per_s=N mismatches=N
#          zswpout=N zswpin=N pswpout=N pswpin=N
#          [vmstat_zswpout=N vmstat_zswpin=N] [zswpwb=N]
#                          one pass of zswap_stress (its --name), inside
#                          its nested document before the pass's cases:
#                          the pass's event counts (zswpout and zswpin the
#                          cgroup's with --cgroup, vmstat_* then the
#                          system's; zswpwb where the kernel counts it),
#                          zswap_stored_pages after the swap-out (-1:
#                          unreadable); none for a pass that failed setup
#   BENCH method=M KEY=V...
#                          one dma_map_benchmark run: the tool's RESULT
#                          line (t/bench.sh, t/steps.sh)
#   HIST method=M granule=G threads=T side=map|unmap lo=NS hi=NS count=N
#                          one histogram bucket of that run (t/bench.sh)
#   ZSWAPAB pass=N marking=on|off rc=N store_pps=N load_pps=N
#           mismatches=N requests=N map_ns=N req_ns=N served=N
#                          one zswap pass of bench_zswap_ab: its stress's
#                          rates, and lz4-dmatest's counters over it
#                          (t/bench.sh)
#   IOTLB phase=on|off requests=N
#                          lz4-dmatest's requests in an iotlb phase
#                          (t/iotlb.sh)

# Where the library and t/ are (/init: /lib/sgr; tests/guest/plan: beside it).
SGR_LIB=${SGR_LIB:-/lib/sgr}

# The tests that run when sgr.tests is not given, in order.
SGR_DEFAULT_TESTS=proof,kunit,zswap,iotlb,selftest,dmabench,pagealloc,dmesg

# The spare PCI devices tools/vm attaches (EDU: the dma_map_benchmark
# tests; TESTDEV: pci-testdev for lz4-dmatest; MARKDEV: an edu that no
# driver binds, the iotlb test's marker channel, tests/guest/sgr_mark.c):
# their slots are written once, in tests/iommu-modes, and reach the guest
# in /etc/sgr-modes.sh (tools/modes.py guest); the host tests of this
# library point SGR_MODES_SH at a copy.
SGR_MODES_SH=${SGR_MODES_SH:-/etc/sgr-modes.sh}
# shellcheck disable=SC1090 # generated: tools/modes.py guest
[ ! -r "$SGR_MODES_SH" ] || . "$SGR_MODES_SH"
ZP=/sys/module/zswap/parameters
# The DMA side's switch for the reuse cache as a whole (dma_reuse.enabled).
DMA_REUSE_SWITCH=/sys/module/dma_reuse/parameters/enabled
LZ4DT=/sys/bus/pci/drivers/lz4_dmatest
REUSE_DBG=/sys/kernel/debug/dma_reuse
LZ4DT_ROOT_DBG=/sys/kernel/debug/lz4_dmatest
LZ4DT_DBG=$LZ4DT_ROOT_DBG/$TESTDEV
DMESG_PATTERNS=/etc/dmesg-patterns
SGR_MARK=/bin/sgr_mark
# Overridden by the host tests of this library (tests/host), never in the
# guest: where the stress program, the cgroup tree and /proc/crypto are,
# and how long a dead pool may take to go.
ZSWAP_STRESS_BIN=${ZSWAP_STRESS_BIN:-/bin/zswap_stress}
SGR_CGROUP_ROOT=${SGR_CGROUP_ROOT:-/sys/fs/cgroup}
SGR_PROC_CRYPTO=${SGR_PROC_CRYPTO:-/proc/crypto}
SGR_POOL_WAIT=${SGR_POOL_WAIT:-30}

# ---------------------------------------------------------------------
# Parameters

# sgr_cmdline: the kernel command line the parameters come from.  The
# host's tests/guest/plan sets SGR_CMDLINE (possibly empty): its own
# /proc/cmdline is not the guest's.
sgr_cmdline() {
	if [ "${SGR_CMDLINE+set}" = set ]; then
		printf '%s\n' "$SGR_CMDLINE"
	else
		cat /proc/cmdline 2>/dev/null
	fi
}

# param NAME DEFAULT: the value of the first sgr.NAME=VALUE word, else
# DEFAULT.  A word "sgr.NAME=" gives the empty value.
param() {
	sgr_cmdline | awk -v k="sgr.$1=" -v d="$2" '
		{ for (i = 1; i <= NF; i++)
			if (index($i, k) == 1) { print substr($i, length(k) + 1); f = 1; exit } }
		END { if (!f) print d }'
}

# list WORDS: a comma-separated parameter as blank-separated words.
list() {
	printf '%s\n' "$1" | tr , ' '
}

# bench_method_args METHOD LENS: dma_map_benchmark's words for a method of
# t/bench.sh and t/steps.sh.  Two methods are shapes of bounce mode, not
# modes of their own: bounce_out (DMA_FROM_DEVICE, a copy-out of the
# lengths LENS, a compressor's output) and owned (the buffer linked once);
# the rest are the tool's mode names.
bench_method_args() {
	case $1 in
	bounce_out) echo "-m bounce -d 2 -L $2" ;;
	owned) echo "-m owned -d 2 -L $2" ;;
	*) echo "-m $1" ;;
	esac
}

# bench_module_method METHOD: lz4-dmatest's name for METHOD if the test
# module times it (its bench file: the series' controls, not modes of
# dma_map_benchmark), else nothing and false.  sg1 is its "plain".
bench_module_method() {
	case $1 in
	sg1) echo plain ;;
	unmarked|refused|empty) echo "$1" ;;
	*) return 1 ;;
	esac
}

# bench_module_run METHOD GRANULE THREADS SECONDS: one run of lz4-dmatest's
# bench file; its output (RESULT and HIST lines, the words of
# dma_map_benchmark) on stdout.  Fails with a line on stdout that says why
# (the kernel's module has no bench file, or the write failed).
bench_module_run() {
	local f="$LZ4DT_DBG/bench" err
	if ! lz4dt_bound; then
		echo "lz4-dmatest is not bound to $TESTDEV"
		return 1
	fi
	if [ ! -e "$f" ]; then
		echo "lz4-dmatest has no bench file: method $1 not built into this kernel"
		return 1
	fi
	if ! err=$({ echo "$1 $2 $3 $4" >"$f"; } 2>&1); then
		echo "lz4-dmatest bench: '$1 $2 $3 $4' failed: $err"
		return 1
	fi
	cat "$f"
}

# bench_method_run METHOD GRANULE THREADS SECONDS LENS: one run of a method
# of t/bench.sh and t/steps.sh, on the test module's bench file for the
# series' controls (bench_module_method) and on dma_map_benchmark
# ($SGR_DMA_MAP_BENCHMARK) for the rest (LENS: bounce_out's and owned's
# copy lengths); the output on stdout, the run's status.
bench_method_run() {
	local mm args
	if mm=$(bench_module_method "$1"); then
		bench_module_run "$mm" "$2" "$3" "$4"
		return
	fi
	args=$(bench_method_args "$1" "$5")
	# shellcheck disable=SC2086 # args: the tool's words
	"$SGR_DMA_MAP_BENCHMARK" $args -g "$2" -t "$3" -s "$4" 2>&1
}

# sgr_params: every parameter the tests read, into variables (documented
# at the top of tests/guest/init).
sgr_params() {
	MODE=$(param mode noiommu)
	TESTS=$(list "$(param tests "$SGR_DEFAULT_TESTS")")
	KUNIT_RERUN=$(list "$(param kunit_rerun '')")
	ZSWAP_MIB=$(param zswap_mib 192)
	ZSWAP_MIB2=$(param zswap_mib2 64)
	ZSWAP_MIB3=$(param zswap_mib3 16)
	ZSWAP_PASSES=$(param zswap_passes 1)
	IOTLB_MIB=$(param iotlb_mib 16)
	FIRE=$(list "$(param fire hotplug,switch)")
	BENCH_SECONDS=$(param bench_seconds 2)
	BENCH_METHODS=$(list "$(param bench_methods single,sg,sg1,bounce,bounce_out,owned,unmarked,iova,refused,reuse,empty)")
	BENCH_GRANULES=$(list "$(param bench_granules 1,2,16)")
	BENCH_ZSWAP_MIB=$(param bench_zswap_mib 32)
	BENCH_ZSWAP_PASSES=$(param bench_zswap_passes 5)
	SELFTEST_MIB=$(param selftest_mib 8)
	SELFTEST_PASSES=$(param selftest_passes 2)
}

# ---------------------------------------------------------------------
# The plan and the run

# test_known NAME: there is a t/NAME.sh (its functions are defined).
test_known() {
	case $1 in
	''|*[!a-z0-9_]*) return 1 ;;
	esac
	[ -f "$SGR_LIB/t/$1.sh" ]
}

# plan_cases: the top-level case names of every selected test, in order.
# An unknown test is one (failing) case named after it.
plan_cases() {
	local t
	for t in $TESTS; do
		if test_known "$t"; then
			"${t}_cases"
		else
			printf '%s\n' "$t"
		fi
	done
}

# plan_needs: "CASE NEED..." for every case of the selected tests that
# declares what it needs (<test>_needs); tests/guest/plan --needs.
plan_needs() {
	local t
	for t in $TESTS; do
		test_known "$t" && command -v "${t}_needs" >/dev/null 2>&1 && "${t}_needs"
	done
	return 0
}

# run_tests: run every selected test.  A test that reports fewer cases than
# it planned gets the missing ones as failures, so the plan always holds.
run_tests() {
	local t want got n k name
	for t in $TESTS; do
		if ! test_known "$t"; then
			result 1 "$t" "unknown guest test"
			continue
		fi
		want=$("${t}_cases")
		SGR_REPORTED=
		SGR_NREPORTED=0
		"${t}_run"
		got=$(printf '%s' "$SGR_REPORTED")
		[ "$got" = "$want" ] && continue
		n=$(printf '%s\n' "$want" | grep -c .)
		ktap_diag "test $t reported $SGR_NREPORTED cases, planned $n:" \
			"$(printf '%s' "$SGR_REPORTED" | tr '\n' ' ')"
		k=0
		for name in $want; do
			k=$((k + 1))
			[ "$k" -gt "$SGR_NREPORTED" ] &&
				result 1 "$name" "test $t did not report this case"
		done
	done
}

# ---------------------------------------------------------------------
# Results: thin wrappers over tools/ktap.sh that also count what a test
# reported (run_tests checks it against the test's plan).

SGR_REPORTED=
SGR_NREPORTED=0

# result STATUS NAME [REASON]: STATUS 0, skip, or anything else: failed.
result() {
	SGR_REPORTED="$SGR_REPORTED$2
"
	SGR_NREPORTED=$((SGR_NREPORTED + 1))
	ktap_result "$1" "$2" "${3:-}"
}

# verdict NAME: passed if FAIL_WHY is empty, else failed with it.
verdict() {
	if [ -z "$FAIL_WHY" ]; then
		result 0 "$1"
	else
		result 1 "$1" "$FAIL_WHY"
	fi
}

diag() { ktap_diag "$@"; }

# record KIND KEY=VALUE...: one record (see the top of this file),
# "# SGR KIND KEY=VALUE ..." at the current depth.  A KIND that is not an
# upper-case word (or none), or a field that is not KEY=VALUE with a KEY
# of [a-z_0-9] and a VALUE without blanks, refuses the whole record: a
# prose line says why instead, and record returns 1.
record() {
	sgr_record_check "$@" || return
	ktap_diag "SGR $*"
}

# record_lines KIND [KEY=VALUE...]: every line of stdin, blank-separated
# KEY=VALUE fields, as a record of KIND: the given fields, then the line's.
# One pass, as diag_lines (its fork-free reason); a line with a field that
# is not KEY=VALUE becomes a prose line that says so; empty lines go.
record_lines() {
	if ! sgr_record_check "$@"; then
		cat >/dev/null
		return 1
	fi
	tr '\r\t' '  ' | SGR_RECORD_PREFIX="$(sgr_pad)# " SGR_RECORD_HEAD="$*" awk '
		NF == 0 { next }
		{
			bad = ""
			for (i = 1; i <= NF; i++)
				if ($i !~ /^[a-z_0-9]+=/) { bad = $i; break }
			line = ENVIRON["SGR_RECORD_HEAD"]
			for (i = 1; i <= NF; i++)
				line = line " " $i
			if (bad != "")
				print ENVIRON["SGR_RECORD_PREFIX"] "record refused, field \"" bad "\" is not key=value: " line
			else
				print ENVIRON["SGR_RECORD_PREFIX"] "SGR " line
		}' >&"$KTAP_FD"
}

# sgr_record_check KIND [KEY=VALUE...]: whether KIND and the fields make a
# record; if not, a prose line says why.  No fork: the check costs a
# record nothing beyond ktap_diag's own.
sgr_record_check() {
	local kind="${1:-}" f why=''
	case $kind in
	''|[!A-Z]*|*[!A-Z0-9_]*) why="kind \"$kind\" is not an upper-case word" ;;
	esac
	[ $# = 0 ] || shift
	for f; do
		[ -z "$why" ] || break
		case $f in
		*=*) ;;
		*) why="field \"$f\" is not key=value"; continue ;;
		esac
		case ${f%%=*} in
		''|*[!a-z0-9_]*) why="field \"$f\" has a key not of [a-z_0-9]" ;;
		esac
		case ${f#*=} in
		*[[:space:]]*) why="field \"$f\" has a blank" ;;
		esac
	done
	[ -z "$why" ] && return 0
	f="$kind${*:+ $*}"
	f=${f# }
	ktap_diag "record refused, $why${f:+: $f}"
	return 1
}

# diag_lines [PREFIX]: every line of stdin as a diagnostic line, byte for
# byte what "ktap_diag PREFIX LINE" writes for each (at the current depth,
# tabs and carriage returns as blanks), but in one pass: ktap_diag forks
# twice per line, which under TCG costs seconds for a tool's histograms.
diag_lines() {
	tr '\r\t' '  ' | SGR_DIAG_PREFIX="$(sgr_pad)# ${1:-}" \
		awk '{ print ENVIRON["SGR_DIAG_PREFIX"] $0 }' >&"$KTAP_FD"
}

# subtest_begin NAME PLAN / subtest_end STATUS [REASON]: a nested document
# whose parent line is one of the test's cases (one level deep).
SGR_SUB_NAME=
SGR_DEPTH=0
subtest_begin() {
	SGR_SUB_NAME=$1
	SGR_DEPTH=$((SGR_DEPTH + 1))
	ktap_subtest_begin "$1" "$2"
}
subtest_end() {
	ktap_subtest_end "$1" "${2:-}" || return
	SGR_DEPTH=$((SGR_DEPTH - 1))
	SGR_REPORTED="$SGR_REPORTED$SGR_SUB_NAME
"
	SGR_NREPORTED=$((SGR_NREPORTED + 1))
}

# sgr_pad: the indentation of the current depth (ktap_subtest_begin
# indents by four spaces per level).
sgr_pad() {
	local i=0
	while [ "$i" -lt "$SGR_DEPTH" ]; do
		printf '    '
		i=$((i + 1))
	done
}

# nested_lines: stdin, lines of a KTAP document, passed on indented to the
# current depth.
nested_lines() {
	SGR_NEST_PAD=$(sgr_pad) awk '{ print ENVIRON["SGR_NEST_PAD"] $0 }' >&"$KTAP_FD"
}

# ---------------------------------------------------------------------
# Small readers

# counter FILE KEY: a counter from a "key value" or "key: value" file, else 0
counter() {
	awk -v k="$2" '$1 == k || $1 == k ":" { print $2; f = 1 } END { if (!f) print 0 }' \
		"$1" 2>/dev/null || echo 0
}

# oneline FILE: a small file's lines joined by blanks.
oneline() {
	tr '\n' ' ' <"$1"
}

ncpus() {
	grep -c ^processor /proc/cpuinfo
}

# cmdline_has WORD: the kernel command line has WORD.
cmdline_has() {
	case " $(sgr_cmdline) " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}

# ---------------------------------------------------------------------
# Devices

# bind_override DRIVER BDF: DRIVER bound to BDF through driver_override
# (another driver is unbound first).
bind_override() {
	local dev="/sys/bus/pci/devices/$2"
	[ -e "$dev" ] || return 1
	[ -e "/sys/bus/pci/drivers/$1/$2" ] && return 0
	[ -e "$dev/driver" ] && echo "$2" >"$dev/driver/unbind"
	echo "$1" >"$dev/driver_override"
	echo "$2" >/sys/bus/pci/drivers_probe
	[ -e "/sys/bus/pci/drivers/$1/$2" ]
}

# unbind_override DRIVER BDF: unbind, and forget the override.
unbind_override() {
	echo "$2" >"/sys/bus/pci/drivers/$1/unbind"
	echo >"/sys/bus/pci/devices/$2/driver_override"
}

bind_edu() { bind_override dma_map_benchmark "$EDU"; }

# ---------------------------------------------------------------------
# Swap, zswap and the test driver

# setup_swap: the swap disk on (once) and zswap set up for the stress.
setup_swap() {
	if ! grep -q '^/dev/vda ' /proc/swaps; then
		[ -b /dev/vda ] || { diag "no swap disk /dev/vda"; return 1; }
		mkswap /dev/vda >/dev/null && swapon /dev/vda || return 1
	fi
	echo Y >$ZP/enabled
	# The whole region must fit in the pool (about 0.6 x its size), or
	# zswap rejects pages and they go to the disk instead.
	echo 40 >$ZP/max_pool_percent
	echo N >$ZP/shrinker_enabled
	# 6.12 has a zpool parameter; 7.3 has zsmalloc only.
	diag "zswap: compressor $(cat $ZP/compressor)," \
		"zpool $(cat $ZP/zpool 2>/dev/null || echo zsmalloc)," \
		"max_pool_percent $(cat $ZP/max_pool_percent)"
}

set_compressor() {
	echo "$1" >$ZP/compressor 2>/dev/null && [ "$(cat $ZP/compressor)" = "$1" ]
}

lz4dt_bound() { [ -e "$LZ4DT/$TESTDEV" ]; }
lz4dt_stats() { echo "$LZ4DT_DBG/stats"; }
# A device cache's debugfs directory is named <bus>:<device>.
cache_dir() { echo "$REUSE_DBG/devices/pci:$TESTDEV"; }
cache_stats() { echo "$(cache_dir)/stats"; }

lz4dt_selftest() {
	awk '/^driver/ { d = ($3 == "lz4-dmatest-pci") } d && /^selftest/ { print $3; exit }' "$SGR_PROC_CRYPTO"
}

# lz4dt_refcnt: the lz4-dmatest algorithm's reference count (one for the
# registration, one per live tfm), empty if it is not registered.
lz4dt_refcnt() {
	awk '/^driver/ { d = ($3 == "lz4-dmatest-pci") } d && /^refcnt/ { print $3; exit }' "$SGR_PROC_CRYPTO"
}

# wait_no_dmatest_pool: after a switch away from lz4-dmatest, wait until
# zswap has destroyed every pool that held lz4-dmatest tfms, at most
# SGR_POOL_WAIT seconds; else FAIL_WHY says so.  Switching back before the
# old pool is gone does not make a new pool: zswap's lookup takes a
# reference on the killed one (percpu_ref_tryget succeeds until the
# reference has switched to atomic mode, and while the pool has entries)
# and resurrects it, tfms and all, whatever happened to their device.
# No tfm left means the algorithm's count is LZ4DT_REFCNT_REST, the
# registration's one reference (each tfm holds one more).  (v2's driver
# was also the "lz4" of highest priority, so zswap's boot pool held its
# tfms, and a wait for the count seen at boot returned while a dead pool
# was still there: the 6.12 rebound failures of 2026-12-03 and -06.)
LZ4DT_REFCNT_REST=1
wait_no_dmatest_pool() {
	local n=0 ref
	while :; do
		ref=$(lz4dt_refcnt)
		[ -n "$ref" ] && [ "$ref" -le "$LZ4DT_REFCNT_REST" ] && return 0
		if [ "$n" -ge "$SGR_POOL_WAIT" ]; then
			FAIL_WHY=${FAIL_WHY:-"zswap still holds lz4-dmatest tfms ${n}s after the switch away (refcnt ${ref:-none}, $LZ4DT_REFCNT_REST at rest)"}
			return 1
		fi
		sleep 1
		n=$((n + 1))
	done
}

# lz4_drivers: the drivers of every algorithm named "lz4" in /proc/crypto,
# on one line.
lz4_drivers() {
	awk '/^name/ { n = ($3 == "lz4") } n && /^driver/ { print $3 }' "$SGR_PROC_CRYPTO" | sort -u | tr '\n' ' '
}

# cache_gone: the test device's cache (its debugfs directory) is gone
# within SGR_CACHE_WAIT seconds (default 10).  Unbind unmaps every cached
# mapping before it returns (remove_check proves that); the cache itself is
# freed after an RCU grace period (queue_rcu_work), which a TCG guest on a
# busy host can take a while to reach.  Still there after the wait, it
# leaked.
cache_gone() {
	local n=0
	while [ -e "$(cache_dir)" ]; do
		[ "$n" -lt "${SGR_CACHE_WAIT:-10}" ] || return 1
		sleep 1
		n=$((n + 1))
	done
	[ "$n" = 0 ] || diag "cache: its debugfs directory went ${n}s after the unbind"
	return 0
}

# Whether the cache must serve lz4-dmatest in this mode: a translating
# domain, and the cache built in.
cache_expected() {
	[ "${MODE_TRANSLATES:-0}" = 1 ] && [ -d $REUSE_DBG ]
}

# engine_clean: the engine never saw a wrong or missing translation; else
# FAIL_WHY says what it saw.
engine_clean() {
	local f mm faults
	f=$(lz4dt_stats)
	mm=$(counter "$f" mismatches)
	faults=$(counter "$f" faults)
	diag "lz4-dmatest: $(oneline "$f")"
	[ "$mm" = 0 ] && [ "$faults" = 0 ] && return 0
	FAIL_WHY="the engine saw $mm mismatched translations and $faults faults"
	return 1
}

# stress NAME MIB SEED [PASSES]: one zswap_stress run in its own cgroup,
# its KTAP (a nested document named NAME, indented by the program) on fd 3.
# STRESS_PREFIX, if set, goes before the program (taskset -c N).
# The output is streamed (a hang shows how far it got) and kept: a
# program that dies before its plan is done (the OOM killer) gets the
# leaves it owed from stress_fill, so the document stays whole.
stress() {
	local cg="$SGR_CGROUP_ROOT/zswap_$1" rc out="/tmp/stress.$1.out" rcf="/tmp/stress.$1.rc"
	echo +memory >"$SGR_CGROUP_ROOT/cgroup.subtree_control"
	mkdir -p "$cg"
	# 6.12 charges the compressed pool to the cgroup: memory.max must hold
	# it (about 0.6 x the region) but not the region itself.
	echo $(($2 * 3 / 4))M >"$cg/memory.max"
	rm -f "$out" "$rcf"
	# Only the program joins the cgroup: its OOM kills never reach tee.
	{
		sh -c "echo \$\$ >$cg/cgroup.procs && exec ${STRESS_PREFIX:-} $ZSWAP_STRESS_BIN --size $2 \
			--passes ${4:-$ZSWAP_PASSES} --seed $3 --cgroup $cg --name $1" 2>&1
		echo $? >"$rcf"
	} | tee "$out" >&3
	rc=$(cat "$rcf" 2>/dev/null)
	rc=${rc:-255}
	rmdir "$cg" 2>/dev/null
	[ "$rc" = 0 ] || stress_fill "$out" "$rc"
	rm -f "$out" "$rcf"
	return "$rc"
}

# stress_fill FILE RC: the result lines zswap_stress's output FILE owes
# (it exited RC, killed or failed before its plan was done), one failing
# leaf per missing case, named as the program names them (pass<P>_<case>,
# its case_names[] in that order), on fd 3.  Without them the parser
# sees a plan it cannot match and the parent's reason reaches no case.
stress_fill() {
	local plan
	grep -q '^    # Subtest: ' "$1" 2>/dev/null || return 0
	plan=$(sed -n 's/^    1\.\.\([0-9][0-9]*\)$/\1/p' "$1" | head -n 1)
	if [ -z "$plan" ]; then
		printf '    1..1\n    not ok 1 no_plan # zswap_stress exited %s before its plan\n' "$2" >&3
		return 0
	fi
	awk -v plan="$plan" -v rc="$2" '
		/^    (not )?ok [0-9]+ / { seen[($1 == "not" ? $3 : $2) + 0] = 1 }
		END {
			split("data_verified zswap_stored zswap_loaded", nm, " ")
			for (i = 1; i <= plan; i++)
				if (!(i in seen))
					printf "    not ok %d pass%d_%s # zswap_stress exited %s before it reported this case\n",
						i, int((i - 1) / 3) + 1, nm[(i - 1) % 3 + 1], rc
		}' "$1" >&3
}

# fire DONE: CPU offline/online on every secondary CPU, and zswap's
# compressor switched away and back (the old pool is destroyed once its
# entries are gone), as FIRE says, for as long as file DONE does not
# exist.  Prints the numbers of events, then failures.  (A finished
# background job stays a zombie for kill -0 until the shell reaps it,
# which it does not while in $(...): hence a file.)
fire() {
	local stop="$1" hot=0 sw=0 bad=0 c
	while [ ! -e "$stop" ]; do
		case " $FIRE " in *" hotplug "*)
			for c in /sys/devices/system/cpu/cpu[1-9]*/online; do
				[ -e "$c" ] || continue
				echo 0 >"$c" || bad=$((bad + 1))
				sleep 1
				echo 1 >"$c" || bad=$((bad + 1))
				hot=$((hot + 1))
			done ;;
		esac
		case " $FIRE " in *" switch "*)
			if set_compressor lz4-scomp && sleep 1 &&
				set_compressor lz4-dmatest; then
				sw=$((sw + 1))
			else
				bad=$((bad + 1))
			fi ;;
		esac
		# Mostly full speed: the traffic is what the teardowns race.
		sleep 4
	done
	echo $hot $sw $bad
}

# ---------------------------------------------------------------------
# The iotlb test's marker channel (tests/guest/sgr_mark.c)

MARK_WHY=

# mark ARGS...: one marker; on failure MARK_WHY says why (the first one).
mark() {
	local out
	if out=$("$SGR_MARK" --dev "$MARKDEV" "$@" 2>&1); then
		return 0
	fi
	[ -n "$MARK_WHY" ] ||
		MARK_WHY="marker '$*' failed: $(printf '%s' "$out" | head -n 1)"
	return 1
}

# vtd_domain_id FILE BDF: the VT-d domain id of BDF's context entry, from
# FILE, the format of /sys/kernel/debug/iommu/intel/dmar_translation_struct
# (drivers/iommu/intel/debugfs.c: "B:D.F<tab>0xRT_HI:0xRT_LO<tab>
# 0xCTX_HI:0xCTX_LO<tab>PASID<tab>0xPE2:0xPE1:0xPE0").  Legacy mode
# (PASID -1): DID = (ctx_hi >> 8) & 0xffff; scalable mode: the entry of
# PASID 0, DID = pasid_entry[1] & 0xffff.  Returns 1 if BDF is not there.
vtd_domain_id() {
	local bdf="${2#0000:}" line ctx pasid pe hex
	line=$(awk -F'\t' -v d="$bdf" '$1 == d && ($4 + 0 == -1 || $4 + 0 == 0) { print; exit }' "$1" 2>/dev/null)
	[ -n "$line" ] || return 1
	ctx=$(printf '%s\n' "$line" | cut -f3)
	pasid=$(printf '%s\n' "$line" | cut -f4 | tr -d ' ')
	if [ "$pasid" = -1 ]; then
		hex=${ctx%%:*}
	else
		pe=$(printf '%s\n' "$line" | cut -f5)
		pe=${pe#*:}
		hex=${pe%%:*}
	fi
	hex=${hex#0x}
	# The low 8 hex digits carry the DID: shell arithmetic stays far from
	# the sign bit.
	while [ ${#hex} -gt 8 ]; do
		hex=${hex#?}
	done
	case $hex in
	''|*[!0-9a-fA-F]*) return 1 ;;
	esac
	if [ "$pasid" = -1 ]; then
		echo $(((0x$hex >> 8) & 0xffff))
	else
		echo $((0x$hex & 0xffff))
	fi
}

# ---------------------------------------------------------------------
# dmesg

# dmesg_unexpected: the kernel log without the reports provoked on purpose
# (the KUnit misuse case's, "dma-reuse-kunit: ...", and the page-leak
# checker's KUnit case's, "iommu_debug_test_leak: <dev>: ..."), which they bracket with
# two marker lines.  At most 100 lines per report: a lost end marker hides
# nothing more.
dmesg_unexpected() {
	dmesg | awk '/(dma-reuse-kunit|iommu_debug_test_leak).*: expected report begins/ { skip = 100 }
		!skip { print } skip { skip-- }
		/(dma-reuse-kunit|iommu_debug_test_leak).*: expected report ends/ { skip = 0 }'
}

# dmesg_expected: the bracketed report(s) only.
dmesg_expected() {
	dmesg | awk '/expected report begins/ { s = 1 } s; /expected report ends/ { s = 0 }'
}
