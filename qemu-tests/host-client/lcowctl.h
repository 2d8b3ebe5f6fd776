/* SPDX-License-Identifier: MIT */
/* Shared between the lcowctl subcommand files. */
#ifndef LCOW_HOST_LCOWCTL_H
#define LCOW_HOST_LCOWCTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "ctl.h"

/* Exit status contract of every client subcommand. */
enum {
	EXIT_OK = 0,
	EXIT_HRESULT = 1,   /* the guest answered with Result != 0 */
	EXIT_USAGE = 2,	    /* bad command line or bad JSON from the user */
	EXIT_TRANSPORT = 3, /* serve not running, connection lost, timeout */
};

/* Options every client subcommand takes. */
struct client_opts {
	const char *control; /* -c PATH */
	const char *base;    /* --uds BASE → BASE.ctl */
	int rpc_timeout_ms;  /* --rpc-timeout SEC, -1 = none */
};

int cmd_serve(int argc, char **argv);
int cmd_exec(int argc, char **argv, struct client_opts *g);
/* Every other client subcommand; NULL name = not one of them. */
int cmd_client(const char *name, int argc, char **argv, struct client_opts *g);
bool client_command_exists(const char *name);
void client_list_commands(FILE *f);

/* Parse one of the common client options (getopt value c); returns true
 * when it was one. */
bool client_common_opt(struct client_opts *g, int c, const char *arg, int *exit_code);
#define CLIENT_COMMON_LONGOPTS                                                                     \
	{"control", required_argument, NULL, 'c'}, {"uds", required_argument, NULL, 0x100},        \
	    {"rpc-timeout", required_argument, NULL, 0x101}, {"vsock", no_argument, NULL, 0x102},  \
	{                                                                                          \
		"help", no_argument, NULL, 'h'                                                     \
	}
#define CLIENT_COMMON_HELP                                                                         \
	"  -c, --control PATH   serve's control socket (default BASE.ctl, or $LCOWCTL_CONTROL)\n"  \
	"      --uds BASE       the VM's vsock unix-socket base path\n"                            \
	"      --rpc-timeout S  give up on serve after S seconds (exit 3)\n"                       \
	"  -h, --help           this text\n"

/* Helpers for client subcommands (client.c). */
int client_connect(struct client_opts *g, struct ctl_client *cc);
/* A control request/reply round trip; prints transport errors and
 * returns EXIT_TRANSPORT / EXIT_USAGE, else 0 with *reply set. */
int client_call(struct client_opts *g, json_t *req, json_t **reply);
/* Print a bridge response (JSON on stdout, error line on stderr) and
 * return the exit code for its Result. */
int client_print_response(json_t *response);
int client_result_exit(json_t *response);
/* Parse user JSON: a literal or @FILE; prints the usage error. */
int parse_user_json(const char *what, const char *text, json_t **out);

void print_json_line(FILE *f, json_t *j);

#endif
