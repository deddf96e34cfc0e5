# shellcheck shell=bash
# The gates of make check that apply the series as reviewers do (git am of
# the mails, quilt, b4 prep --check), each writing its rows of the gates
# table (gate_row, tools/lib.sh).  Sourced by tools/check after lib.sh; the
# caller provides RUN, DOC_PFX, GATES, APPLIED, and result STATUS NAME
# [REASON] (one case of the open stage document) and indent.

# gate_tree NAME: a clean worktree of the base tree at the stack's base,
# for applying the series the way a reviewer does ($SGR_WORK/gate-NAME).
gate_tree() {
	local dir=$SGR_WORK/gate-$1 tree=${KSRC:-$BASE_DIR}
	if [ -e "$dir/.git" ]; then
		clear_stale_git_state "$dir"
		git -C "$dir" checkout -q -f --detach "$(base_rev)" >&2 && git -C "$dir" clean -q -fdx >&2
	else
		rm -rf "$dir"
		git -C "$tree" worktree prune
		git -C "$tree" worktree add -q --detach "$dir" "$(base_rev)" >&2
	fi
	echo "$dir"
}

# applied_commits: the commits of the applied tree, one per patch, in order.
applied_commits() {
	git -C "$APPLIED" rev-list --reverse "$(base_rev)..HEAD"
}

# gate_rows GATE FROM TO STATUS [REASON]: the same row for patches FROM to
# TO of the series (TO "end": its last).
gate_rows() {
	local k=$2 to=$3
	[ "$to" != end ] || to=$(series_patches | wc -l)
	while [ "$k" -le "$to" ]; do
		gate_row "$GATES" "$(series_patch "$k")" "$1" "$4" "${5:-}"
		k=$((k + 1))
	done
}

# gate_am MAILDIR: git am of the mails (one mbox, as a reviewer's mail
# client saves them) on a pristine tree gives exactly tools/apply's tree,
# commit by commit.  MAILDIR is b4 send -o's (tools/b4-prep --mails): one
# mail per file, 0000-*.eml the cover letter, 0001-*.eml... the patches;
# the patch mails, in order, make MAILDIR.mbox (mboxrd: a "From " line
# before each mail, and a body line that starts with "From " quoted).
# Rows: where git am stops (its own state, rebase-apply/next) that patch
# fails and the ones after it are not tried; a commit whose patch differs
# from tools/apply's (git patch-id) fails.
gate_am() {
	local mails=$1 gate n amlog k c want got next why ok=1 rdir files=()
	gate=$(gate_tree am)
	mapfile -t files < <(find "$mails" -maxdepth 1 -name '0*.eml' ! -name '0000-*' 2>/dev/null | sort)
	n=${#files[@]}
	amlog=$RUN/${DOC_PFX}am.log
	: >"$amlog"
	if [ "$n" -gt 0 ] && awk 'FNR == 1 { if (NR > 1) print ""; print "From mboxrd@z Thu Jan  1 00:00:00 1970" }
			/^>*From / { $0 = ">" $0 } { print }' "${files[@]}" >"$mails.mbox" &&
		git -C "$gate" -c user.name="sg-reuse tools" -c user.email=sg-reuse@localhost \
			am --no-3way -q --patch-format=mboxrd "$mails.mbox" >"$amlog" 2>&1; then
		mapfile -t want < <(applied_commits)
		mapfile -t got < <(git -C "$gate" rev-list --reverse "$(base_rev)..HEAD")
		for ((k = 1; k <= ${#want[@]} || k <= ${#got[@]}; k++)); do
			c=${got[k - 1]:-}
			if [ -z "$c" ]; then
				why="git am made no commit for it"
			elif [ -z "${want[k - 1]:-}" ]; then
				why="git am made a commit tools/apply does not have"
			elif [ "$(git -C "$gate" show "$c" | git patch-id --stable | cut -d' ' -f1)" != \
				"$(git -C "$APPLIED" show "${want[k - 1]}" | git patch-id --stable | cut -d' ' -f1)" ]; then
				why="its commit differs from tools/apply's (git patch-id)"
			else
				gate_row "$GATES" "$(series_patch "$k")" "git am" ok
				continue
			fi
			gate_row "$GATES" "$(series_patch "$k")" "git am" FAIL "$why"
			ok=0
		done
		if [ "$ok" = 1 ] && [ "$(git -C "$gate" rev-parse 'HEAD^{tree}')" = "$(git -C "$APPLIED" rev-parse 'HEAD^{tree}')" ]; then
			result 0 "git am of the $n mails (one mbox) on a pristine tree gives tools/apply's tree"
		else
			result 1 "git am of the $n mails gives tools/apply's tree" "a commit differs (see the gates table)"
		fi
		return 0
	fi
	[ ! -s "$amlog" ] || indent <"$amlog" | tail -n 20 >&2
	rdir=$(git -C "$gate" rev-parse --git-path rebase-apply)
	case $rdir in /*) ;; *) rdir=$gate/$rdir ;; esac
	next=$(cat "$rdir/next" 2>/dev/null || echo 1)
	why=$(grep -m1 '^error:' "$amlog" 2>/dev/null || true)
	git -C "$gate" am --abort >/dev/null 2>&1 || true
	[ "$n" -gt 0 ] || why="no mails in ${mails#"$RUN"/}"
	gate_rows "git am" 1 $((next - 1)) ok
	gate_row "$GATES" "$(series_patch "$next")" "git am" FAIL "${why:-git am stopped here (${amlog#"$RUN"/})}"
	gate_rows "git am" $((next + 1)) end "not tried"
	result 1 "git am of the mails on a pristine tree" \
		"it stopped at $(series_patch "$next")${why:+: $why}"
}

# gate_quilt: quilt push of the patch directory, one patch at a time with
# no fuzz, on a pristine tree: each must apply with no fuzz and no offset,
# and leave exactly the tree of tools/apply's commit for it.  A patch that
# does not fails, and the ones after it are not tried.
gate_quilt() {
	local gate qlog k=0 p out want got why="" total
	gate=$(gate_tree quilt)
	qlog=$RUN/${DOC_PFX}quilt.log
	: >"$qlog"
	local commits
	mapfile -t commits < <(applied_commits)
	total=$(series_patches | wc -l)
	for p in $(series_patches); do
		k=$((k + 1))
		if ! out=$(cd "$gate" && QUILT_PATCHES=$STACK_PATCHES QUILT_SERIES=$STACK_SERIES QUILT_PC=.pc \
			quilt push --fuzz=0 2>&1); then
			why="quilt push refused it: $(grep -m1 -iE 'fail|error|does not|reject' <<<"$out" || tail -n1 <<<"$out")"
		elif grep -qiE 'fuzz|offset' <<<"$out"; then
			why="it applies only with $(grep -m1 -oiE '(with fuzz [0-9]+|offset -?[0-9]+ lines?)' <<<"$out" || echo 'fuzz or an offset')"
		else
			git -C "$gate" add -A -f -- . ':!.pc' >&2
			got=$(git -C "$gate" write-tree)
			want=$(git -C "$APPLIED" rev-parse "${commits[k - 1]:-HEAD}^{tree}" 2>/dev/null || true)
			[ "$got" = "$want" ] || why="the tree after it is $got, tools/apply's $want"
		fi
		printf '%s\n' "$out" >>"$qlog"
		if [ -n "$why" ]; then
			indent <<<"$out" | tail -n 20 >&2
			gate_row "$GATES" "$p" quilt FAIL "$why"
			gate_rows quilt $((k + 1)) end "not tried"
			result 1 "QUILT_PATCHES=${STACK_PATCHES#"$REPO_DIR"/} quilt push --fuzz=0, one patch at a time" "$p: $why"
			return 0
		fi
		gate_row "$GATES" "$p" quilt ok
	done
	rm -rf "$gate/.pc"
	result 0 "QUILT_PATCHES=${STACK_PATCHES#"$REPO_DIR"/} quilt push --fuzz=0, one patch at a time: $total patches, no fuzz, no offset, each tools/apply's tree"
}

# gate_b4 REPORT LOG: the rows of b4 prep --check (tools/b4-prep --check
# --report REPORT, run by the mails' stage; its output in LOG): one per
# patch.  Where b4 prep --check did not run (no branch, no mails) the first
# patch fails with LOG's last error (else its last line) and the rest are
# not tried.
gate_b4() {
	local report=$1 log=$2 status name why k=0
	if [ -s "$report" ]; then
		while IFS=$'\t' read -r status name why; do
			k=$((k + 1))
			if [ "$status" = PASS ]; then
				result 0 "b4 prep --check $name"
				gate_row "$GATES" "$(series_patch "$k")" "b4 --check" ok
			else
				result 1 "b4 prep --check $name" "$why"
				gate_row "$GATES" "$(series_patch "$k")" "b4 --check" FAIL "$why"
			fi
		done <"$report"
	else
		[ ! -s "$log" ] || indent <"$log" | tail -n 20 >&2
		why=$(grep 'error:' "$log" 2>/dev/null | tail -n1 || true)
		[ -n "$why" ] || why=$(tail -n1 "$log" 2>/dev/null || true)
		result 1 "b4 prep branch and b4 prep --check" "${why:-b4 prep --check did not run}"
		gate_row "$GATES" "$(series_patch 1)" "b4 --check" FAIL "b4 prep --check did not run: ${why:-no report}"
		gate_rows "b4 --check" 2 end "not tried"
	fi
}
