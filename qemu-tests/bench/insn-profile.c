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
 *       [,calls=FILE[,skip=HEX-HEX]]
 *
 * At exit FILE gets one line per block address: "<vaddr hex> <instructions
 * retired> [rep]", the sum over every translation of that address.  With stop=,
 * the counts are those when a block at that address first ran (e.g. the
 * kernel's run_init_process: kernel start -> /init without what follows).
 * A block that an interrupt or an I/O access under icount ends early is
 * still counted whole: the figures are a profile, not a second clock.
 *
 * With calls=FILE the plugin also keeps a shadow call stack and writes, at
 * the stop (or at exit), one line per call edge: "<callee entry hex> <return
 * address hex> <calls> <inclusive instructions> <inclusive, outermost
 * only>", where inclusive means everything retired between the call and
 * its return, and the last column leaves out calls made while the same
 * callee was already on the stack (recursion), so it can be summed per
 * callee.  Returns are recognised by address: a block that starts at a
 * return address on the stack pops down to it.  A context switch returns
 * into another task's frames, so what a switched-out task's open calls did
 * after the switch is lost and the switch itself is charged to the frames
 * popped: the edge costs are a profile for finding callers, not a clock.
 * skip=START-END names a range of thunks that calls are made through
 * (retpolines): a call into it is charged to the first block outside it,
 * and calls made inside it are not frames.
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
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
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

/* Per translation, for the call graph: what the exec callback needs. */
struct cg_block {
	uint64_t vaddr;
	uint64_t ret;	/* the block ends with a call: its return address; else 0 */
	uint32_t n;	/* instructions */
	uint8_t in_skip; /* the block is inside the skip= range */
};

struct frame {
	uint64_t ret, target, start;
	int nested;	/* target was already on the stack when called */
};

/* Call edges: an open-addressed table keyed by (target, return address). */
struct edge {
	uint64_t target, ret, calls, incl, incl_outer;
};

#define STACK_MAX 4096
#define EDGE_BITS 20
static struct frame cg_stack[STACK_MAX];
static size_t cg_sp;
static struct edge *edges;
static uint64_t cg_now, cg_pending_ret;
static int cg_pending_retarget;	/* the top frame's target is a thunk */
static int cg_on, cg_done, cg_edges_full;
static char *calls_path;
static uint64_t skip_start, skip_end;
static void write_calls(void);

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
	if (cg_on && !stopped)
		write_calls();
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

static void edge_add(const struct frame *f, uint64_t incl)
{
	size_t mask = ((size_t)1 << EDGE_BITS) - 1;
	size_t h = (size_t)((f->target * 0x9e3779b97f4a7c15ull) ^ (f->ret * 0xc2b2ae3d27d4eb4full)) >> 7;
	for (size_t probe = 0; probe <= mask; probe++) {
		struct edge *e = &edges[(h + probe) & mask];
		if (!e->calls || (e->target == f->target && e->ret == f->ret)) {
			e->target = f->target;
			e->ret = f->ret;
			e->calls++;
			e->incl += incl;
			if (!f->nested)
				e->incl_outer += incl;
			return;
		}
	}
	cg_edges_full = 1;
}

static void frame_push(uint64_t ret, uint64_t target)
{
	if (cg_sp == STACK_MAX) {
		/* Frames that never returned (task switches): forget the older
		 * half, charged as they are now. */
		for (size_t i = 0; i < STACK_MAX / 2; i++)
			edge_add(&cg_stack[i], cg_now - cg_stack[i].start);
		memmove(cg_stack, cg_stack + STACK_MAX / 2, sizeof(cg_stack) / 2);
		cg_sp = STACK_MAX / 2;
	}
	struct frame *f = &cg_stack[cg_sp];
	f->ret = ret;
	f->target = target;
	f->start = cg_now;
	f->nested = 0;
	for (size_t i = 0; i < cg_sp; i++)
		if (cg_stack[i].target == target) {
			f->nested = 1;
			break;
		}
	cg_sp++;
}

/* Every block, in execution order (one vCPU: the harness boots nr_cpus=1). */
static void on_exec_cg(unsigned int vcpu, void *userdata)
{
	(void)vcpu;
	const struct cg_block *b = userdata;

	if (cg_done)
		return;
	if (cg_pending_retarget && !b->in_skip && cg_sp) {
		/* Out of the thunk: this is where the call really went. */
		cg_stack[cg_sp - 1].target = b->vaddr;
		cg_pending_retarget = 0;
	}
	if (cg_pending_ret) {
		frame_push(cg_pending_ret, b->vaddr);
		cg_pending_retarget = b->in_skip;
		cg_pending_ret = 0;
	} else {
		for (size_t i = cg_sp; i-- > 0;)
			if (cg_stack[i].ret == b->vaddr) {
				while (cg_sp > i) {
					cg_sp--;
					edge_add(&cg_stack[cg_sp], cg_now - cg_stack[cg_sp].start);
				}
				break;
			}
	}
	cg_now += b->n;
	if (b->ret && !b->in_skip)
		cg_pending_ret = b->ret;
}

/* The call edges now, the frames still open charged as they are. */
static void write_calls(void)
{
	while (cg_sp) {
		cg_sp--;
		edge_add(&cg_stack[cg_sp], cg_now - cg_stack[cg_sp].start);
	}
	cg_done = 1;
	FILE *f = fopen(calls_path, "we");
	if (!f) {
		fprintf(stderr, "insn-profile: cannot write %s: %s\n", calls_path, strerror(errno));
		return;
	}
	for (size_t i = 0; i < ((size_t)1 << EDGE_BITS); i++) {
		const struct edge *e = &edges[i];
		if (e->calls)
			fprintf(f, "%" PRIx64 " %" PRIx64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", e->target,
				e->ret, e->calls, e->incl, e->incl_outer);
	}
	if (cg_edges_full)
		fprintf(f, "# incomplete: the call-edge table is full\n");
	if (fclose(f) != 0)
		fprintf(stderr, "insn-profile: cannot write %s: %s\n", calls_path, strerror(errno));
}

/* The block's last instruction is a call (e8 rel32, or ff /2): its return
 * address, else 0.  Prefixes: operand/address size, segment, REX. */
static uint64_t call_return(const struct qemu_plugin_tb *tb, size_t n)
{
	const struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, n - 1);
	const uint8_t *op = qemu_plugin_insn_data(insn);
	size_t len = qemu_plugin_insn_size(insn), i = 0;
	while (i < len && (op[i] == 0x66 || op[i] == 0x67 || op[i] == 0x2e || op[i] == 0x3e ||
			   (op[i] & 0xf0) == 0x40))
		i++;
	if (i >= len)
		return 0;
	int is_call = op[i] == 0xe8 || (op[i] == 0xff && i + 1 < len && ((op[i + 1] >> 3) & 7) == 2);
	return is_call ? qemu_plugin_insn_vaddr(insn) + len : 0;
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
	if (cg_on) {
		/* Never freed, like the block records: QEMU keeps the pointer. */
		struct cg_block *c = malloc(sizeof(*c));
		if (!c) {
			alloc_failed = 1;
			return;
		}
		c->vaddr = vaddr;
		c->n = (uint32_t)n;
		c->ret = call_return(tb, n);
		c->in_skip = vaddr >= skip_start && vaddr < skip_end;
		qemu_plugin_register_vcpu_tb_exec_cb(tb, on_exec_cg, QEMU_PLUGIN_CB_NO_REGS, c);
	}
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
	if (cg_on && !cg_done && !have_stop)
		write_calls();
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
		} else if (strncmp(argv[i], "calls=", 6) == 0 && argv[i][6]) {
			calls_path = argv[i] + 6;
		} else if (strncmp(argv[i], "skip=", 5) == 0) {
			errno = 0;
			skip_start = strtoull(argv[i] + 5, &end, 16);
			if (errno || end == argv[i] + 5 || *end != '-')
				goto usage;
			char *s2 = end + 1;
			skip_end = strtoull(s2, &end, 16);
			if (errno || end == s2 || *end || skip_end < skip_start)
				goto usage;
		} else {
			goto usage;
		}
	}
	if (!out_path)
		goto usage;
	if (calls_path) {
		edges = calloc((size_t)1 << EDGE_BITS, sizeof(*edges));
		if (!edges) {
			fprintf(stderr, "insn-profile: out of memory for the call edges\n");
			return -1;
		}
		cg_on = 1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	qemu_plugin_register_atexit_cb(id, on_exit_write, NULL);
	return 0;
usage:
	fprintf(stderr, "insn-profile: usage: -plugin insn-profile.so,out=FILE[,stop=HEX]"
			"[,calls=FILE[,skip=HEX-HEX]]\n");
	return -1;
}
