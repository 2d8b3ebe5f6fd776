/* SPDX-License-Identifier: MIT */
#include "user.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One line split at ':' into at most max fields (the last keeps the
 * rest).  Works on a copy in buf. */
static size_t split_fields(const char *line, size_t len, char *buf, size_t bufsz, char **fields,
			   size_t max)
{
	if (len >= bufsz)
		return 0;
	memcpy(buf, line, len);
	buf[len] = '\0';
	size_t n = 0;
	char *p = buf;
	while (n < max) {
		fields[n++] = p;
		char *c = strchr(p, ':');
		if (!c || n == max)
			break;
		*c = '\0';
		p = c + 1;
	}
	return n;
}

static bool parse_id(const char *s, uint32_t *out)
{
	if (!*s || strlen(s) > 10)
		return false;
	uint64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* Iterate the lines of text: fn returns true to stop. */
typedef bool (*line_fn)(char **fields, size_t n, void *ctx);

static void for_each_line(const char *text, size_t max_fields, line_fn fn, void *ctx)
{
	char buf[4096];
	char *fields[8];
	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		/* Comments and blank lines are skipped, as libc and runc do. */
		if (len && p[0] != '#') {
			size_t n = split_fields(p, len, buf, sizeof(buf), fields, max_fields);
			if (n && fn(fields, n, ctx))
				return;
		}
		p = nl ? nl + 1 : NULL;
	}
}

struct pw_find {
	const char *name;	/* by name, or */
	uint32_t uid;		/* by uid */
	bool found;
	uint32_t out_uid, out_gid;
	char out_name[64], out_home[256];
};

static bool pw_match(char **f, size_t n, void *ctx)
{
	struct pw_find *q = ctx;
	uint32_t uid, gid;
	/* name:password:uid:gid:gecos:home:shell */
	if (n < 4 || !parse_id(f[2], &uid) || !parse_id(f[3], &gid))
		return false;
	if (q->name ? strcmp(f[0], q->name) != 0 : uid != q->uid)
		return false;
	q->found = true;
	q->out_uid = uid;
	q->out_gid = gid;
	snprintf(q->out_name, sizeof(q->out_name), "%s", f[0]);
	snprintf(q->out_home, sizeof(q->out_home), "%s", n >= 6 && *f[5] ? f[5] : "/");
	return true;
}

struct gr_find {
	const char *name;	/* by name, or */
	uint32_t gid;		/* by gid */
	bool found;
	uint32_t out_gid;
};

static bool gr_match(char **f, size_t n, void *ctx)
{
	struct gr_find *q = ctx;
	uint32_t gid;
	/* name:password:gid:member,member */
	if (n < 3 || !parse_id(f[2], &gid))
		return false;
	if (q->name ? strcmp(f[0], q->name) != 0 : gid != q->gid)
		return false;
	q->found = true;
	q->out_gid = gid;
	return true;
}

struct gr_members {
	const char *user;
	struct user_result *res;
	bool overflow;
};

static bool add_group(struct user_result *res, uint32_t gid)
{
	for (size_t i = 0; i < res->n_groups; i++)
		if (res->groups[i] == gid)
			return true;
	if (res->n_groups == USER_MAX_GROUPS)
		return false;
	res->groups[res->n_groups++] = gid;
	return true;
}

static bool gr_member(char **f, size_t n, void *ctx)
{
	struct gr_members *q = ctx;
	uint32_t gid;
	if (n < 4 || !parse_id(f[2], &gid))
		return false;
	for (char *m = f[3], *save = NULL, *tok; (tok = strtok_r(m, ",", &save)); m = NULL) {
		/* Members may carry spaces after the commas in hand-made files. */
		while (*tok == ' ')
			tok++;
		if (strcmp(tok, q->user) == 0) {
			if (!add_group(q->res, gid))
				q->overflow = true;
			break;
		}
	}
	return false;
}

int user_resolve(const char *passwd_text, const char *group_text, const struct user_request *req,
		 struct user_result *out, struct error *err)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->home, sizeof(out->home), "/");
	bool explicit_group = false;
	struct pw_find pw = { 0 };

	if (req->userstr && *req->userstr) {
		char user[256], *group = NULL;
		if (strlen(req->userstr) >= sizeof(user))
			return error_setx(err, EINVAL, "user `%s` is too long", req->userstr);
		strcpy(user, req->userstr);
		char *colon = strchr(user, ':');
		if (colon) {
			*colon = '\0';
			group = colon + 1;
			if (strchr(group, ':'))
				return error_setx(err, EINVAL, "invalid user `%s`", req->userstr);
			explicit_group = true;
		}
		if (!*user || (group && !*group))
			return error_setx(err, EINVAL, "invalid user `%s`", req->userstr);
		uint32_t id;
		if (parse_id(user, &id)) {
			/* A uid need not exist; its entry, if any, gives the gid. */
			pw.uid = id;
			for_each_line(passwd_text, 7, pw_match, &pw);
			out->uid = id;
			out->gid = pw.found ? pw.out_gid : 0;
		} else {
			pw.name = user;
			for_each_line(passwd_text, 7, pw_match, &pw);
			if (!pw.found)
				return error_setx(err, ENOENT, "no user `%s` in the container's /etc/passwd%s",
						  user, passwd_text ? "" : " (no such file)");
			out->uid = pw.out_uid;
			out->gid = pw.out_gid;
		}
		if (group) {
			if (parse_id(group, &id)) {
				out->gid = id;
			} else {
				struct gr_find gr = { .name = group };
				for_each_line(group_text, 4, gr_match, &gr);
				if (!gr.found)
					return error_setx(err, ENOENT,
							  "no group `%s` in the container's /etc/group%s",
							  group, group_text ? "" : " (no such file)");
				out->gid = gr.out_gid;
			}
		}
	} else {
		/* The OCI numbers are used as given: runc's explicit form. */
		explicit_group = true;
		pw.uid = req->uid;
		for_each_line(passwd_text, 7, pw_match, &pw);
		out->uid = req->uid;
		out->gid = req->gid;
	}
	if (pw.found) {
		snprintf(out->home, sizeof(out->home), "%s", pw.out_home);
		snprintf(out->name, sizeof(out->name), "%s", pw.out_name);
	}
	for (size_t i = 0; i < req->n_additional_gids; i++)
		if (!add_group(out, req->additional_gids[i]))
			return error_setx(err, E2BIG, "more than %d supplementary groups",
					  USER_MAX_GROUPS);
	if (!explicit_group && pw.found) {
		struct gr_members m = { .user = pw.out_name, .res = out };
		for_each_line(group_text, 4, gr_member, &m);
		if (m.overflow)
			return error_setx(err, E2BIG, "user `%s` is in more than %d groups",
					  pw.out_name, USER_MAX_GROUPS);
	}
	return 0;
}
