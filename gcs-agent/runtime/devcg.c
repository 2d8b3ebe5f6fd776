/* SPDX-License-Identifier: MIT */
#include "devcg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lcow/cleanup.h"
#include "protocol/json.h"

#define R0 0
#define R1 1
#define R2 2
#define R3 3
#define R4 4
#define R5 5

struct out {
	struct bpf_insn *v;
	size_t n, cap;
	bool oom;
};

static size_t put(struct out *o, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 64;
		struct bpf_insn *nv = realloc(o->v, cap * sizeof(*nv));
		if (!nv) {
			o->oom = true;
			return 0;
		}
		o->v = nv;
		o->cap = cap;
	}
	o->v[o->n] = (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src, .off = off,
					.imm = imm };
	return o->n++;
}

struct rule {
	bool allow;
	int type;		/* 0 all, BPF_DEVCG_DEV_CHAR, BPF_DEVCG_DEV_BLOCK */
	int64_t major, minor;	/* -1: any */
	int access;		/* BPF_DEVCG_ACC_* bits; all three = any */
};

static int parse_rule(const json_t *r, struct rule *out, struct error *err)
{
	const char *type = "", *access = "";
	int rr;
	if (!json_is_object(r))
		return error_setx(err, EBADMSG, "expected object");
	if ((rr = jf_bool(r, "allow", &out->allow, err)) < 0 ||
	    (rr = jf_string(r, "type", &type, err)) < 0 ||
	    (rr = jf_string(r, "access", &access, err)) < 0)
		return rr;
	if (!type || !*type || strcmp(type, "a") == 0)
		out->type = 0;
	else if (strcmp(type, "c") == 0)
		out->type = BPF_DEVCG_DEV_CHAR;
	else if (strcmp(type, "b") == 0)
		out->type = BPF_DEVCG_DEV_BLOCK;
	else
		return error_setx(err, EINVAL, "device type `%s`", type);
	json_t *v;
	out->major = (v = jf_lookup(r, "major")) && json_is_integer(v) ? json_integer_value(v) : -1;
	out->minor = (v = jf_lookup(r, "minor")) && json_is_integer(v) ? json_integer_value(v) : -1;
	out->access = 0;
	for (const char *p = access && *access ? access : "rwm"; *p; p++) {
		if (*p == 'r')
			out->access |= BPF_DEVCG_ACC_READ;
		else if (*p == 'w')
			out->access |= BPF_DEVCG_ACC_WRITE;
		else if (*p == 'm')
			out->access |= BPF_DEVCG_ACC_MKNOD;
		else
			return error_setx(err, EINVAL, "device access `%s`", access);
	}
	return 0;
}

int devcg_compile(const json_t *rules, struct devcg_program *prog, struct error *err)
{
	memset(prog, 0, sizeof(*prog));
	size_t n = json_is_array(rules) ? json_array_size(rules) : 0;
	if (!n)
		return 0;
	struct out o = { 0 };
	/* r2 = type, r3 = access, r4 = major, r5 = minor */
	put(&o, BPF_LDX | BPF_W | BPF_MEM, R2, R1, 0, 0);
	put(&o, BPF_ALU | BPF_AND | BPF_K, R2, 0, 0, 0xffff);
	put(&o, BPF_LDX | BPF_W | BPF_MEM, R3, R1, 0, 0);
	put(&o, BPF_ALU | BPF_RSH | BPF_K, R3, 0, 0, 16);
	put(&o, BPF_LDX | BPF_W | BPF_MEM, R4, R1, 4, 0);
	put(&o, BPF_LDX | BPF_W | BPF_MEM, R5, R1, 8, 0);
	bool decided = false;
	for (size_t i = n; i-- > 0 && !decided;) {
		struct rule r;
		int rr = parse_rule(json_array_get(rules, i), &r, err);
		if (rr < 0) {
			free(o.v);
			return error_prefix(err, rr, "linux.resources.devices[%zu]", i);
		}
		/* Jumps to the next rule, patched once its start is known. */
		size_t jumps[4], nj = 0;
		if (r.type)
			jumps[nj++] = put(&o, BPF_JMP | BPF_JNE | BPF_K, R2, 0, 0, r.type);
		if (r.access != (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)) {
			/* The access asked for must be within the rule's. */
			put(&o, BPF_ALU | BPF_MOV | BPF_X, R1, R3, 0, 0);
			put(&o, BPF_ALU | BPF_AND | BPF_K, R1, 0, 0, r.access);
			jumps[nj++] = put(&o, BPF_JMP | BPF_JNE | BPF_X, R1, R3, 0, 0);
		}
		if (r.major >= 0)
			jumps[nj++] = put(&o, BPF_JMP | BPF_JNE | BPF_K, R4, 0, 0, (int32_t)r.major);
		if (r.minor >= 0)
			jumps[nj++] = put(&o, BPF_JMP | BPF_JNE | BPF_K, R5, 0, 0, (int32_t)r.minor);
		put(&o, BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, r.allow ? 1 : 0);
		put(&o, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
		for (size_t k = 0; k < nj && !o.oom; k++)
			o.v[jumps[k]].off = (int16_t)(o.n - jumps[k] - 1);
		/* A rule that matches everything hides the ones before it;
		 * the verifier refuses unreachable instructions. */
		decided = nj == 0;
	}
	if (!decided) {
		put(&o, BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, 0);
		put(&o, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	}
	if (o.oom) {
		free(o.v);
		return error_set(err, ENOMEM, "device program");
	}
	prog->insns = o.v;
	prog->len = o.n;
	return 0;
}

void devcg_free(struct devcg_program *p)
{
	free(p->insns);
	memset(p, 0, sizeof(*p));
}

int devcg_attach(const struct devcg_program *p, int cgroup_fd, struct error *err)
{
	if (!p->len)
		return 0;
	char log[4096] = "";
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	a.insns = (uint64_t)(uintptr_t)p->insns;
	a.insn_cnt = (uint32_t)p->len;
	a.license = (uint64_t)(uintptr_t) "MIT";
	a.log_buf = (uint64_t)(uintptr_t)log;
	a.log_size = sizeof(log);
	a.log_level = 1;
	int fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	if (fd < 0) {
		int e = errno;
		/* The verifier's log is only useful on a verifier error. */
		return error_set(err, e, "load the device filter%s%s", *log ? ": " : "", log);
	}
	if (cgroup_fd < 0) {
		close(fd);
		return 0;
	}
	memset(&a, 0, sizeof(a));
	a.target_fd = (uint32_t)cgroup_fd;
	a.attach_bpf_fd = (uint32_t)fd;
	a.attach_type = BPF_CGROUP_DEVICE;
	int r = (int)syscall(SYS_bpf, BPF_PROG_ATTACH, &a, sizeof(a));
	int e = errno;
	close(fd);
	if (r < 0)
		return error_set(err, e, "attach the device filter");
	return 0;
}
