# shellcheck shell=sh
# The one KTAP (version 1) writer of the shell code: sourced by the host
# tools (bash) and, as /lib/sgr/ktap.sh, by the guest's /init (busybox sh).
# POSIX sh only.  tools/ktap.py is its Python twin; tools/results.py reads
# both with the kernel tree's own kunit_parser.
#
# Streaming (the plan is known first; a document cut short reads as
# crashed), writing to file descriptor $KTAP_FD (default 1):
#
#   ktap_begin PLAN              "KTAP version 1" and "1..PLAN"
#   ktap_subtest_begin NAME PLAN a nested document for the case NAME,
#                                indented by four spaces
#   ktap_result STATUS NAME [REASON]
#                                one case: STATUS 0 or pass: "ok N NAME";
#                                skip: "ok N NAME # SKIP REASON"; anything
#                                else: "not ok N NAME # REASON"
#   ktap_subtest_end STATUS [REASON]
#                                close the nested document with the
#                                parent's own result line, named as begun
#   ktap_diag TEXT...            "# TEXT" at the current depth
#
# Collected (the plan is the number of cases, written when the document is
# complete; a stage that dies before ktap_file_close leaves no document,
# which the summary reports as missing):
#
#   ktap_file_open FILE          start FILE (removes an old one)
#   ktap_file_result FILE STATUS NAME [REASON]
#   ktap_file_close FILE         write FILE: version, plan, the cases

KTAP_FD=${KTAP_FD:-1}
KTAP_DEPTH=0
# shellcheck disable=SC2034 # read through eval
KTAP_N_0=0

# _ktap_line TEXT: one line at the current depth.
_ktap_line() {
	eval "_ktap_pad=\${KTAP_PAD_$KTAP_DEPTH:-}"
	# shellcheck disable=SC2154 # set by the eval above
	printf '%s%s\n' "$_ktap_pad" "$1" >&"$KTAP_FD"
}

# _ktap_clean TEXT: a reason on one line.
_ktap_clean() {
	printf '%s' "$*" | tr '\n\r\t' '   '
}

# _ktap_format N STATUS NAME [REASON]: a result line, without indentation.
_ktap_format() {
	_kf_n=$1 _kf_st=$2 _kf_name=$3
	_kf_why=$(_ktap_clean "${4:-}")
	case $_kf_st in
	0|pass) printf 'ok %s %s\n' "$_kf_n" "$_kf_name" ;;
	skip) printf 'ok %s %s # SKIP %s\n' "$_kf_n" "$_kf_name" "$_kf_why" ;;
	*) printf 'not ok %s %s%s\n' "$_kf_n" "$_kf_name" "${_kf_why:+ # $_kf_why}" ;;
	esac
}

ktap_begin() {
	# shellcheck disable=SC2034 # read through eval (depth 0)
	KTAP_DEPTH=0 KTAP_N_0=0 KTAP_PAD_0=
	_ktap_line 'KTAP version 1'
	_ktap_line "1..$1"
}

ktap_diag() {
	_ktap_line "# $(_ktap_clean "$*")"
}

ktap_result() {
	_ktap_n=0
	eval "KTAP_N_$KTAP_DEPTH=\$((KTAP_N_$KTAP_DEPTH + 1)); _ktap_n=\$KTAP_N_$KTAP_DEPTH"
	_ktap_line "$(_ktap_format "$_ktap_n" "$1" "$2" "${3:-}")"
}

ktap_subtest_begin() {
	eval "_ktap_pad=\${KTAP_PAD_$KTAP_DEPTH:-}"
	KTAP_DEPTH=$((KTAP_DEPTH + 1))
	eval "KTAP_N_$KTAP_DEPTH=0; KTAP_PAD_$KTAP_DEPTH=\"\$_ktap_pad    \"; KTAP_NAME_$KTAP_DEPTH=\$1"
	_ktap_line 'KTAP version 1'
	_ktap_line "# Subtest: $1"
	_ktap_line "1..$2"
}

ktap_subtest_end() {
	if [ "$KTAP_DEPTH" -eq 0 ]; then
		ktap_diag "ktap_subtest_end without ktap_subtest_begin"
		return 1
	fi
	eval "_ktap_name=\$KTAP_NAME_$KTAP_DEPTH"
	KTAP_DEPTH=$((KTAP_DEPTH - 1))
	# shellcheck disable=SC2154 # set by the eval above
	ktap_result "$1" "$_ktap_name" "${2:-}"
}

ktap_file_open() {
	rm -f "$1" "$1.cases"
	: >"$1.cases"
}

ktap_file_result() {
	if [ ! -e "$1.cases" ]; then
		printf 'ktap_file_result: %s was not opened\n' "$1" >&2
		return 1
	fi
	_kfr_n=$(($(wc -l <"$1.cases") + 1))
	_ktap_format "$_kfr_n" "$2" "$3" "${4:-}" >>"$1.cases"
}

ktap_file_close() {
	[ -e "$1.cases" ] || return 1
	{
		echo 'KTAP version 1'
		echo "1..$(wc -l <"$1.cases" | tr -d ' ')"
		cat "$1.cases"
	} >"$1.tmp" && mv "$1.tmp" "$1" && rm -f "$1.cases"
}
