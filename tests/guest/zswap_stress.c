// SPDX-License-Identifier: GPL-2.0
/*
 * zswap_stress - push verifiable anonymous memory through zswap and back.
 *
 * Every pass maps an anonymous region, fills each page with content that
 * is a deterministic function of (seed, pass, page index) and compresses
 * to about half a page, forces the region out to swap (the caller's
 * memory.max, memory.reclaim and MADV_PAGEOUT), reads it back and compares
 * every byte.  The swap and zswap event counters tell whether the pages
 * really went through zswap.
 *
 * The result is a KTAP subtest body, indented by four spaces, with three
 * cases per pass, each pass's numbers in one record before its cases:
 * "# SGR STRESS name=NAME pass=N key=value ..." (the dialect and its keys
 * are described at the top of tests/guest/lib.sh).  See usage() for the
 * options and the exit status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT		21
#endif

#define EXIT_ALL_PASSED		0
#define EXIT_CASE_FAILED	1
#define EXIT_USAGE		2
#define EXIT_SETUP		3

#define CASES_PER_PASS		3
#define MAX_PASSES		100000u
#define MAX_MISMATCH_LINES	5
#define RECLAIM_TRIES		5

#define PAGE_MAGIC		0x7a737770u	/* "zswp" */
#define CHUNK_WORDS		8		/* 64-byte chunks */
#define NONZERO_BYTES		0x0101010101010101ULL
#define GOLDEN_GAMMA		0x9e3779b97f4a7c15ULL

#define ZSWAP_ENABLED_PATH	"/sys/module/zswap/parameters/enabled"
#define ZSWAP_STORED_PATH	"/sys/kernel/debug/zswap/stored_pages"
#define VMSTAT_PATH		"/proc/vmstat"

#define KTAP_INDENT		"    "

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))

struct options {
	size_t size_mib;
	unsigned int passes;
	uint64_t seed;
	const char *cgroup;
	unsigned int min_coverage;
	const char *name;
};

/* Event counters; the cgroup ones are only read with --cgroup. */
struct counters {
	uint64_t pswpin;
	uint64_t pswpout;
	uint64_t zswpin;
	uint64_t zswpout;
	int64_t zswpwb;		/* -1 when the kernel does not report it */
	uint64_t cg_zswpin;
	uint64_t cg_zswpout;
};

/* The first 32 bytes of every page. */
struct page_header {
	uint32_t magic;
	uint32_t pass;
	uint64_t index;
	uint64_t seed;
	uint64_t checksum;	/* of the rest of the page */
};

_Static_assert(sizeof(struct page_header) == 32, "page header must be 32 bytes");

struct region {
	unsigned char *base;
	size_t bytes;
	size_t page_size;
	size_t pages;
	uint64_t seed;
	unsigned int pass;
};

/* A pass's numbers: its STRESS record and the verdicts of its cases. */
struct pass_result {
	size_t pages;
	uint64_t seed;
	uint64_t swapout_rate;
	long long stored_pages;	/* after the swap-out; -1: unreadable */
	uint64_t swapin_rate;
	uint64_t mismatches;
	uint64_t zswpout;	/* with --cgroup, the cgroup's */
	uint64_t zswpin;
	struct counters before;
	struct counters after;
};

static const char *const case_names[CASES_PER_PASS] = {
	"data_verified",
	"zswap_stored",
	"zswap_loaded",
};

/* ------------------------------------------------------------------ */
/* Output                                                              */

static const char usage_text[] =
	"Usage: zswap_stress [--size MIB] [--passes N] [--seed S] [--cgroup DIR]\n"
	"                    [--min-coverage PCT] [--name NAME]\n"
	"\n"
	"Fill anonymous memory with verifiable pages that compress about 2:1,\n"
	"force them out through zswap, read them back and compare every byte.\n"
	"Prints a KTAP subtest body (every line indented by four spaces) with\n"
	"three cases per pass: passN_data_verified, passN_zswap_stored and\n"
	"passN_zswap_loaded.  Before them, once the pass is done, one line\n"
	"holds its numbers (tests/guest/lib.sh describes the dialect):\n"
	"\n"
	"  # SGR STRESS name=NAME pass=N pages=N seed=N swapout_pages_per_s=N\n"
	"    zswap_stored_pages=N swapin_pages_per_s=N mismatches=N zswpout=N\n"
	"    zswpin=N pswpout=N pswpin=N [vmstat_zswpout=N vmstat_zswpin=N]\n"
	"    [zswpwb=N]\n"
	"\n"
	"the pass's counts of swap events (zswpout and zswpin the cgroup's with\n"
	"--cgroup, and vmstat_* the system's; zswpwb if the kernel counts it);\n"
	"zswap_stored_pages after the swap-out, -1 if unreadable.  A pass that\n"
	"fails its setup has no such line.\n"
	"\n"
	"  --size MIB          anonymous memory written per pass (default 256)\n"
	"  --passes N          number of fill/swap-out/verify cycles (default 1)\n"
	"  --seed S            base seed of the page content (default 1)\n"
	"  --cgroup DIR        cgroup v2 directory this process already runs in,\n"
	"                      with memory.max below --size; enables\n"
	"                      memory.reclaim and the memory.stat zswap counters\n"
	"                      (default: none, use /proc/vmstat only)\n"
	"  --min-coverage PCT  zswpout and zswpin must each reach PCT percent\n"
	"                      of the pages (0-100, default 90)\n"
	"  --name NAME         KTAP subtest name and the records' name=, without\n"
	"                      blanks, '#' or line breaks (default zswap_stress)\n"
	"  -h, --help          show this text\n"
	"\n"
	"Exit status: 0 all cases passed, 1 a case failed, 2 usage error,\n"
	"3 setup failed (zswap disabled, mmap failed, counters unreadable).\n";

static void usage(void)
{
	fputs(usage_text, stdout);
}

__attribute__((format(printf, 1, 2)))
static void ktap_line(const char *fmt, ...)
{
	va_list ap;

	fputs(KTAP_INDENT, stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

__attribute__((format(printf, 1, 2)))
static void setup_error(const char *fmt, ...)
{
	va_list ap;

	fputs(KTAP_INDENT "# error: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static unsigned int case_number(unsigned int pass, unsigned int c)
{
	return (pass - 1) * CASES_PER_PASS + c + 1;
}

static void report_ok(unsigned int pass, unsigned int c)
{
	ktap_line("ok %u pass%u_%s", case_number(pass, c), pass, case_names[c]);
}

__attribute__((format(printf, 3, 4)))
static void report_not_ok(unsigned int pass, unsigned int c,
			  const char *fmt, ...)
{
	va_list ap;

	printf(KTAP_INDENT "not ok %u pass%u_%s # ",
	       case_number(pass, c), pass, case_names[c]);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Fail every case from @first_pass on, so that the plan still matches. */
static void report_setup_failed(const struct options *o,
				unsigned int first_pass)
{
	unsigned int pass, c;

	for (pass = first_pass; pass <= o->passes; pass++)
		for (c = 0; c < CASES_PER_PASS; c++)
			report_not_ok(pass, c, "setup failed");
}

/* ------------------------------------------------------------------ */
/* Option parsing                                                      */

static bool parse_u64(const char *s, uint64_t min, uint64_t max,
		      uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* A KTAP name and a record's value: no blank, '#' or line break. */
static bool valid_name(const char *name)
{
	return *name && !strpbrk(name, "# \t\n\r\v\f");
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "size",	  required_argument, NULL, 's' },
		{ "passes",	  required_argument, NULL, 'p' },
		{ "seed",	  required_argument, NULL, 'S' },
		{ "cgroup",	  required_argument, NULL, 'c' },
		{ "min-coverage", required_argument, NULL, 'm' },
		{ "name",	  required_argument, NULL, 'n' },
		{ "help",	  no_argument,	     NULL, 'h' },
		{ NULL,		  0,		     NULL, 0 },
	};
	uint64_t v;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (!parse_u64(optarg, 1, SIZE_MAX >> 20, &v)) {
				fprintf(stderr, "zswap_stress: --size wants a positive number of MiB, got '%s'\n",
					optarg);
				return -1;
			}
			o->size_mib = v;
			break;
		case 'p':
			if (!parse_u64(optarg, 1, MAX_PASSES, &v)) {
				fprintf(stderr, "zswap_stress: --passes wants 1..%u, got '%s'\n",
					MAX_PASSES, optarg);
				return -1;
			}
			o->passes = (unsigned int)v;
			break;
		case 'S':
			if (!parse_u64(optarg, 0, UINT64_MAX, &v)) {
				fprintf(stderr, "zswap_stress: --seed wants an unsigned decimal number, got '%s'\n",
					optarg);
				return -1;
			}
			o->seed = v;
			break;
		case 'c':
			if (!*optarg) {
				fprintf(stderr, "zswap_stress: --cgroup wants a directory\n");
				return -1;
			}
			o->cgroup = optarg;
			break;
		case 'm':
			if (!parse_u64(optarg, 0, 100, &v)) {
				fprintf(stderr, "zswap_stress: --min-coverage wants 0..100, got '%s'\n",
					optarg);
				return -1;
			}
			o->min_coverage = (unsigned int)v;
			break;
		case 'n':
			if (!valid_name(optarg)) {
				fprintf(stderr, "zswap_stress: --name must be non-empty, without blanks, '#' or line breaks\n");
				return -1;
			}
			o->name = optarg;
			break;
		case 'h':
			usage();
			exit(EXIT_ALL_PASSED);
		default:
			return -1;	/* getopt_long said why */
		}
	}
	if (optind < argc) {
		fprintf(stderr, "zswap_stress: unexpected argument '%s'\n",
			argv[optind]);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Reading kernel files                                                */

/* Read a whole (pseudo) file into a NUL-terminated buffer; errno on NULL. */
static char *read_text_file(const char *path)
{
	size_t cap = 4096, len = 0;
	char *buf, *bigger;
	ssize_t n;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = malloc(cap);
	if (!buf)
		goto fail;
	for (;;) {
		if (cap - len < 2) {
			bigger = realloc(buf, cap * 2);
			if (!bigger)
				goto fail;
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
fail:
	err = errno;
	free(buf);
	close(fd);
	errno = err;
	return NULL;
}

/* Find "key value" on a line of its own; false if absent or malformed. */
static bool find_counter(const char *text, const char *key, uint64_t *val)
{
	size_t klen = strlen(key);
	const char *line = text;
	unsigned long long v;
	char *end;

	while (line && *line) {
		if (!strncmp(line, key, klen) && line[klen] == ' ') {
			const char *num = line + klen + 1;

			if (*num < '0' || *num > '9')
				return false;
			errno = 0;
			v = strtoull(num, &end, 10);
			if (errno || (*end && *end != '\n'))
				return false;
			*val = v;
			return true;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return false;
}

/* Read @path for its counters; prints the error and returns NULL on failure. */
static char *read_counter_file(const char *path)
{
	char *text = read_text_file(path);

	if (!text)
		setup_error("cannot read %s: %s", path, strerror(errno));
	return text;
}

static int require_counters(const char *text, const char *path,
			    const char *const *keys, uint64_t *const *vals,
			    size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!find_counter(text, keys[i], vals[i])) {
			setup_error("counter %s missing or malformed in %s",
				    keys[i], path);
			return -1;
		}
	}
	return 0;
}

static int read_vmstat(struct counters *c)
{
	static const char *const keys[] = {
		"pswpin", "pswpout", "zswpin", "zswpout",
	};
	uint64_t *const vals[] = {
		&c->pswpin, &c->pswpout, &c->zswpin, &c->zswpout,
	};
	char *text = read_counter_file(VMSTAT_PATH);
	uint64_t wb;
	int err;

	if (!text)
		return -1;
	err = require_counters(text, VMSTAT_PATH, keys, vals,
			       ARRAY_SIZE(keys));
	/* zswpwb is informational only; older kernels lack it. */
	c->zswpwb = -1;
	if (find_counter(text, "zswpwb", &wb) && wb <= INT64_MAX)
		c->zswpwb = wb;
	free(text);
	return err;
}

static int cgroup_path(const char *dir, const char *file, char *buf,
		       size_t len)
{
	int n = snprintf(buf, len, "%s/%s", dir, file);

	if (n < 0 || (size_t)n >= len) {
		setup_error("cgroup path too long: %s/%s", dir, file);
		return -1;
	}
	return 0;
}

static int read_memcg_stat(const char *dir, struct counters *c)
{
	static const char *const keys[] = { "zswpin", "zswpout" };
	uint64_t *const vals[] = { &c->cg_zswpin, &c->cg_zswpout };
	char path[PATH_MAX];
	char *text;
	int err;

	if (cgroup_path(dir, "memory.stat", path, sizeof(path)))
		return -1;
	text = read_counter_file(path);
	if (!text)
		return -1;
	err = require_counters(text, path, keys, vals, ARRAY_SIZE(keys));
	free(text);
	return err;
}

static int snapshot_counters(const struct options *o, struct counters *c)
{
	memset(c, 0, sizeof(*c));
	if (read_vmstat(c))
		return -1;
	if (o->cgroup && read_memcg_stat(o->cgroup, c))
		return -1;
	return 0;
}

static int check_zswap_enabled(void)
{
	char *text = read_text_file(ZSWAP_ENABLED_PATH);

	if (!text) {
		setup_error("zswap unavailable: cannot read %s: %s",
			    ZSWAP_ENABLED_PATH, strerror(errno));
		return -1;
	}
	if (text[0] != 'Y') {
		text[strcspn(text, "\n")] = '\0';
		setup_error("zswap is disabled: %s reads '%s', want 'Y'",
			    ZSWAP_ENABLED_PATH, text);
		free(text);
		return -1;
	}
	free(text);
	return 0;
}

/* Pages zswap holds right now, system wide; -1 if debugfs is unreadable. */
static long long read_zswap_stored_pages(void)
{
	char *text = read_text_file(ZSWAP_STORED_PATH);
	long long v = -1;
	char *end;

	if (!text)
		return -1;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno || end == text || (*end && *end != '\n') || v < 0)
		v = -1;
	free(text);
	return v;
}

/* ------------------------------------------------------------------ */
/* Page content                                                        */

static uint64_t mix64(uint64_t x)
{
	x += GOLDEN_GAMMA;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t xorshift64(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

static uint64_t checksum_step(uint64_t sum, uint64_t word)
{
	sum ^= word;
	sum *= 0x100000001b3ULL;
	return (sum << 29) | (sum >> 35);
}

static uint64_t checksum_init(void)
{
	return 0xcbf29ce484222325ULL;
}

static uint64_t load_word(const unsigned char *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return w;
}

static uint64_t checksum_body(const unsigned char *body, size_t len)
{
	uint64_t sum = checksum_init();
	size_t off;

	for (off = 0; off + sizeof(uint64_t) <= len; off += sizeof(uint64_t))
		sum = checksum_step(sum, load_word(body + off));
	return sum;
}

static uint64_t pass_seed(uint64_t base_seed, unsigned int pass)
{
	return base_seed + pass - 1;
}

/*
 * Write page @index of region @r into @dst: the header, then 64-byte
 * chunks alternating between xorshift64 noise (incompressible) and a
 * repeated non-zero word derived from the index (highly compressible),
 * which lz4 stores at roughly half a page.
 */
static void generate_page(const struct region *r, uint64_t index,
			  unsigned char *dst)
{
	struct page_header h = {
		.magic = PAGE_MAGIC,
		.pass = r->pass,
		.index = index,
		.seed = r->seed,
	};
	uint64_t state = mix64(r->seed ^ mix64(((uint64_t)r->pass << 32) ^ index));
	uint64_t pattern = mix64(~index ^ (r->seed * GOLDEN_GAMMA)) | NONZERO_BYTES;
	size_t words = (r->page_size - sizeof(h)) / sizeof(uint64_t);
	unsigned char *body = dst + sizeof(h);
	uint64_t sum = checksum_init();
	uint64_t w;
	size_t i;

	if (!state)
		state = GOLDEN_GAMMA;
	for (i = 0; i < words; i++) {
		if ((i / CHUNK_WORDS) % 2 == 0)
			w = xorshift64(&state);
		else
			w = pattern;
		memcpy(body + i * sizeof(w), &w, sizeof(w));
		sum = checksum_step(sum, w);
	}
	h.checksum = sum;
	memcpy(dst, &h, sizeof(h));
}

static void fill_region(const struct region *r)
{
	size_t i;

	for (i = 0; i < r->pages; i++)
		generate_page(r, i, r->base + i * r->page_size);
}

/* ------------------------------------------------------------------ */
/* Swap-out                                                            */

static int write_reclaim_once(int fd, const char *req, size_t len)
{
	ssize_t n = write(fd, req, len);

	if (n == (ssize_t)len)
		return 0;
	if (n >= 0)
		return EAGAIN;	/* partial: treat like "could not reclaim all" */
	return errno;
}

/* Ask the cgroup to reclaim the whole region; errors are only reported. */
static void reclaim_cgroup(const char *dir, size_t bytes)
{
	char path[PATH_MAX], req[32];
	int fd, err = 0, tries;
	size_t len;

	if (cgroup_path(dir, "memory.reclaim", path, sizeof(path)))
		return;
	snprintf(req, sizeof(req), "%zu", bytes);
	len = strlen(req);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		ktap_line("# reclaim: %s: %s", path, strerror(errno));
		return;
	}
	for (tries = 0; tries < RECLAIM_TRIES; tries++) {
		err = write_reclaim_once(fd, req, len);
		if (err != EAGAIN && err != EINTR)
			break;
	}
	if (err)
		ktap_line("# reclaim: %s", strerror(err));
	if (close(fd))
		ktap_line("# reclaim: close: %s", strerror(errno));
}

static void page_out(const struct options *o, const struct region *r)
{
	if (o->cgroup)
		reclaim_cgroup(o->cgroup, r->bytes);
	if (madvise(r->base, r->bytes, MADV_PAGEOUT))
		ktap_line("# pageout: %s", strerror(errno));
}

/* ------------------------------------------------------------------ */
/* Verification                                                        */

static sigjmp_buf sigbus_env;
static volatile sig_atomic_t sigbus_armed;

static void on_sigbus(int sig)
{
	if (!sigbus_armed) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	siglongjmp(sigbus_env, 1);
}

/* Say what a wrong page holds instead: another intact page, or garbage. */
static void describe_wrong_page(const struct region *r, size_t index,
				const unsigned char *got)
{
	size_t body_len = r->page_size - sizeof(struct page_header);
	struct page_header h;
	size_t i;

	for (i = 0; i < r->page_size && !got[i]; i++)
		;
	if (i == r->page_size) {
		ktap_line("# mismatch_detail: page=%zu zero-filled", index);
		return;
	}
	memcpy(&h, got, sizeof(h));
	if (h.magic == PAGE_MAGIC &&
	    h.checksum == checksum_body(got + sizeof(h), body_len)) {
		ktap_line("# mismatch_detail: page=%zu intact copy of page=%" PRIu64
			  " pass=%" PRIu32 " seed=%" PRIu64,
			  index, h.index, h.pass, h.seed);
		return;
	}
	ktap_line("# mismatch_detail: page=%zu corrupt", index);
}

static void report_mismatch(const struct region *r, size_t index,
			    const unsigned char *got,
			    const unsigned char *want)
{
	size_t off;

	for (off = 0; off < r->page_size; off += sizeof(uint64_t))
		if (load_word(got + off) != load_word(want + off))
			break;
	if (off >= r->page_size)
		off = 0;	/* memcmp and the word loop disagree: re-read */
	ktap_line("# mismatch: page=%zu offset=%zu expected=0x%016" PRIx64
		  " got=0x%016" PRIx64, index, off,
		  load_word(want + off), load_word(got + off));
	describe_wrong_page(r, index, got);
}

/* Compare page @index with its expected content; true if it matches. */
static bool verify_page(const struct region *r, size_t index,
			unsigned char *expected, uint64_t mismatches)
{
	const unsigned char *got = r->base + index * r->page_size;

	generate_page(r, index, expected);
	if (!memcmp(got, expected, r->page_size))
		return true;
	if (mismatches < MAX_MISMATCH_LINES)
		report_mismatch(r, index, got, expected);
	return false;
}

/*
 * Read every page back in order.  A page whose swap-in fails raises
 * SIGBUS; it is counted as a mismatch and the scan goes on.
 */
static uint64_t verify_region(const struct region *r, unsigned char *expected)
{
	volatile size_t index = 0;
	volatile uint64_t mismatches = 0;

	if (sigsetjmp(sigbus_env, 1)) {
		sigbus_armed = 0;
		if (mismatches < MAX_MISMATCH_LINES)
			ktap_line("# sigbus: page=%zu", (size_t)index);
		mismatches = mismatches + 1;
		index = index + 1;
	}
	sigbus_armed = 1;
	for (; index < r->pages; index = index + 1)
		if (!verify_page(r, index, expected, mismatches))
			mismatches = mismatches + 1;
	sigbus_armed = 0;
	return mismatches;
}

static int install_sigbus_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigbus;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL)) {
		setup_error("sigaction(SIGBUS): %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* One pass                                                            */

static uint64_t now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		return 0;	/* cannot fail for CLOCK_MONOTONIC */
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint64_t pages_per_second(size_t pages, uint64_t t0, uint64_t t1)
{
	uint64_t ns = t1 > t0 ? t1 - t0 : 1;

	return (uint64_t)((double)pages * 1e9 / (double)ns);
}

static uint64_t delta(uint64_t before, uint64_t after)
{
	return after >= before ? after - before : 0;
}

static int map_region(const struct options *o, unsigned int pass,
		      struct region *r)
{
	long psz = sysconf(_SC_PAGESIZE);

	if (psz < (long)(2 * sizeof(struct page_header))) {
		setup_error("sysconf(_SC_PAGESIZE) gave %ld", psz);
		return -1;
	}
	r->page_size = psz;
	r->bytes = o->size_mib << 20;
	r->pages = r->bytes / r->page_size;
	r->pass = pass;
	r->seed = pass_seed(o->seed, pass);
	r->base = mmap(NULL, r->bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->base == MAP_FAILED) {
		setup_error("mmap of %zu MiB failed: %s", o->size_mib,
			    strerror(errno));
		return -1;
	}
	/*
	 * zswap in 6.12 rejects large folios, so keep THP and mTHP out of
	 * the region.  EINVAL only means the kernel has no THP at all.
	 */
	if (madvise(r->base, r->bytes, MADV_NOHUGEPAGE) && errno != EINVAL)
		ktap_line("# nohugepage: %s", strerror(errno));
	return 0;
}

static void unmap_region(struct region *r)
{
	if (munmap(r->base, r->bytes))
		ktap_line("# munmap: %s", strerror(errno));
	r->base = NULL;
}

/* Fill, swap out, read back; fills @res.  -1 on a setup failure. */
static int exercise_region(const struct options *o, struct region *r,
			   struct pass_result *res)
{
	unsigned char *expected;
	uint64_t t0, t1;

	expected = malloc(r->page_size);
	if (!expected) {
		setup_error("cannot allocate a %zu byte page buffer",
			    r->page_size);
		return -1;
	}

	t0 = now_ns();
	fill_region(r);
	page_out(o, r);
	t1 = now_ns();
	res->swapout_rate = pages_per_second(r->pages, t0, t1);
	res->stored_pages = read_zswap_stored_pages();

	t0 = now_ns();
	res->mismatches = verify_region(r, expected);
	t1 = now_ns();
	res->swapin_rate = pages_per_second(r->pages, t0, t1);

	free(expected);
	return 0;
}

/* The zswap events of the pass: the cgroup's with --cgroup, else vmstat's. */
static void count_zswap_events(const struct options *o, struct pass_result *res)
{
	const struct counters *b = &res->before, *a = &res->after;

	if (o->cgroup) {
		res->zswpout = delta(b->cg_zswpout, a->cg_zswpout);
		res->zswpin = delta(b->cg_zswpin, a->cg_zswpin);
	} else {
		res->zswpout = delta(b->zswpout, a->zswpout);
		res->zswpin = delta(b->zswpin, a->zswpin);
	}
}

/* The pass's one STRESS record (the dialect: tests/guest/lib.sh). */
static void print_stress_record(const struct options *o, unsigned int pass,
				const struct pass_result *res)
{
	const struct counters *b = &res->before, *a = &res->after;

	printf(KTAP_INDENT "# SGR STRESS name=%s pass=%u pages=%zu"
	       " seed=%" PRIu64 " swapout_pages_per_s=%" PRIu64
	       " zswap_stored_pages=%lld swapin_pages_per_s=%" PRIu64
	       " mismatches=%" PRIu64
	       " zswpout=%" PRIu64 " zswpin=%" PRIu64
	       " pswpout=%" PRIu64 " pswpin=%" PRIu64,
	       o->name, pass, res->pages,
	       res->seed, res->swapout_rate,
	       res->stored_pages, res->swapin_rate,
	       res->mismatches,
	       res->zswpout, res->zswpin,
	       delta(b->pswpout, a->pswpout), delta(b->pswpin, a->pswpin));
	if (o->cgroup)
		printf(" vmstat_zswpout=%" PRIu64 " vmstat_zswpin=%" PRIu64,
		       delta(b->zswpout, a->zswpout),
		       delta(b->zswpin, a->zswpin));
	if (b->zswpwb >= 0 && a->zswpwb >= 0)
		printf(" zswpwb=%" PRIu64, delta(b->zswpwb, a->zswpwb));
	putchar('\n');
}

static bool report_coverage(const struct options *o, unsigned int pass,
			    unsigned int c, const char *counter,
			    uint64_t events, size_t pages)
{
	uint64_t want = (uint64_t)o->min_coverage * pages;

	if (events * 100 >= want) {
		report_ok(pass, c);
		return true;
	}
	report_not_ok(pass, c, "%s covered %" PRIu64 "%% of %zu pages, want %u%%",
		      counter, events * 100 / pages, pages, o->min_coverage);
	return false;
}

/*
 * Print the pass's record, then its three cases; true if all of them
 * passed.
 */
static bool report_pass(const struct options *o, unsigned int pass,
			const struct region *r, struct pass_result *res)
{
	bool ok = true;

	count_zswap_events(o, res);
	print_stress_record(o, pass, res);
	if (res->mismatches == 0) {
		report_ok(pass, 0);
	} else {
		report_not_ok(pass, 0, "%" PRIu64 " of %zu pages differ",
			      res->mismatches, r->pages);
		ok = false;
	}
	ok &= report_coverage(o, pass, 1, "zswpout", res->zswpout, r->pages);
	ok &= report_coverage(o, pass, 2, "zswpin", res->zswpin, r->pages);
	return ok;
}

/* 1 if all cases passed, 0 if one failed, -1 on a setup failure. */
static int run_pass(const struct options *o, unsigned int pass)
{
	struct pass_result res;
	struct region r;
	int err;

	memset(&res, 0, sizeof(res));
	ktap_line("# pass: %u", pass);
	if (check_zswap_enabled())
		return -1;
	if (snapshot_counters(o, &res.before))
		return -1;
	if (map_region(o, pass, &r))
		return -1;
	res.pages = r.pages;
	res.seed = r.seed;

	err = exercise_region(o, &r, &res);
	unmap_region(&r);
	if (err)
		return -1;
	if (snapshot_counters(o, &res.after))
		return -1;
	return report_pass(o, pass, &r, &res) ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct options o = {
		.size_mib = 256,
		.passes = 1,
		.seed = 1,
		.cgroup = NULL,
		.min_coverage = 90,
		.name = "zswap_stress",
	};
	bool all_ok = true;
	unsigned int pass;
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (parse_options(argc, argv, &o)) {
		fprintf(stderr, "(see zswap_stress --help)\n");
		return EXIT_USAGE;
	}

	ktap_line("KTAP version 1");
	ktap_line("# Subtest: %s", o.name);
	ktap_line("1..%u", o.passes * CASES_PER_PASS);

	if (install_sigbus_handler()) {
		report_setup_failed(&o, 1);
		return EXIT_SETUP;
	}
	for (pass = 1; pass <= o.passes; pass++) {
		ret = run_pass(&o, pass);
		if (ret < 0) {
			report_setup_failed(&o, pass);
			return EXIT_SETUP;
		}
		if (!ret)
			all_ok = false;
	}
	return all_ok ? EXIT_ALL_PASSED : EXIT_CASE_FAILED;
}
