// SPDX-License-Identifier: GPL-2.0
/*
 * sgr_mark - write an ordered marker that QEMU traces.
 *
 * The guest's iotlb test brackets its phases with markers that the host
 * must place exactly among the IOMMU's own QEMU trace events.  A wall
 * clock cannot do that; a write to PCI configuration space can: QEMU
 * traces it (trace event pci_cfg_write) on the vCPU that made it, in
 * order with the events of the emulated IOMMU.  The device is a spare
 * edu that no driver binds (tools/vm attaches it at 00:13.0).
 *
 * Protocol (the host's reader, tools/iotlb.py, decodes the same):
 *
 *   Every marker is one 32-bit little-endian write (pwrite of 4 bytes) at
 *   offset 0x3c of /sys/bus/pci/devices/BDF/config (default BDF
 *   0000:00:13.0), of the value
 *
 *       (tag << 24) | (payload & 0xffffff)
 *
 *   tag 0x53 'S'  phase begin   payload 1: phase "on", 2: "off",
 *                               3: "bounce"
 *   tag 0x45 'E'  phase end     payload as for begin
 *   tag 0x44 'D'  domain        payload: the VT-d domain id of the test
 *                               device's context entry
 *   tag 0x4c 'L'  IOVA, low     payload: bits 0..23 of (iova >> 12)
 *   tag 0x48 'H'  IOVA, high    payload: bits 24..47 of (iova >> 12);
 *                               this write completes the address begun
 *                               by the 0x4c write just before it
 *
 *   An IOVA is page-granular (its low 12 bits are not sent) and must be
 *   below 2^60.  Offset 0x3c is the Interrupt Line register, the only
 *   writable byte of that dword; nothing reads it back.
 *
 * Usage:
 *   sgr_mark [--dev BDF] begin on|off|bounce
 *   sgr_mark [--dev BDF] end on|off|bounce
 *   sgr_mark [--dev BDF] iova 0xADDR
 *   sgr_mark [--dev BDF] domain N
 *
 * Exit status: 0 written, 1 the open or a write failed, 2 bad arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_BDF		"0000:00:13.0"
/* Overridable for a test build on the host: -DPCI_DEVICES=/tmp/fake */
#ifndef PCI_DEVICES
#define PCI_DEVICES		"/sys/bus/pci/devices"
#endif
#define MARK_OFFSET		0x3c

#define TAG_BEGIN		0x53
#define TAG_END			0x45
#define TAG_DOMAIN		0x44
#define TAG_IOVA_LO		0x4c
#define TAG_IOVA_HI		0x48

#define PHASE_ON		1
#define PHASE_OFF		2
#define PHASE_BOUNCE		3

#define PAYLOAD_MASK		0xffffffu
#define IOVA_LIMIT		(1ULL << 60)
#define PAGE_SHIFT_4K		12

#define EXIT_WRITE		1
#define EXIT_USAGE		2

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sgr_mark [--dev BDF] begin on|off|bounce\n"
		"       sgr_mark [--dev BDF] end on|off|bounce\n"
		"       sgr_mark [--dev BDF] iova 0xADDR\n"
		"       sgr_mark [--dev BDF] domain N\n"
		"\n"
		"Writes a marker into PCI configuration space of BDF (default\n"
		DEFAULT_BDF ") at offset 0x3c, where QEMU traces it\n"
		"(pci_cfg_write) in order with the IOMMU's trace events.\n"
		"Exit status: 0 written, 1 write failed, 2 bad arguments.\n");
}

__attribute__((format(printf, 1, 2)))
static int bad_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("sgr_mark: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(see sgr_mark --help)\n", stderr);
	return EXIT_USAGE;
}

/* A whole unsigned number (decimal, or hex with 0x); 0 if it is one. */
static int parse_u64(const char *s, uint64_t *v)
{
	unsigned long long x;
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || *end)
		return -1;
	*v = x;
	return 0;
}

static int parse_phase(const char *s, uint32_t *payload)
{
	if (!strcmp(s, "on"))
		*payload = PHASE_ON;
	else if (!strcmp(s, "off"))
		*payload = PHASE_OFF;
	else if (!strcmp(s, "bounce"))
		*payload = PHASE_BOUNCE;
	else
		return -1;
	return 0;
}

static uint32_t marker(unsigned int tag, uint64_t payload)
{
	return (uint32_t)tag << 24 | (uint32_t)(payload & PAYLOAD_MASK);
}

static int write_markers(const char *bdf, const uint32_t *vals, unsigned int n)
{
	char path[256];
	unsigned int i;
	int fd;

	if (snprintf(path, sizeof(path), PCI_DEVICES "/%s/config", bdf) >= (int)sizeof(path)) {
		fprintf(stderr, "sgr_mark: device name too long: %s\n", bdf);
		return EXIT_USAGE;
	}
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "sgr_mark: open %s: %s\n", path, strerror(errno));
		return EXIT_WRITE;
	}
	for (i = 0; i < n; i++) {
		/* Little-endian whatever the host: the kernel composes the
		 * dword from the bytes in this order. */
		unsigned char b[4] = {
			vals[i] & 0xff, vals[i] >> 8 & 0xff,
			vals[i] >> 16 & 0xff, vals[i] >> 24 & 0xff,
		};
		ssize_t w = pwrite(fd, b, sizeof(b), MARK_OFFSET);

		if (w != (ssize_t)sizeof(b)) {
			fprintf(stderr, "sgr_mark: write 0x%08" PRIx32 " at 0x%x of %s: %s\n",
				vals[i], MARK_OFFSET, path,
				w < 0 ? strerror(errno) : "short write");
			close(fd);
			return EXIT_WRITE;
		}
	}
	if (close(fd)) {
		fprintf(stderr, "sgr_mark: close %s: %s\n", path, strerror(errno));
		return EXIT_WRITE;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *bdf = DEFAULT_BDF;
	uint32_t vals[2], payload;
	unsigned int n = 0;
	const char *what, *arg;
	uint64_t v;
	int i = 1;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc > i && !strcmp(argv[i], "--dev")) {
		if (argc <= i + 1)
			return bad_usage("--dev needs a PCI address");
		bdf = argv[i + 1];
		if (!*bdf || strchr(bdf, '/') || !strcmp(bdf, ".") || !strcmp(bdf, ".."))
			return bad_usage("bad PCI address '%s'", bdf);
		i += 2;
	}
	if (argc - i != 2)
		return bad_usage("want one marker and its argument");
	what = argv[i];
	arg = argv[i + 1];

	if (!strcmp(what, "begin") || !strcmp(what, "end")) {
		if (parse_phase(arg, &payload))
			return bad_usage("a phase is 'on', 'off' or 'bounce', not '%s'", arg);
		vals[n++] = marker(what[0] == 'b' ? TAG_BEGIN : TAG_END, payload);
	} else if (!strcmp(what, "iova")) {
		if (parse_u64(arg, &v))
			return bad_usage("bad IOVA '%s' (a number, e.g. 0xfffff000)", arg);
		if (v >= IOVA_LIMIT)
			return bad_usage("IOVA %s is not below 2^60", arg);
		v >>= PAGE_SHIFT_4K;
		vals[n++] = marker(TAG_IOVA_LO, v);
		vals[n++] = marker(TAG_IOVA_HI, v >> 24);
	} else if (!strcmp(what, "domain")) {
		if (parse_u64(arg, &v))
			return bad_usage("bad domain id '%s'", arg);
		if (v > PAYLOAD_MASK)
			return bad_usage("domain id %s is above 0xffffff", arg);
		vals[n++] = marker(TAG_DOMAIN, v);
	} else {
		return bad_usage("unknown marker '%s' (begin, end, iova, domain)", what);
	}
	return write_markers(bdf, vals, n);
}
