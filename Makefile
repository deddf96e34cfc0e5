# Entry points; the work is done by tools/ (see README.md).
#   make demo    benchmark kernel, six IOMMU modes, map methods + zswap A/B, report
#   make bench   the same with 5 s per run and 64 MiB zswap passes
#   make check   every test: host tests, series, checkpatch, builds, boot matrix
#   make stress  the soak (every mode, 1 GiB through zswap under teardown loops) and the full builds make check leaves out
#   make test-host   only the host-side tests of the tools (seconds)

.PHONY: all demo bench check stress test-host deps base apply build initramfs export help

all: help

help:
	@sed -n 's/^#   //p' Makefile

deps:
	tools/deps

demo:
	tools/demo

bench:
	tools/demo --seconds 5 --zswap-mib 64

check:
	tools/check

stress:
	tools/check --stress

test-host:
	python3 tests/host/run.py

base:
	tools/base-tree

apply:
	tools/apply

build:
	tools/build

initramfs:
	tools/initramfs

export:
	tools/export
