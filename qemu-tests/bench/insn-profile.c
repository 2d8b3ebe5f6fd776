/* SPDX-License-Identifier: MIT */
/*
 * insn-profile: a QEMU TCG plugin that counts the guest instructions each
 * translation block retires, for qemu-tests/bench/insn-profile.sh.  Under
 * `-icount shift=0,sleep=off` one guest instruction is one nanosecond of
 * guest time, so these counts are where the boot's icount time goes,
 * instruction for instruction (the kernel's printk gaps only say between
 * which two messages).
 *
 *   qemu-system-x86_64 ... -plugin OUT/insn-profile.so,out=FILE[,stop=HEX]
 *
 * At exit FILE gets one line per block address: "<vaddr hex> <instructions
 * retired> [rep]", the sum over every translation of that address.  With stop=,
 * the counts are those when a block at that address first ran (e.g. the
 * kernel's run_init_process: kernel start -> /init without what follows).
 * A block that an interrupt or an I/O access under icount ends early is
 * still counted whole: the figures are a profile, not a second clock.
 *
 * A third column, "rep", marks blocks that are one `rep stos`/`rep movs`:
 * TCG runs such an instruction one iteration per block execution, and
 * icount charges every iteration as an instruction, so zeroing or copying
 * N bytes with `rep stosb` costs N ns of guest time (gcc -Os inlines
 * memset/memcpy so), where a real CPU with ERMS moves 16+ bytes a cycle.
 *
 * QEMU ships no plugin header in Debian's packages; the few entry points
 * used are declared here as the plugin API (version 1, QEMU 7.2)
 * documents them.  They are resolved against the QEMU binary at load time.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLUGIN_EXPORT __attribute__((visibility("default")))

/* ---- the QEMU plugin API, as documented (include/qemu/qemu-plugin.h) ---- */
typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef struct qemu_info_t qemu_info_t; /* only passed through */
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
					  enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op,
					      void *ptr, uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);

PLUGIN_EXPORT int qemu_plugin_version = 1;

/* One record per translation: its counter is bumped inline by the block's
 * own code (no helper call), by the block's instruction count.  Records are
 * never freed while QEMU runs (a retranslated block gets a new one), so the
 * pointers handed to QEMU stay valid. */
struct block {
	uint64_t vaddr;
	uint64_t insns;	/* bumped by the translated code */
	uint64_t at_stop; /* insns when the stop block first ran */
	int rep;	/* the block is one rep stos/movs */
};

#define CHUNK 4096
struct chunk {
	struct chunk *next;
	size_t used;
	struct block b[CHUNK];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct chunk *chunks;
static char *out_path;
static int alloc_failed;
static uint64_t stop_vaddr;
static int have_stop, stopped;

static struct block *block_new(uint64_t vaddr)
{
	struct block *b = NULL;

	pthread_mutex_lock(&lock);
	if (!chunks || chunks->used == CHUNK) {
		struct chunk *c = calloc(1, sizeof(*c));
		if (!c) {
			alloc_failed = 1;
			goto out;
		}
		c->next = chunks;
		chunks = c;
	}
	b = &chunks->b[chunks->used++];
	b->vaddr = vaddr;
out:
	pthread_mutex_unlock(&lock);
	return b;
}

/* The stop block ran: keep every counter as it is now.  Blocks made later
 * start from 0 and stay there. */
static void on_stop(unsigned int vcpu, void *userdata)
{
	(void)vcpu;
	(void)userdata;
	pthread_mutex_lock(&lock);
	if (!stopped)
		for (struct chunk *c = chunks; c; c = c->next)
			for (size_t i = 0; i < c->used; i++)
				c->b[i].at_stop = c->b[i].insns;
	stopped = 1;
	pthread_mutex_unlock(&lock);
}

/* One instruction: [f3] [REX.W] a4|a5|aa|ab (rep movs/stos, any width). */
static int is_rep_string(const struct qemu_plugin_tb *tb)
{
	if (qemu_plugin_tb_n_insns(tb) != 1)
		return 0;
	const struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, 0);
	const uint8_t *op = qemu_plugin_insn_data(insn);
	size_t len = qemu_plugin_insn_size(insn), i = 0;
	if (len < 2 || op[i++] != 0xf3)
		return 0;
	if (i < len && (op[i] & 0xf0) == 0x40)
		i++;
	return i + 1 == len && (op[i] == 0xa4 || op[i] == 0xa5 || op[i] == 0xaa || op[i] == 0xab);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	(void)id;
	size_t n = qemu_plugin_tb_n_insns(tb);
	uint64_t vaddr = qemu_plugin_tb_vaddr(tb);
	struct block *b = n ? block_new(vaddr) : NULL;

	if (!b)
		return;
	b->rep = is_rep_string(tb);
	/* The snapshot comes before this block's own count is added. */
	if (have_stop && vaddr == stop_vaddr)
		qemu_plugin_register_vcpu_tb_exec_cb(tb, on_stop, QEMU_PLUGIN_CB_NO_REGS, NULL);
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->insns, n);
}

static int by_vaddr(const void *a, const void *b)
{
	uint64_t x = ((const struct block *)a)->vaddr, y = ((const struct block *)b)->vaddr;
	return (x > y) - (x < y);
}

/* Sorted by address, one line per address: the per-translation records
 * summed. */
static void on_exit_write(qemu_plugin_id_t id, void *userdata)
{
	(void)id;
	(void)userdata;
	size_t n = 0;
	for (struct chunk *c = chunks; c; c = c->next)
		n += c->used;
	struct block *all = malloc((n ? n : 1) * sizeof(*all));
	FILE *f = fopen(out_path, "we");
	if (!all || !f) {
		fprintf(stderr, "insn-profile: cannot write %s: %s\n", out_path, strerror(errno));
		goto out;
	}
	size_t k = 0;
	for (struct chunk *c = chunks; c; c = c->next)
		for (size_t i = 0; i < c->used; i++) {
			all[k] = c->b[i];
			if (have_stop)
				all[k].insns = stopped ? c->b[i].at_stop : 0;
			k++;
		}
	qsort(all, n, sizeof(*all), by_vaddr);
	for (size_t i = 0; i < n;) {
		uint64_t sum = 0, v = all[i].vaddr;
		int rep = 0;
		for (; i < n && all[i].vaddr == v; i++) {
			sum += all[i].insns;
			rep |= all[i].rep;
		}
		if (sum)
			fprintf(f, "%" PRIx64 " %" PRIu64 "%s\n", v, sum, rep ? " rep" : "");
	}
	if (alloc_failed)
		fprintf(f, "# incomplete: out of memory for block records\n");
	if (have_stop && !stopped)
		fprintf(f, "# the stop address %" PRIx64 " never ran: no counts\n", stop_vaddr);
	if (fclose(f) != 0)
		fprintf(stderr, "insn-profile: cannot write %s: %s\n", out_path, strerror(errno));
	f = NULL;
out:
	if (f)
		fclose(f);
	free(all);
}

PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
				      char **argv)
{
	(void)info;
	for (int i = 0; i < argc; i++) {
		char *end;
		if (strncmp(argv[i], "out=", 4) == 0 && argv[i][4]) {
			out_path = argv[i] + 4;
		} else if (strncmp(argv[i], "stop=", 5) == 0) {
			errno = 0;
			stop_vaddr = strtoull(argv[i] + 5, &end, 16);
			if (errno || end == argv[i] + 5 || *end)
				goto usage;
			have_stop = 1;
		} else {
			goto usage;
		}
	}
	if (!out_path)
		goto usage;
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	qemu_plugin_register_atexit_cb(id, on_exit_write, NULL);
	return 0;
usage:
	fprintf(stderr, "insn-profile: usage: -plugin insn-profile.so,out=FILE[,stop=HEX]\n");
	return -1;
}
