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

# The series as it is mailed: its revision, its subject prefix (the
# 6.12 backport adds its stack name: "[RFC PATCH 6.12 v2 n/N]"), and the
# change-id that b4 keeps across revisions.  The mails are b4's
# (tools/mails): the b4 prep branch's prefixes are SGR_PREFIX's words, and
# b4 writes PATCH where they put it, so its subjects are the patch files'.
# A new revision moves SGR_REVISION, then every stack is re-exported
# (tools/export) and the cover letter regenerated (tools/cover).
SGR_REVISION=3
SGR_PREFIX='RFC PATCH'
SGR_CHANGE_ID=20261121-dma-reuse-cache-5c1e0a
SGR_SERIES_NAME=dma-reuse-cache

# The b4 that tools/b4-prep and make check run: b4 prep --check needs b4
# 0.13 or later and bookworm has 0.12, so this is Debian's b4 from the
# suite below, downloaded with a private sources list and unpacked into the
# cache (nothing installed); it runs on Debian's python3 with the
# dependencies of bookworm's b4 package, which are the same.
SGR_B4_VERSION=0.14.2-2
SGR_B4_SUITE=trixie

# The sparse that make check's lint stage runs: the 7.3 tree's
# scripts/checker-valid.sh wants __typeof_unqual__, which bookworm's sparse
# 0.6.4 lacks (kbuild would skip the check), and the binary packages of a
# newer sparse need a newer glibc than bookworm's.  So this is the source
# package of the suite below, fetched with a private sources list (a
# deb-src line) and built with the machine's gcc into the cache
# (tools/lib.sh's sparse_setup; nothing installed).
SGR_SPARSE_VERSION=0.6.5~rc1-2
SGR_SPARSE_SUITE=unstable
