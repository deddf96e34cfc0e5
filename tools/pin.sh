# shellcheck shell=bash disable=SC2034 # the variables are for the tools that source this file
# The base tree, pinned.  This is the one place that names it: moving the pin
# is a deliberate change after which the series is re-applied, rebuilt and
# re-exported (tools/export) against the new base.
BASE_PKG=linux-source-6.12
BASE_VERSION=6.12.117-1~deb12u1
