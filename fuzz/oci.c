/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the OCI runtime spec as the agent reads it from a
 * Create request (gcs-agent/runtime/oci.c), and what container creation
 * builds from it without touching the system: the seccomp program
 * (seccomp.c), the device-cgroup eBPF program (devcg.c), the mount options
 * (mountopt.c), the user lookup (user.c) and an ExecuteProcess's process
 * (oci_process_parse).  Input: the spec's JSON text.
 *
 * Beyond "no crash", the compiled programs must be ones the kernel would
 * take and that end every path in a return: the classic BPF is checked as
 * the kernel's seccomp_check_filter() does and then run on a few system
 * calls; the eBPF's jumps must land inside the program, last on an exit.
 */
#include <errno.h>
#include <jansson.h>
#include <linux/audit.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_NAME "oci"
#include "target.h"
#include "runtime/caps.h"
#include "runtime/devcg.h"
#include "runtime/oci.h"
#include "runtime/seccomp.h"
#include "runtime/user.h"


static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
			     "daemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n"
			     "app:x:1000:1000:App:/home/app:/bin/sh\n"
			     "broken line without colons\n"
			     "big:x:4294967294:4294967294::/:\n";
static const char group[] = "root:x:0:\n"
			    "wheel:x:10:root,app\n"
			    "app:x:1000:\n"
			    "audio:x:29:app,daemon,app\n";

/* The kernel's checks on a seccomp classic BPF program (bpf_check_classic
 * plus seccomp_check_filter): the loads it allows, jumps inside the
 * program, a return at the end. */
static void check_seccomp(const struct seccomp_program *p)
{
	CHECK(p->len > 0 && p->len <= BPF_MAXINSNS);
	for (size_t i = 0; i < p->len; i++) {
		const struct sock_filter *f = &p->insns[i];
		switch (BPF_CLASS(f->code)) {
		case BPF_LD:
			CHECK(f->code == (BPF_LD | BPF_W | BPF_ABS));
			CHECK(f->k < sizeof(struct seccomp_data) && (f->k & 3) == 0);
			break;
		case BPF_JMP:
			if (BPF_OP(f->code) == BPF_JA)
				CHECK(i + 1 + f->k < p->len);
			else
				CHECK(i + 1 + f->jt < p->len && i + 1 + f->jf < p->len);
			break;
		case BPF_RET:
		case BPF_ALU:
		case BPF_MISC:
		case BPF_LDX:
		case BPF_ST:
		case BPF_STX:
			break;
		default:
			CHECK(!"unknown instruction class");
		}
	}
	CHECK(BPF_CLASS(p->insns[p->len - 1].code) == BPF_RET);
}

/* Run the program (the subset the compiler emits) on one system call. */
static uint32_t run_seccomp(const struct seccomp_program *p, const struct seccomp_data *sd)
{
	uint32_t a = 0;
	size_t pc = 0;
	for (size_t steps = 0; steps <= p->len; steps++) {
		CHECK(pc < p->len);
		const struct sock_filter *f = &p->insns[pc++];
		switch (f->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			memcpy(&a, (const uint8_t *)sd + f->k, 4);
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			a &= f->k;
			break;
		case BPF_JMP | BPF_JA:
			pc += f->k;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += a == f->k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JGT | BPF_K:
			pc += a > f->k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JGE | BPF_K:
			pc += a >= f->k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JSET | BPF_K:
			pc += (a & f->k) ? f->jt : f->jf;
			break;
		case BPF_RET | BPF_K:
			return f->k;
		default:
			CHECK(!"instruction the compiler does not emit");
		}
	}
	CHECK(!"program did not return (backward jump?)");
	return 0;
}

static void check_devcg(const struct devcg_program *p)
{
	CHECK(p->len > 0);
	for (size_t i = 0; i < p->len; i++) {
		const struct bpf_insn *f = &p->insns[i];
		if (BPF_CLASS(f->code) == BPF_JMP && BPF_OP(f->code) != BPF_EXIT &&
		    BPF_OP(f->code) != BPF_CALL) {
			long t = (long)i + 1 + f->off;
			CHECK(t > (long)i && t < (long)p->len);
		}
	}
	CHECK(p->insns[p->len - 1].code == (BPF_JMP | BPF_EXIT));
}

static void seccomp_part(const struct oci_spec *spec, const uint8_t *data, size_t size)
{
	struct seccomp_program prog;
	struct error err = { 0 };
	uint64_t bounding = spec->process.has_caps ? spec->process.caps.bounding : ~0ull;
	if (seccomp_compile(spec->seccomp, bounding, "6.1.0", &prog, &err) < 0) {
		CHECK(err.msg[0]);
		return;
	}
	check_seccomp(&prog);
	static const int nrs[] = { 0, 1, 59, 101, 165, 250, 435, 1000 };
	struct seccomp_data sd = { .arch = AUDIT_ARCH_X86_64 };
	for (size_t i = 0; i < sizeof(nrs) / sizeof(nrs[0]); i++) {
		sd.nr = nrs[i];
		for (int k = 0; k < 6; k++)
			sd.args[k] = size > (size_t)k ? (uint64_t)data[size - 1 - k] * 0x0101010101ull : 0;
		run_seccomp(&prog, &sd);
	}
	/* Another architecture and x32 numbers are always killed. */
	sd.nr = 1;
	sd.arch = AUDIT_ARCH_I386;
	CHECK(run_seccomp(&prog, &sd) == SECCOMP_RET_KILL_PROCESS);
	sd.arch = AUDIT_ARCH_X86_64;
	sd.nr = 0x40000000 | 1;
	CHECK(run_seccomp(&prog, &sd) == SECCOMP_RET_KILL_PROCESS);
	seccomp_program_free(&prog);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
	if (!doc)
		return 0;

	struct oci_spec spec;
	struct error err = { 0 };
	if (oci_spec_parse(doc, &spec, &err) < 0) {
		CHECK(err.msg[0]);
		json_decref(doc);
		return 0;
	}
	CHECK(spec.root_path && spec.hostname && spec.n_ns <= OCI_MAX_NAMESPACES);
	for (size_t i = 0; i < spec.n_mounts; i++)
		CHECK(spec.mounts[i].destination[0] == '/' &&
		      strlen(spec.mounts[i].opts.data) < sizeof(spec.mounts[i].opts.data));
	if (spec.has_process)
		CHECK(spec.process.cwd[0] == '/' && spec.process.args[spec.process.n_args] == NULL);

	if (spec.seccomp)
		seccomp_part(&spec, data, size);

	json_t *devices = json_object_get(json_object_get(json_object_get(doc, "linux"), "resources"),
					  "devices");
	struct devcg_program dp;
	err = (struct error){ 0 };
	if (devcg_compile(devices, &dp, &err) == 0) {
		if (dp.len)
			check_devcg(&dp);
		devcg_free(&dp);
	}

	if (spec.has_process) {
		struct user_request ureq = {
			.userstr = spec.process.username,
			.uid = spec.process.uid,
			.gid = spec.process.gid,
			.additional_gids = spec.process.additional_gids,
			.n_additional_gids = spec.process.n_additional_gids,
		};
		struct user_result ures;
		err = (struct error){ 0 };
		if (user_resolve(passwd, group, &ureq, &ures, &err) == 0)
			CHECK(ures.n_groups <= USER_MAX_GROUPS);
		err = (struct error){ 0 };
		user_resolve(NULL, NULL, &ureq, &ures, &err);

		/* ExecuteProcess takes the same process object on its own. */
		json_t *proc = json_object_get(doc, "process");
		struct oci_process op;
		err = (struct error){ 0 };
		if (oci_process_parse(proc, &op, &err) == 0)
			oci_process_free(&op);
	}
	oci_spec_free(&spec);
	json_decref(doc);
	return 0;
}
