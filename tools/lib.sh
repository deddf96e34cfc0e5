# shellcheck shell=bash
# Shared helpers for the tools.  Sourced, never run.
#
# Every command that changes something goes through run(), so that
# DRY_RUN=1 prints the exact command lines to stderr instead of running
# them (the host tests compare those lines).
#
# Each tool ends with the one line 'main "$@"; exit': bash reads a script
# as it runs it, so a tool edited under a long run (a git pull during make
# stress) would otherwise go on, once main returns, with whatever bytes
# the new file holds at that offset.

TOOLS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$TOOLS_DIR/.." && pwd)
# shellcheck source=tools/pin.sh
. "$TOOLS_DIR/pin.sh"
# The one KTAP writer (ktap_file_open, ktap_file_result, ktap_file_close, ...).
# shellcheck source=tools/ktap.sh
. "$TOOLS_DIR/ktap.sh"

SGR_CACHE=${SGR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sg-reuse}
DRY_RUN=${DRY_RUN:-0}

# stack_names: the stacks of tools/pin.sh, one per line.
stack_names() { awk 'NF && $1 !~ /^#/ {print $1}' <<<"$SGR_STACKS"; }

# stack_select NAME: make NAME (a row of tools/pin.sh) the stack the tool
# works on, and derive from it:
#   BASE_PKG BASE_VERSION BASE_SUITE  the pinned Debian package
#   BASE_TAG BASE_DIR                 the pristine tree's tag and path
#   STACK_PATCHES STACK_SERIES        absolute paths of the mboxes and series
#   SGR_WORK                          the stack's part of the cache (applied
#                                     worktree, builds, initramfs, runs)
# Exits 2 on a name that is not in the table.
# shellcheck disable=SC2034 # the derived variables are for the tools
stack_select() {
	local row _name pdir sfile
	row=$(awk -v s="$1" 'NF && $1 == s' <<<"$SGR_STACKS")
	if [ -z "$row" ]; then
		printf '%s: unknown stack "%s" (tools/pin.sh has: %s)\n' "${0##*/}" "$1" \
			"$(stack_names | tr '\n' ' ')" >&2
		exit 2
	fi
	read -r _name BASE_PKG BASE_VERSION BASE_SUITE pdir sfile <<<"$row"
	STACK=$1
	export STACK
	# Git tags and directory names cannot carry '~'.
	BASE_TAG="debian/${BASE_VERSION//\~/_}"
	BASE_DIR="$SGR_CACHE/base-${BASE_VERSION//\~/_}"
	STACK_PATCHES=$REPO_DIR/$pdir
	STACK_SERIES=$REPO_DIR/$sfile
	SGR_WORK=$SGR_CACHE/$STACK
	APPLIED_DIR=$(applied_dir "${KSRC:-}")
}

# stack_from_args ARGS...: the value of the last --stack NAME / --stack=NAME
# among a tool's arguments, else $STACK, else the default stack.  lib.sh
# selects it before the tool parses its arguments, so that every default a
# tool computes is the stack's; the tools' parsers then skip --stack.
stack_from_args() {
	local s=${STACK:-$SGR_STACK_DEFAULT}
	while [ $# -gt 0 ]; do
		case $1 in
		--stack) [ $# -ge 2 ] || usage_error "--stack needs a name ($(stack_names | tr '\n' ' '))"
			s=$2; shift ;;
		--stack=*) s=${1#--stack=} ;;
		esac
		shift
	done
	echo "$s"
}

# applied_dir [TREE]: the worktree tools/apply makes for TREE (default: the
# stack's pinned base): one per tree and stack, so that switching KSRC
# between trees with one cache never asks a worktree of one repository to
# check out another's commit.  The pinned base gets $SGR_WORK/applied; any
# other tree $SGR_WORK/applied-<basename>-<first 8 hex of the sha1 of its
# realpath>.
applied_dir() {
	local real
	if [ -z "${1:-}" ]; then
		echo "$SGR_WORK/applied"
		return
	fi
	real=$(realpath -m -- "$1")
	printf '%s/applied-%s-%s\n' "$SGR_WORK" "${real##*/}" \
		"$(printf '%s' "$real" | sha1sum | cut -c1-8)"
}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
# die MSG: print MSG and exit 1; DIE_MSG keeps MSG for EXIT traps.
# shellcheck disable=SC2034 # DIE_MSG is read by the tools' EXIT traps
die() { DIE_MSG=$*; printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 1; }
usage_error() { printf '%s: %s\n(see %s --help)\n' "${0##*/}" "$*" "${0##*/}" >&2; exit 2; }

# The stack: --stack among the tool's arguments, else STACK, else the default.
stack_select "$(stack_from_args "$@")"

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

# debian_archive: the machine's Debian archive (the one apt's sources name
# for the main suites), else SGR_DEBIAN_MIRROR, which also overrides it.
debian_archive() {
	local uri
	if [ -n "${SGR_DEBIAN_MIRROR:-}" ]; then
		echo "${SGR_DEBIAN_MIRROR%/}"
		return
	fi
	# shellcheck disable=SC2016 # $(...) are apt's own format fields
	uri=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null | sort -u |
		awk '$1 ~ /\/debian\/?$/ && $2 !~ /security/ {print $1; exit}')
	[ -n "$uri" ] || die "apt's sources name no Debian archive; set SGR_DEBIAN_MIRROR (e.g. http://deb.debian.org/debian)"
	echo "${uri%/}"
}

# debian_download [--source] MIRROR SUITE ARCH DESTDIR PKG[=VERSION]...:
# download the packages' .debs into DESTDIR with apt's own client and a
# private sources list, package lists and cache under
# $SGR_CACHE/apt/SUITE-ARCH, and no dpkg status: the system's apt sources
# and dpkg database are not touched and nothing is installed.  With
# --source, the source packages instead (.dsc and tarballs: apt-get source
# --download-only, nothing unpacked), from a deb-src line, with lists
# under $SGR_CACHE/apt/SUITE-source.  Returns non-zero when a package
# cannot be downloaded (the caller says what to do about it).
debian_download() {
	local kind=deb what=(download) mirror suite arch dest label apt keyring opts
	if [ "$1" = --source ]; then
		kind=deb-src what=(source --download-only)
		shift
	fi
	mirror=$1 suite=$2 arch=$3 dest=$4 label=$3
	shift 4
	[ "$kind" = deb ] || label=source
	apt=$SGR_CACHE/apt/$suite-$label
	need_cmd apt-get apt
	keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	[ -f "$keyring" ] || apt_install debian-archive-keyring
	mkdir -p "$apt/lists/partial" "$apt/cache" "$dest"
	printf '%s [arch=%s signed-by=%s] %s %s main\n' "$kind" "$arch" "$keyring" "${mirror%/}" "$suite" \
		>"$apt/sources.list"
	opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
	      -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
	      -o Dir::State::status=/dev/null -o APT::Architecture="$arch"
	      -o APT::Architectures::="$arch" -o APT::Sandbox::User="$(id -un)")
	log "fetching the package lists of $suite ($label) from $mirror (private sources list $apt/sources.list)"
	run apt-get -qq "${opts[@]}" update >&2 ||
		die "apt-get update of $suite ($label) at $mirror failed (network? SGR_DEBIAN_MIRROR?)"
	log "downloading $* ($label) from $suite"
	(cd "$dest" && run apt-get -qq "${opts[@]}" "${what[@]}" "$@" >&2)
}

# series_prefix: the subject prefix of the stack's mails, without the
# brackets and the numbers: "RFC PATCH v2", "RFC PATCH 6.12 v2" (pin.sh).
series_prefix() {
	if [ "$STACK" = "$SGR_STACK_DEFAULT" ]; then
		echo "$SGR_PREFIX v$SGR_REVISION"
	else
		echo "$SGR_PREFIX $STACK v$SGR_REVISION"
	fi
}

# series_format_patch TREE BASE BRANCH DIR [OPTION...]: git format-patch of
# BASE..BRANCH of TREE into DIR in the form of the mails: the revision's
# subject prefix, no commit ids (nothing churns when commits are rebuilt),
# base-commit: BASE, no signature, blob ids of 12 digits in the index
# lines (git's own choice grows with the repository's object count, loose
# objects included, so two machines' exports of the same commits would
# differ; core.abbrev of the user's config is overridden the same way).
# tools/export (patches/) and tools/cover (with --cover-letter: its
# subject prefix, shortlog and diffstat) both call this one.
series_format_patch() {
	local tree=$1 base=$2 branch=$3 dir=$4
	shift 4
	run git -C "$tree" format-patch -q --numbered --no-signature --zero-commit --abbrev=12 \
		--subject-prefix="$(series_prefix)" --base="$base" \
		--output-directory "$dir" "$@" "$base..$branch"
}

# stack_letter: the stack's cover letter (tools/cover writes it): the
# top-level cover-letter.txt for the current kernel, cover-letter.txt in a
# backport's patch directory.
stack_letter() {
	if [ "$STACK" = "$SGR_STACK_DEFAULT" ]; then
		echo "$REPO_DIR/cover-letter.txt"
	else
		echo "$STACK_PATCHES/cover-letter.txt"
	fi
}

# b4_setup: B4, the command of the pinned b4 (tools/pin.sh: Debian's
# package of SGR_B4_SUITE, unpacked into $SGR_CACHE/b4, run by Debian's
# python3 with the dependencies installed from the machine's own suite).
b4_setup() {
	local dir=$SGR_CACHE/b4/$SGR_B4_VERSION deb pkgs=() p
	for p in python3-dkim python3-dnspython python3-requests python3-patatt git-filter-repo; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || pkgs+=("$p")
	done
	[ ${#pkgs[@]} = 0 ] || apt_install "${pkgs[@]}"
	if [ ! -f "$dir/usr/lib/python3/dist-packages/b4/__init__.py" ]; then
		rm -rf "$dir" "$SGR_CACHE/b4/debs"
		debian_download "$(debian_archive)" "$SGR_B4_SUITE" "$(dpkg --print-architecture)" \
			"$SGR_CACHE/b4/debs" "b4=$SGR_B4_VERSION" ||
			die "cannot download b4=$SGR_B4_VERSION from $SGR_B4_SUITE; move the pin in tools/pin.sh"
		deb=$(find "$SGR_CACHE/b4/debs" -maxdepth 1 -name 'b4_*_all.deb' | head -n1)
		[ -n "$deb" ] || die "apt-get download left no b4 .deb in $SGR_CACHE/b4/debs"
		mkdir -p "$dir"
		dpkg-deb -x "$deb" "$dir" || die "cannot unpack $deb"
	fi
	# shellcheck disable=SC2034 # B4 is the caller's
	B4=(env "PYTHONPATH=$dir/usr/lib/python3/dist-packages" /usr/bin/python3 -c
	    'import sys; sys.argv[0] = "b4"; from b4.command import cmd; sys.exit(cmd())')
}

# run_logged LOG CMD...: run CMD with its output appended to LOG; under
# DRY_RUN=1 print it instead, as run does.
run_logged() {
	local logf=$1
	shift
	if [ "$DRY_RUN" = 1 ]; then
		run "$@"
		return
	fi
	"$@" >>"$logf" 2>&1
}

# sparse_setup: SPARSE, the path of the pinned sparse (tools/pin.sh: the
# source package SGR_SPARSE_VERSION of Debian's SGR_SPARSE_SUITE, fetched
# with apt-get source and a private sources list, unpacked with
# dpkg-source, and its sparse program alone built with the machine's gcc
# in $SGR_CACHE/sparse/<version>/; only the build's needs are installed,
# from the machine's own suite).  Built once: later calls only set SPARSE.
# Dies saying which step failed; under DRY_RUN=1 the steps are printed and
# nothing is fetched or built.
sparse_setup() {
	local top=$SGR_CACHE/sparse/${SGR_SPARSE_VERSION//\~/_} dsc blog pkgs=() p
	SPARSE=$top/sparse
	[ -x "$SPARSE" ] && return 0
	for p in dpkg-dev gcc make libc6-dev; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || pkgs+=("$p")
	done
	[ ${#pkgs[@]} = 0 ] || apt_install "${pkgs[@]}"
	log "sparse: building $SGR_SPARSE_VERSION from Debian's source package ($SGR_SPARSE_SUITE) in $top"
	run rm -rf "$top"
	debian_download --source "$(debian_archive)" "$SGR_SPARSE_SUITE" "$(dpkg --print-architecture)" \
		"$top/dl" "sparse=$SGR_SPARSE_VERSION" ||
		die "cannot download the source package sparse=$SGR_SPARSE_VERSION from $SGR_SPARSE_SUITE; if the archive dropped it, move the pin in tools/pin.sh"
	dsc=$top/dl/sparse_${SGR_SPARSE_VERSION#*:}.dsc
	[ "$DRY_RUN" = 1 ] || [ -f "$dsc" ] || die "apt-get source left no ${dsc##*/} in $top/dl"
	blog=$top/build.log
	# apt has checked the files against the archive's signed Sources
	# (dpkg-source's warning that it cannot check the uploader's signature
	# of the .dsc without debian-keyring goes to the log).
	run_logged "$blog" dpkg-source --no-copy -x "$dsc" "$top/src" ||
		die "dpkg-source -x could not unpack $dsc: $(tail -n1 "$blog") (log: $blog)"
	# The sparse program only: no LLVM, GTK, libxml or sqlite parts, and
	# the machine's gcc (Debian's patch names its own suite's gcc-N).
	run_logged "$blog" make -C "$top/src" -j"$(nproc)" CC=gcc HAVE_LLVM=no HAVE_GTK=no \
		HAVE_LIBXML=no HAVE_SQLITE=no \
		SPARSE_VERSION="$SGR_SPARSE_VERSION (Debian $SGR_SPARSE_SUITE source, built by tools/lib.sh)" sparse ||
		die "the build of sparse $SGR_SPARSE_VERSION failed: $(grep -m1 -E 'error|Error' "$blog" || tail -n1 "$blog") (log: $blog)"
	{ run install -m 0755 "$top/src/sparse" "$SPARSE.tmp" && run mv -f "$SPARSE.tmp" "$SPARSE"; } ||
		die "cannot install the built sparse as $SPARSE"
}

# patch_notes MBOX: the notes of a git format-patch mbox, the lines between
# the "---" after the commit message and the "---" before the diffstat
# (what the series says below the sign-off: changes since v1, against
# 6.12).  git am leaves them out of the commit; empty when there are none.
patch_notes() {
	awk '
		!body { if ($0 == "") body = 1; next }
		/^diff --git / { exit }
		seen { l[++m] = $0; if ($0 == "---") last = m; next }
		$0 == "---" { seen = 1 }
		END { for (i = 1; i < last; i++) print l[i] }
	' "$1"
}

# keep_notes DIR MBOX IDENT...: put MBOX's notes back under the message of
# DIR's HEAD, the commit git am made of it, so that an export of the work
# tree writes the same mbox again.
keep_notes() {
	local dir=$1 mbox=$2 notes msg
	shift 2
	notes=$(patch_notes "$mbox")
	[ -n "$notes" ] || return 0
	msg=$(git -C "$dir" log -1 --format=%B HEAD) || return 1
	printf '%s\n---\n%s\n' "$msg" "$notes" |
		run git "$@" -C "$dir" commit -q --amend --no-verify --allow-empty \
			--cleanup=verbatim -F -
}

# am_series DIR: git am every patch of series in DIR, stopping at the first
# one that does not apply; each commit keeps its patch's notes.
am_series() {
	local dir=$1 p n=0 total ident=()
	total=$(series_patches | wc -l)
	if [ -z "$(git -C "$dir" config user.email || true)" ]; then
		ident=(-c user.name="sg-reuse tools" -c user.email="sg-reuse@localhost")
	fi
	for p in $(series_patches); do
		n=$((n + 1))
		log "applying [$n/$total] $p"
		# git am's stdout only tells how to continue by hand: this aborts.
		if ! run git "${ident[@]}" -C "$dir" am --no-3way --quiet "$STACK_PATCHES/$p" >/dev/null; then
			git -C "$dir" am --abort >/dev/null 2>&1 || true
			die "patch $n/$total $p does not apply to $(git -C "$dir" describe --always --tags HEAD) (no fuzz, no 3-way); rebase it in the work tree and re-export"
		fi
		[ "$DRY_RUN" = 1 ] && continue
		keep_notes "$dir" "$STACK_PATCHES/$p" "${ident[@]}" ||
			die "patch $n/$total $p applied, but its notes could not be kept in the commit"
	done
	log "applied $n patch(es)"
}

# is_git_tree DIR: DIR is the top of a git work tree.
# A missing DIR is not one (both sides would be empty).
is_git_tree() {
	local top
	top=$(git -C "$1" rev-parse --show-toplevel 2>/dev/null) || return 1
	[ "$top" = "$(cd "$1" && pwd -P)" ]
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

# lock_holders FILE: the pids of the processes that have FILE open.
lock_holders() {
	local f fd
	f=$(realpath -m -- "$1")
	for fd in /proc/[0-9]*/fd/*; do
		[ "$(readlink "$fd" 2>/dev/null)" = "$f" ] || continue
		fd=${fd#/proc/}
		echo "${fd%%/*}"
	done | sort -un
}

# clear_stale_git_state DIR: a git that was killed in the worktree DIR (a
# run stopped by a timeout, a session ended under it) leaves its lock
# files and an unfinished "git am" behind, and every later git refuses to
# work there.  A lock that no process has open is such a leftover and is
# removed; one that a live git holds stops the caller.  DIR's commits are
# not touched.
clear_stale_git_state() {
	local dir=$1 lock pids
	for lock in index.lock HEAD.lock; do
		lock=$(git -C "$dir" rev-parse --path-format=absolute --git-path "$lock") || return 1
		[ -e "$lock" ] || continue
		pids=$(lock_holders "$lock")
		[ -z "$pids" ] ||
			die "another git (pid $(paste -sd, <<<"$pids")) is working in $dir: let it finish, or give another --dest"
		log "removing $lock: a git killed in $dir left it, no process has it open"
		run rm -f -- "$lock"
	done
	if [ -d "$(git -C "$dir" rev-parse --path-format=absolute --git-path rebase-apply)" ]; then
		log "dropping the unfinished git am in $dir (its commits stay as they are)"
		run git -C "$dir" am --quit
	fi
}

# take_run_lock: one long job (make check, make demo) per cache at a time:
# two would rebuild and re-apply the same worktrees under each other.
# The lock goes with the process, however it ends.
take_run_lock() {
	local lock=$SGR_CACHE/run.lock holder
	[ "$DRY_RUN" = 1 ] && return 0
	mkdir -p "$SGR_CACHE"
	exec {RUN_LOCK_FD}>>"$lock"
	if ! flock -n "$RUN_LOCK_FD"; then
		holder=$(lock_holders "$lock" | grep -vx "$$" | head -n1)
		die "another ${holder:+job (pid $holder: $(tr '\0' ' ' </proc/"$holder"/cmdline 2>/dev/null)) }is running on the cache $SGR_CACHE; wait for it, or give this one its own: SGR_CACHE=DIR"
	fi
}

# kdoc_strip_place: kernel-doc's warnings on stdin without their file and
# line: "FILE:LINE: warning: ..." (6.12's kernel-doc) and "Warning:
# FILE:LINE ..." (7.3's).
kdoc_strip_place() { sed -E 's/^(Warning: )?[^ :]+:[0-9]+:? //'; }

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
	sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^[[:space:]]*$/d' "$STACK_SERIES" | awk '{print $1}'
}

# check_series: the stack's series and patch directory list the same files.
check_series() {
	local p rc=0 rp=${STACK_PATCHES#"$REPO_DIR"/}/ rs=${STACK_SERIES#"$REPO_DIR"/}
	[ -f "$STACK_SERIES" ] || die "no $rs in $REPO_DIR (stack $STACK)"
	for p in $(series_patches); do
		[ -f "$STACK_PATCHES/$p" ] || { echo "$rs lists $p, which is not in $rp" >&2; rc=1; }
	done
	for p in "$STACK_PATCHES"/*.patch; do
		[ -e "$p" ] || continue
		series_patches | grep -qxF "${p##*/}" || { echo "$rp${p##*/} is not listed in $rs" >&2; rc=1; }
	done
	if [ -n "$(series_patches | sort | uniq -d)" ]; then
		echo "$rs lists a patch twice: $(series_patches | sort | uniq -d | tr '\n' ' ')" >&2
		rc=1
	fi
	return $rc
}

# The gates table of make check (tools/results.py gates): the stage that
# decides a gate for a patch writes its row, and the table is rendered from
# the rows alone.  A row: stack, patch (its file in the series), gate
# (checkpatch, b4 --check, build, git am, quilt), status (ok, FAIL, not
# tried, not built) and a reason, tab-separated.
#
# gate_row FILE PATCH GATE STATUS [REASON]: append one row for $STACK (no
# FILE: nothing).
gate_row() {
	[ -n "$1" ] || return 0
	printf '%s\t%s\t%s\t%s\t%s\n' "$STACK" "$2" "$3" "$4" \
		"$(printf '%s' "${5:-}" | tr '\t\n' '  ')" >>"$1"
}

# series_patch N: the Nth patch of the stack's series (from 1), or
# "patch N" where the series has fewer.
series_patch() {
	local p
	p=$(series_patches | sed -n "${1}p")
	echo "${p:-patch $1}"
}

# warnings_in TREE LIST [LOG]: the compiler's (or sparse's) warnings and
# errors in LOG (default: stdin) that are in a file LIST names (one path of
# TREE a line), each as "path:line:col: warning: ...", the path relative to
# TREE: with O= outside the tree, kbuild names a file by its absolute path.
warnings_in() {
	awk -v top="$(realpath "$1")/" '
		NR == FNR { if ($0 != "") want[$0] = 1; next }
		{
			line = $0
			if (index(line, top) == 1) line = substr(line, length(top) + 1)
			sub(/^\.\//, "", line)
			if (!match(line, /^[^:]+:[0-9]+:[0-9]+: (warning|error):/)) next
			split(line, f, ":")
			if (f[1] in want) print line
		}' "$2" "${3:--}"
}
