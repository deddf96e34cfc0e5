# shellcheck shell=sh
# shellcheck disable=SC3043 # local: dash and busybox ash, the two shells that run this, have it
#
# A way into the guest (tools/vm --exec, --shell): sourced by /init (busybox
# ash, as /lib/sgr/exec.sh) and by the host tests (dash).  POSIX sh plus
# "local".  Sourcing it defines functions only.
#
#   sgr.exec=ID   run the one shell command of /etc/sgr-exec instead of the
#                 tests (tools/vm appends a small cpio archive holding it to
#                 a copy of the initramfs, so that the command reaches the
#                 guest byte for byte, blanks and quotes and all, which the
#                 kernel command line would not allow); its output and exit
#                 status go to the KTAP tty, framed by lines that carry ID
#                 (tools/vm draws it at random for each boot):
#
#                   sgr-exec ID begin
#                   <stdout and stderr of the command, as they came>
#                   <an empty line: a newline of the frame, not the output's>
#                   sgr-exec ID exit STATUS
#
#                 A guest that dies before the last line has no status.
#   sgr.shell=1   an interactive shell on the console before powering off:
#                 after the command of sgr.exec, else after the tests of
#                 sgr.tests, and with neither at once (no tests).  Its exit
#                 (or Ctrl-D) powers the guest off.

# The shell the command and the interactive shell run in (the host tests
# run the guest's code under dash).
SGR_SH=${SGR_SH:-sh}
# The prompt of the interactive shell; tools/vm waits for it before it
# sends piped input to the console.
SGR_PS1='sgr-guest# '

# sgr_exec ID FILE: run the shell command in FILE (sh -c), stdin from
# /dev/null, stdout and stderr on fd $KTAP_FD between the frame's lines;
# returns the command's status (127 when FILE is missing).
sgr_exec() {
	local id="$1" file="$2" cmd rc=0
	case $id in
	''|*[!0-9a-zA-Z]*)
		echo "sgr: bad sgr.exec id '$id'" >/dev/console
		return 2 ;;
	esac
	printf 'sgr-exec %s begin\n' "$id" >&"$KTAP_FD"
	if [ -r "$file" ]; then
		cmd=$(cat "$file")
		"$SGR_SH" -c "$cmd" </dev/null >&"$KTAP_FD" 2>&1 || rc=$?
	else
		echo "sgr: no $file in the initramfs" >&"$KTAP_FD"
		rc=127
	fi
	printf '\nsgr-exec %s exit %d\n' "$id" "$rc" >&"$KTAP_FD"
	return "$rc"
}

# sgr_shell: an interactive shell on the console, the console its
# controlling tty (job control, Ctrl-C) when busybox has setsid and
# cttyhack; returns when it exits.
sgr_shell() {
	echo "sgr: shell on the console: 'exit' or Ctrl-D powers the guest off" >/dev/console
	if command -v setsid >/dev/null 2>&1 && command -v cttyhack >/dev/null 2>&1; then
		PS1=$SGR_PS1 setsid cttyhack "$SGR_SH" -i
	else
		PS1=$SGR_PS1 "$SGR_SH" -i </dev/console >/dev/console 2>&1
	fi
}

# sgr_end: the end of /init: the KTAP tty closed (its last lines drained to
# the host first), the shell of sgr.shell=1, then power off.
sgr_end() {
	exec 3>&-
	[ "$(param shell 0)" != 1 ] || sgr_shell
	sync
	poweroff -f
}
