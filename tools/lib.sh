# shellcheck shell=bash
# Shared helpers for the tools.  Sourced, never run.
#
# Every command that changes something goes through run(), so that
# DRY_RUN=1 prints the exact command lines to stderr instead of running
# them (the host tests compare those lines).

TOOLS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$TOOLS_DIR/.." && pwd)
# shellcheck source=tools/pin.sh
. "$TOOLS_DIR/pin.sh"
# The one KTAP writer (ktap_file_open, ktap_file_result, ktap_file_close, ...).
# shellcheck source=tools/ktap.sh
. "$TOOLS_DIR/ktap.sh"

SGR_CACHE=${SGR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sg-reuse}
# Git tags and directory names cannot carry '~'.
BASE_TAG="debian/${BASE_VERSION//\~/_}"
# shellcheck disable=SC2034 # used by the tools that source this file
BASE_DIR="$SGR_CACHE/base-${BASE_VERSION//\~/_}"
DRY_RUN=${DRY_RUN:-0}

# applied_dir [TREE]: the worktree tools/apply makes for TREE (default: the
# pinned base): one per tree, so that switching KSRC between trees with one
# cache never asks a worktree of one repository to check out another's
# commit.  The pinned base gets $SGR_CACHE/applied; any other tree
# $SGR_CACHE/applied-<basename>-<first 8 hex of the sha1 of its realpath>.
applied_dir() {
	local real
	if [ -z "${1:-}" ]; then
		echo "$SGR_CACHE/applied"
		return
	fi
	real=$(realpath -m -- "$1")
	printf '%s/applied-%s-%s\n' "$SGR_CACHE" "${real##*/}" \
		"$(printf '%s' "$real" | sha1sum | cut -c1-8)"
}
# shellcheck disable=SC2034 # used by the tools that source this file
APPLIED_DIR=$(applied_dir "${KSRC:-}")

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
# die MSG: print MSG and exit 1; DIE_MSG keeps MSG for EXIT traps.
# shellcheck disable=SC2034 # DIE_MSG is read by the tools' EXIT traps
die() { DIE_MSG=$*; printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 1; }
usage_error() { printf '%s: %s\n(see %s --help)\n' "${0##*/}" "$*" "${0##*/}" >&2; exit 2; }

# run CMD...: run a command, or print it under DRY_RUN=1.
run() {
	if [ "$DRY_RUN" = 1 ]; then
		{ printf '+'; printf ' %q' "$@"; printf '\n'; } >&2
		return 0
	fi
	"$@"
}

# Timed stage banner for the long jobs (make check, make demo).
stage_begin() { STAGE_NAME=$1; STAGE_T0=$(date +%s); log "=== stage: $1"; }
stage_end() {
	local dt=$(( $(date +%s) - STAGE_T0 ))
	log "=== stage: $STAGE_NAME done in ${dt}s"
	if [ -n "${STAGE_TIMES:-}" ]; then
		printf '%s\t%s\n' "$STAGE_NAME" "$dt" >>"$STAGE_TIMES"
	fi
}

# need_cmd CMD PACKAGE: install PACKAGE with apt-get when CMD is missing.
need_cmd() {
	command -v "$1" >/dev/null 2>&1 && return 0
	apt_install "$2"
	command -v "$1" >/dev/null 2>&1 || die "$1 still missing after installing $2"
}

apt_install() {
	[ "$(id -u)" = 0 ] || die "need root to apt-get install $*"
	log "installing: $*"
	if [ -z "${_APT_UPDATED:-}" ]; then
		run apt-get update -qq || die "apt-get update failed"
		_APT_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive run apt-get install -y -qq --no-install-recommends "$@" \
		|| die "apt-get install $* failed"
}

# is_git_tree DIR: DIR is the top of a git work tree.
is_git_tree() {
	[ "$(git -C "$1" rev-parse --show-toplevel 2>/dev/null)" = "$(cd "$1" && pwd -P)" ]
}

# require_kernel_tree DIR: a kernel source tree under git, with no local changes.
require_kernel_tree() {
	local d=$1
	[ -n "$d" ] || die "no kernel tree given"
	[ -d "$d" ] || die "kernel tree $d does not exist"
	{ [ -f "$d/Makefile" ] && [ -f "$d/scripts/kconfig/merge_config.sh" ]; } ||
		die "$d does not look like a kernel source tree (no Makefile or scripts/kconfig)"
	is_git_tree "$d" || die "$d is not the top of a git work tree; run: git -C $d init && git -C $d add -f . && git -C $d commit -m base"
	if [ -n "$(git -C "$d" status --porcelain --untracked-files=no)" ]; then
		die "$d has uncommitted changes (git -C $d status); commit or stash them first"
	fi
}

# git_common_dir DIR: the real path of the repository (its common git
# directory) that the work tree DIR belongs to; fails when DIR is none.
git_common_dir() {
	local d
	d=$(git -C "$1" rev-parse --path-format=absolute --git-common-dir 2>/dev/null) || return 1
	realpath -- "$d"
}

# base_rev: where the series starts: HEAD of KSRC, else the pinned base tag.
base_rev() {
	if [ -n "${KSRC:-}" ]; then
		git -C "$KSRC" rev-parse HEAD
	else
		echo "$BASE_TAG"
	fi
}

# series_patches: the patch names listed in series, in order.
series_patches() {
	sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^[[:space:]]*$/d' "$REPO_DIR/series" | awk '{print $1}'
}

# check_series: series and patches/ list the same files.
check_series() {
	local p rc=0
	[ -f "$REPO_DIR/series" ] || die "no series file in $REPO_DIR"
	for p in $(series_patches); do
		[ -f "$REPO_DIR/patches/$p" ] || { echo "series lists $p, which is not in patches/" >&2; rc=1; }
	done
	for p in "$REPO_DIR"/patches/*.patch; do
		[ -e "$p" ] || continue
		series_patches | grep -qxF "${p##*/}" || { echo "patches/${p##*/} is not listed in series" >&2; rc=1; }
	done
	if [ -n "$(series_patches | sort | uniq -d)" ]; then
		echo "series lists a patch twice: $(series_patches | sort | uniq -d | tr '\n' ' ')" >&2
		rc=1
	fi
	return $rc
}
