# Entry points; the work is done by tools/ (see README.md).
#   make demo    build, boot VT-d strict, run zswap stress and the benchmark
#   make check   every test: host tests, series, checkpatch, builds, boot matrix
#   make stress  the soak: every mode, 1 GiB through zswap under teardown loops
#   make test-host   only the host-side tests of the tools (seconds)

.PHONY: all demo check stress test-host deps base apply build initramfs export help

all: help

help:
	@sed -n 's/^#   //p' Makefile

deps:
	tools/deps

demo:
	tools/demo

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
