/* SPDX-License-Identifier: MIT */
#include "seccomp.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "caps.h"
#include "lcow/cleanup.h"
#include "protocol/json.h"

#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif
#ifndef SECCOMP_RET_LOG
#define SECCOMP_RET_LOG 0x7ffc0000U
#endif
#ifndef SECCOMP_FILTER_FLAG_LOG
#define SECCOMP_FILTER_FLAG_LOG (1UL << 1)
#endif
#ifndef SECCOMP_FILTER_FLAG_SPEC_ALLOW
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW (1UL << 2)
#endif

#define X32_SYSCALL_BIT 0x40000000u
#define MAX_ARGS 6

static const struct {
	const char *name;
	int nr;
} syscall_table[] = {
/* Generated from the kernel's asm/unistd_64.h by gcs-agent/build.mk. */
#include "syscalls_x86_64.inc"
};

int seccomp_syscall_nr(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(syscall_table); i++)
		if (strcmp(syscall_table[i].name, name) == 0)
			return syscall_table[i].nr;
	return -1;
}

enum cmp_op { CMP_NE, CMP_LT, CMP_LE, CMP_EQ, CMP_GE, CMP_GT, CMP_MASKED_EQ };

static const char *const op_names[] = {
	[CMP_NE] = "SCMP_CMP_NE", [CMP_LT] = "SCMP_CMP_LT", [CMP_LE] = "SCMP_CMP_LE",
	[CMP_EQ] = "SCMP_CMP_EQ", [CMP_GE] = "SCMP_CMP_GE", [CMP_GT] = "SCMP_CMP_GT",
	[CMP_MASKED_EQ] = "SCMP_CMP_MASKED_EQ",
};

struct cond {
	unsigned index;
	enum cmp_op op;
	uint64_t value, value_two;
};

struct rule {
	int nr;
	size_t order;		/* position in the profile: ties keep it */
	uint32_t action;
	size_t n_conds;
	struct cond conds[MAX_ARGS];
};

static int parse_action(const char *name, bool has_errno, uint32_t errno_ret, uint32_t def_errno,
			uint32_t *out, struct error *err)
{
	uint32_t e = has_errno ? errno_ret : def_errno;
	if (strcmp(name, "SCMP_ACT_ALLOW") == 0)
		*out = SECCOMP_RET_ALLOW;
	else if (strcmp(name, "SCMP_ACT_ERRNO") == 0)
		*out = SECCOMP_RET_ERRNO | (e & SECCOMP_RET_DATA);
	else if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0)
		*out = SECCOMP_RET_KILL_THREAD;
	else if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0)
		*out = SECCOMP_RET_KILL_PROCESS;
	else if (strcmp(name, "SCMP_ACT_TRAP") == 0)
		*out = SECCOMP_RET_TRAP;
	else if (strcmp(name, "SCMP_ACT_TRACE") == 0)
		*out = SECCOMP_RET_TRACE | (e & SECCOMP_RET_DATA);
	else if (strcmp(name, "SCMP_ACT_LOG") == 0)
		*out = SECCOMP_RET_LOG;
	else if (strcmp(name, "SCMP_ACT_NOTIFY") == 0)
		return error_setx(err, EOPNOTSUPP, "seccomp action SCMP_ACT_NOTIFY is not supported");
	else
		return error_setx(err, EINVAL, "unknown seccomp action `%s`", name);
	return 0;
}

static int errno_field(const json_t *obj, const char *name, bool *has, uint32_t *v,
		       struct error *err)
{
	json_t *f = jf_lookup(obj, name);
	*has = f && !json_is_null(f);
	*v = 0;
	return *has ? jf_u32(obj, name, v, err) : 0;
}

static bool in_list(const json_t *arr, const char *const *names)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
	{
		const char *s = json_string_value(v);
		for (size_t k = 0; s && names[k]; k++)
			if (strcmp(s, names[k]) == 0)
				return true;
	}
	return false;
}

/* Go's GOARCH and libseccomp's names for this architecture. */
static const char *const native_arches[] = { "amd64", "x86_64", "SCMP_ARCH_X86_64", NULL };

static bool kernel_at_least(const char *kernel, const char *min)
{
	unsigned kmaj = 0, kmin = 0, mmaj = 0, mmin = 0;
	if (sscanf(kernel, "%u.%u", &kmaj, &kmin) < 1 || sscanf(min, "%u.%u", &mmaj, &mmin) < 1)
		return false;
	return kmaj > mmaj || (kmaj == mmaj && kmin >= mmin);
}

static bool caps_all_in(const json_t *caps, uint64_t bounding)
{
	size_t i;
	json_t *v;
	json_array_foreach(caps, i, v)
	{
		int cap = caps_from_name(json_string_value(v));
		if (cap < 0 || !(bounding & (1ull << cap)))
			return false;
	}
	return true;
}

static bool caps_any_in(const json_t *caps, uint64_t bounding)
{
	size_t i;
	json_t *v;
	json_array_foreach(caps, i, v)
	{
		int cap = caps_from_name(json_string_value(v));
		if (cap >= 0 && (bounding & (1ull << cap)))
			return true;
	}
	return false;
}

/* moby's includes/excludes: whether the entry applies to this process. */
static bool entry_applies(const json_t *entry, uint64_t bounding, const char *kernel)
{
	json_t *inc = json_object_get(entry, "includes");
	json_t *exc = json_object_get(entry, "excludes");
	json_t *v;
	if (json_is_object(exc)) {
		if ((v = json_object_get(exc, "arches")) && json_array_size(v) &&
		    in_list(v, native_arches))
			return false;
		if ((v = json_object_get(exc, "caps")) && json_array_size(v) && caps_any_in(v, bounding))
			return false;
		if ((v = json_object_get(exc, "minKernel")) && json_is_string(v) &&
		    kernel_at_least(kernel, json_string_value(v)))
			return false;
	}
	if (json_is_object(inc)) {
		if ((v = json_object_get(inc, "arches")) && json_array_size(v) &&
		    !in_list(v, native_arches))
			return false;
		if ((v = json_object_get(inc, "caps")) && json_array_size(v) &&
		    !caps_all_in(v, bounding))
			return false;
		if ((v = json_object_get(inc, "minKernel")) && json_is_string(v) &&
		    !kernel_at_least(kernel, json_string_value(v)))
			return false;
	}
	return true;
}

static int parse_conds(const json_t *args, struct rule *r, struct error *err)
{
	size_t i;
	json_t *a;
	if (json_array_size(args) > MAX_ARGS)
		return error_setx(err, EINVAL, "more than %d argument conditions", MAX_ARGS);
	json_array_foreach(args, i, a)
	{
		struct cond *c = &r->conds[i];
		const char *op = "";
		uint32_t index;
		if (!json_is_object(a))
			return error_setx(err, EBADMSG, "args[%zu]: expected object", i);
		int rr;
		if ((rr = jf_u32(a, "index", &index, err)) < 0 ||
		    (rr = jf_u64(a, "value", &c->value, err)) < 0 ||
		    (rr = jf_u64(a, "valueTwo", &c->value_two, err)) < 0 ||
		    (rr = jf_string(a, "op", &op, err)) < 0)
			return error_prefix(err, rr, "args[%zu]", i);
		if (index >= MAX_ARGS)
			return error_setx(err, EINVAL, "args[%zu]: index %u out of range", i, index);
		c->index = index;
		bool found = false;
		for (size_t k = 0; k < ARRAY_SIZE(op_names); k++) {
			if (op && strcmp(op, op_names[k]) == 0) {
				c->op = (enum cmp_op)k;
				found = true;
			}
		}
		if (!found)
			return error_setx(err, EINVAL, "args[%zu]: unknown op `%s`", i, op ? op : "");
	}
	r->n_conds = json_array_size(args);
	return 0;
}

struct rules {
	struct rule *v;
	size_t n, cap;
};

static int add_rule(struct rules *rs, const struct rule *r, struct error *err)
{
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 256;
		struct rule *nv = realloc(rs->v, cap * sizeof(*nv));
		if (!nv)
			return error_set(err, ENOMEM, "seccomp rules");
		rs->v = nv;
		rs->cap = cap;
	}
	rs->v[rs->n] = *r;
	rs->v[rs->n].order = rs->n;
	rs->n++;
	return 0;
}

static int cmp_rules(const void *a, const void *b)
{
	const struct rule *x = a, *y = b;
	if (x->nr != y->nr)
		return x->nr < y->nr ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* A small assembler with forward labels. */
struct fixup {
	size_t insn;
	bool jt;		/* patch jt (else jf) */
	size_t label;
};

struct asm_ {
	struct sock_filter *v;
	size_t n, cap;
	size_t *labels;		/* label -> instruction index, SIZE_MAX unbound */
	size_t n_labels, cap_labels;
	struct fixup *fix;
	size_t n_fix, cap_fix;
	bool oom;
};

#define NO_LABEL SIZE_MAX

static void *grow(void *p, size_t *cap, size_t n, size_t elem, bool *oom)
{
	if (n < *cap)
		return p;
	size_t nc = *cap ? *cap * 2 : 64;
	void *np = realloc(p, nc * elem);
	if (!np) {
		*oom = true;
		return p;
	}
	*cap = nc;
	return np;
}

static size_t new_label(struct asm_ *a)
{
	a->labels = grow(a->labels, &a->cap_labels, a->n_labels, sizeof(size_t), &a->oom);
	if (a->oom)
		return 0;
	a->labels[a->n_labels] = NO_LABEL;
	return a->n_labels++;
}

static void bind_label(struct asm_ *a, size_t l)
{
	if (!a->oom)
		a->labels[l] = a->n;
}

static void emit(struct asm_ *a, uint16_t code, uint32_t k)
{
	a->v = grow(a->v, &a->cap, a->n, sizeof(*a->v), &a->oom);
	if (a->oom)
		return;
	a->v[a->n++] = (struct sock_filter){ code, 0, 0, k };
}

/* A conditional jump: to lt when true, lf when false (NO_LABEL = the next
 * instruction). */
static void jump(struct asm_ *a, uint16_t op, uint32_t k, size_t lt, size_t lf)
{
	emit(a, BPF_JMP | op | BPF_K, k);
	size_t at = a->n - 1;
	for (int i = 0; i < 2 && !a->oom; i++) {
		size_t l = i == 0 ? lt : lf;
		if (l == NO_LABEL)
			continue;
		a->fix = grow(a->fix, &a->cap_fix, a->n_fix, sizeof(*a->fix), &a->oom);
		if (!a->oom)
			a->fix[a->n_fix++] = (struct fixup){ at, i == 0, l };
	}
}

static void ld_arg(struct asm_ *a, unsigned index, bool hi)
{
	/* Little endian: the low half first. */
	emit(a, BPF_LD | BPF_W | BPF_ABS,
	     (uint32_t)(offsetof(struct seccomp_data, args) + 8 * index + (hi ? 4 : 0)));
}

/* One condition: falls through when it holds, jumps to fail when not. */
static void emit_cond(struct asm_ *a, const struct cond *c, size_t fail)
{
	uint32_t vhi = (uint32_t)(c->value >> 32), vlo = (uint32_t)c->value;
	size_t pass = new_label(a), lo = new_label(a);
	switch (c->op) {
	case CMP_EQ:
		ld_arg(a, c->index, true);
		jump(a, BPF_JEQ, vhi, NO_LABEL, fail);
		ld_arg(a, c->index, false);
		jump(a, BPF_JEQ, vlo, NO_LABEL, fail);
		break;
	case CMP_NE:
		ld_arg(a, c->index, true);
		jump(a, BPF_JEQ, vhi, NO_LABEL, pass);
		ld_arg(a, c->index, false);
		jump(a, BPF_JEQ, vlo, fail, NO_LABEL);
		break;
	case CMP_GT:
	case CMP_GE:
		ld_arg(a, c->index, true);
		jump(a, BPF_JGT, vhi, pass, NO_LABEL);
		jump(a, BPF_JEQ, vhi, NO_LABEL, fail);
		ld_arg(a, c->index, false);
		jump(a, c->op == CMP_GT ? BPF_JGT : BPF_JGE, vlo, NO_LABEL, fail);
		break;
	case CMP_LT:
	case CMP_LE:
		ld_arg(a, c->index, true);
		jump(a, BPF_JGT, vhi, fail, NO_LABEL);
		jump(a, BPF_JEQ, vhi, lo, pass);
		bind_label(a, lo);
		ld_arg(a, c->index, false);
		/* lo < v  <=>  !(lo >= v);  lo <= v  <=>  !(lo > v) */
		jump(a, c->op == CMP_LT ? BPF_JGE : BPF_JGT, vlo, fail, NO_LABEL);
		break;
	case CMP_MASKED_EQ: {
		uint32_t mhi = vhi, mlo = vlo;
		uint32_t ehi = (uint32_t)(c->value_two >> 32), elo = (uint32_t)c->value_two;
		ld_arg(a, c->index, true);
		emit(a, BPF_ALU | BPF_AND | BPF_K, mhi);
		jump(a, BPF_JEQ, ehi, NO_LABEL, fail);
		ld_arg(a, c->index, false);
		emit(a, BPF_ALU | BPF_AND | BPF_K, mlo);
		jump(a, BPF_JEQ, elo, NO_LABEL, fail);
		break;
	}
	}
	bind_label(a, pass);
}

static int assemble(struct asm_ *a, struct error *err)
{
	if (a->oom)
		return error_set(err, ENOMEM, "seccomp program");
	for (size_t i = 0; i < a->n_fix; i++) {
		struct fixup *f = &a->fix[i];
		size_t target = a->labels[f->label];
		if (target == NO_LABEL || target <= f->insn)
			return error_setx(err, EINVAL, "seccomp compiler: unbound label");
		size_t off = target - f->insn - 1;
		if (off > 255)
			return error_setx(err, E2BIG, "seccomp rules for one system call are too long");
		if (f->jt)
			a->v[f->insn].jt = (uint8_t)off;
		else
			a->v[f->insn].jf = (uint8_t)off;
	}
	if (a->n > BPF_MAXINSNS)
		return error_setx(err, E2BIG, "seccomp program of %zu instructions is over %d", a->n,
				  BPF_MAXINSNS);
	return 0;
}

static int collect_rules(const json_t *profile, uint64_t bounding, const char *kernel,
			 uint32_t def_errno, struct rules *rs, struct error *err)
{
	json_t *syscalls;
	int r = jf_array(profile, "syscalls", &syscalls, err);
	if (r < 0)
		return r;
	size_t i;
	json_t *entry;
	json_array_foreach(syscalls, i, entry)
	{
		if (!json_is_object(entry))
			return error_setx(err, EBADMSG, "syscalls[%zu]: expected object", i);
		if (!entry_applies(entry, bounding, kernel))
			continue;
		const char *action = "";
		json_t *names, *args;
		bool has_errno;
		uint32_t errno_ret;
		struct rule rule = { 0 };
		if ((r = jf_string(entry, "action", &action, err)) < 0 ||
		    (r = errno_field(entry, "errnoRet", &has_errno, &errno_ret, err)) < 0 ||
		    (r = jf_string_array(entry, "names", &names, err)) < 0 ||
		    (r = jf_array(entry, "args", &args, err)) < 0 ||
		    (r = parse_action(action ? action : "", has_errno, errno_ret, def_errno,
				      &rule.action, err)) < 0 ||
		    (r = parse_conds(args, &rule, err)) < 0)
			return error_prefix(err, r, "syscalls[%zu]", i);
		/* Old profiles name one call in "name". */
		const char *single = json_string_value(json_object_get(entry, "name"));
		size_t n_names = json_array_size(names) + (single ? 1 : 0);
		for (size_t k = 0; k < n_names; k++) {
			const char *name = k < json_array_size(names)
						   ? json_string_value(json_array_get(names, k))
						   : single;
			if (!name)
				continue;
			rule.nr = seccomp_syscall_nr(name);
			if (rule.nr < 0)
				continue;	/* another architecture's call */
			if ((r = add_rule(rs, &rule, err)) < 0)
				return r;
		}
	}
	return 0;
}

static int parse_flags(const json_t *profile, unsigned *flags, struct error *err)
{
	json_t *arr;
	int r = jf_string_array(profile, "flags", &arr, err);
	if (r < 0)
		return r;
	size_t i;
	json_t *v;
	*flags = 0;
	json_array_foreach(arr, i, v)
	{
		const char *f = json_string_value(v);
		if (!f)
			continue;
		if (strcmp(f, "SECCOMP_FILTER_FLAG_LOG") == 0)
			*flags |= SECCOMP_FILTER_FLAG_LOG;
		else if (strcmp(f, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0)
			*flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
		else if (strcmp(f, "SECCOMP_FILTER_FLAG_TSYNC") == 0)
			continue;	/* one thread at exec: nothing to sync */
		else
			return error_setx(err, EINVAL, "unknown seccomp flag `%s`", f);
	}
	return 0;
}

/* Whether x86_64 is among the profile's architectures (OCI
 * "architectures", moby "archMap"); none listed means native only. */
static bool native_listed(const json_t *profile)
{
	json_t *arches = json_object_get(profile, "architectures");
	json_t *map = json_object_get(profile, "archMap");
	if (json_array_size(arches))
		return in_list(arches, native_arches);
	if (json_array_size(map)) {
		size_t i;
		json_t *m;
		json_array_foreach(map, i, m)
		{
			const char *a = json_string_value(json_object_get(m, "architecture"));
			if (a && strcmp(a, "SCMP_ARCH_X86_64") == 0)
				return true;
		}
		return false;
	}
	return true;
}

int seccomp_compile(const json_t *profile, uint64_t bounding, const char *kernel,
		    struct seccomp_program *out, struct error *err)
{
	memset(out, 0, sizeof(*out));
	struct utsname u;
	if (!kernel)
		kernel = uname(&u) == 0 ? u.release : "0.0";
	if (!json_is_object(profile))
		return error_setx(err, EBADMSG, "seccomp: expected object");
	const char *def_action = "";
	bool has_def_errno;
	uint32_t def_errno, def;
	int r;
	if ((r = jf_string(profile, "defaultAction", &def_action, err)) < 0 ||
	    (r = errno_field(profile, "defaultErrnoRet", &has_def_errno, &def_errno, err)) < 0)
		return error_prefix(err, r, "seccomp");
	if (!has_def_errno)
		def_errno = EPERM;
	if ((r = parse_action(def_action ? def_action : "", true, def_errno, def_errno, &def,
			      err)) < 0)
		return error_prefix(err, r, "seccomp defaultAction");
	if (!native_listed(profile))
		return error_setx(err, EINVAL, "seccomp profile has no rules for x86_64");
	if ((r = parse_flags(profile, &out->flags, err)) < 0)
		return error_prefix(err, r, "seccomp");

	struct rules rs = { 0 };
	r = collect_rules(profile, bounding, kernel, def_errno, &rs, err);
	if (r < 0) {
		free(rs.v);
		return error_prefix(err, r, "seccomp");
	}
	/* No rules (a profile without syscalls): rs.v is NULL, which qsort()
	 * must not be given even for zero elements. */
	if (rs.n)
		qsort(rs.v, rs.n, sizeof(*rs.v), cmp_rules);

	struct asm_ a = { 0 };
	size_t native = new_label(&a), not_x32 = new_label(&a);
	emit(&a, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	jump(&a, BPF_JEQ, AUDIT_ARCH_X86_64, native, NO_LABEL);
	emit(&a, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	bind_label(&a, native);
	emit(&a, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	jump(&a, BPF_JSET, X32_SYSCALL_BIT, NO_LABEL, not_x32);
	emit(&a, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	bind_label(&a, not_x32);

	for (size_t i = 0; i < rs.n;) {
		size_t end = i;
		while (end < rs.n && rs.v[end].nr == rs.v[i].nr)
			end++;
		size_t next = new_label(&a);
		/* The accumulator holds nr here; rules below may replace it,
		 * but every path of the group ends in a return. */
		jump(&a, BPF_JEQ, (uint32_t)rs.v[i].nr, NO_LABEL, next);
		uint32_t fallback = def;
		bool have_fallback = false;
		for (size_t k = i; k < end; k++) {
			const struct rule *ru = &rs.v[k];
			if (ru->n_conds == 0) {
				/* The first unconditional rule decides. */
				if (!have_fallback) {
					fallback = ru->action;
					have_fallback = true;
				}
				continue;
			}
			size_t fail = new_label(&a);
			for (size_t c = 0; c < ru->n_conds; c++)
				emit_cond(&a, &ru->conds[c], fail);
			emit(&a, BPF_RET | BPF_K, ru->action);
			bind_label(&a, fail);
		}
		emit(&a, BPF_RET | BPF_K, fallback);
		bind_label(&a, next);
		i = end;
	}
	emit(&a, BPF_RET | BPF_K, def);
	free(rs.v);

	r = assemble(&a, err);
	free(a.labels);
	free(a.fix);
	if (r < 0) {
		free(a.v);
		return r;
	}
	out->insns = a.v;
	out->len = a.n;
	return 0;
}

void seccomp_program_free(struct seccomp_program *p)
{
	free(p->insns);
	memset(p, 0, sizeof(*p));
}

int seccomp_load(const struct seccomp_program *p, struct error *err)
{
	struct sock_fprog prog = { .len = (unsigned short)p->len, .filter = p->insns };
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->flags, &prog) < 0)
		return error_set(err, errno, "load the seccomp filter");
	return 0;
}
