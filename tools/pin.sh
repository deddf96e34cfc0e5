# shellcheck shell=bash disable=SC2034 # the variables are for the tools that source this file
# The base trees, pinned: one row per stack.  This is the one place that
# names them: moving a pin is a deliberate change after which that stack is
# re-applied, rebuilt and re-exported (STACK=<name> tools/export) against the
# new base.
#
#   stack   the name tools take (STACK=<name> or --stack <name>)
#   package Debian's linux-source package, and its exact version
#   suite   the suite of the machine's Debian archive that carries it
#           (fetched with a private sources list: the system's is not edited)
#   patches the directory of git format-patch mboxes
#   series  their order (quilt style)
#
# stack package           version             suite             patches              series
SGR_STACKS='
7.3     linux-source-7.3  7.3.4-1~bpo13+1     trixie-backports  patches              series
6.12    linux-source-6.12 6.12.117-1~deb12u1  bookworm-security patches/stable-6.12  patches/stable-6.12/series
'
# The stack of the current kernel: what reviewers apply, and what every tool
# works on unless told otherwise.
SGR_STACK_DEFAULT=7.3
