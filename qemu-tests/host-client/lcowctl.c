/* SPDX-License-Identifier: MIT */
/*
 * lcowctl: plays the Windows host (HCS + hcsshim) against the LCOW guest
 * agent.  `serve` owns the VM's vsock ports; every other subcommand talks
 * to it over its control socket.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "lcowctl.h"

static void usage(FILE *f)
{
	fputs("usage: lcowctl [-c PATH | --uds BASE] COMMAND [ARGS...]\n"
	      "\n"
	      "The host side of an LCOW utility VM: speaks the GCS bridge protocol v4 to the\n"
	      "guest agent like Windows (HCS + hcsshim) does.\n"
	      "\n"
	      "  serve --uds BASE [--vsock] [--control PATH] [--log FILE] [--events FILE]\n"
	      "  exec [ID] [--uvm] [--tty] [--cwd DIR] [--env K=V]... [--user U] -- CMD [ARG...]\n",
	      f);
	client_list_commands(f);
	fputs("\n"
	      "Client commands reach serve over its control socket: -c PATH, --uds BASE\n"
	      "(BASE.ctl) or $LCOWCTL_CONTROL.  They print JSON on stdout.  Exit status: 0\n"
	      "Result == 0; 1 the guest answered an HRESULT error (\"error: 0x...: msg\" on\n"
	      "stderr); 2 usage; 3 transport (serve not running, connection lost, timeout).\n"
	      "`lcowctl COMMAND --help` describes each command.\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {CLIENT_COMMON_LONGOPTS, {0}};
	struct client_opts g = {.rpc_timeout_ms = -1};

	/* Global options before the command: `lcowctl -c PATH status`. */
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+:c:h", opts, NULL)) != -1) {
		int code = -1;
		if (c == 'h') {
			usage(stdout);
			return EXIT_OK;
		}
		if (c == '?' || c == ':' || !client_common_opt(&g, c, optarg, &code)) {
			fprintf(stderr, "lcowctl: bad option `%s`\n", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
		if (code >= 0)
			return code;
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[optind];
	int cargc = argc - optind;
	char **cargv = argv + optind;

	if (strcmp(cmd, "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(cargc, cargv);
	if (strcmp(cmd, "exec") == 0)
		return cmd_exec(cargc, cargv, &g);
	if (client_command_exists(cmd))
		return cmd_client(cmd, cargc, cargv, &g);
	fprintf(stderr, "lcowctl: unknown command `%s`\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
