// SPDX-License-Identifier: GPL-2.0
/* wg(8): configuration tool for WireGuard interfaces.  Dispatch only. */
#include <stdio.h>
#include <string.h>
#include "subcommands.h"

#define WG_TOOL_VERSION "1.0.0"

const char *prog_name = "wg";

static const struct {
	const char *name;
	int (*fn)(int argc, char *argv[]);
	const char *what;
} commands[] = {
	{ "show", show_main, "Shows the current configuration and device information" },
	{ "showconf", showconf_main, "Shows the current configuration of a given WireGuard interface, for use with `setconf'" },
	{ "set", set_main, "Change the current configuration, add peers, remove peers, or change peers" },
	{ "setconf", setconf_main, "Applies a configuration file to a WireGuard interface" },
	{ "addconf", setconf_main, "Appends a configuration file to a WireGuard interface" },
	{ "syncconf", setconf_main, "Synchronizes a configuration file to a WireGuard interface" },
	{ "genkey", genkey_main, "Generates a new private key and writes it to stdout" },
	{ "genpsk", genkey_main, "Generates a new preshared key and writes it to stdout" },
	{ "pubkey", pubkey_main, "Reads a private key from stdin and writes a public key to stdout" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: %s <cmd> [<args>]\n\n", prog_name);
	fprintf(f, "Available subcommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); ++i)
		fprintf(f, "  %s: %s\n", commands[i].name, commands[i].what);
	fprintf(f, "You may pass `--help' to any of these subcommands to view usage.\n");
}

int main(int argc, char *argv[])
{
	char *show_args[] = { "show", NULL };
	size_t i;

	if (argc == 2 && (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))) {
		printf("wg (compatible with wireguard-tools) v%s\n", WG_TOOL_VERSION);
		return 0;
	}
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
		usage(stdout);
		return 0;
	}
	if (argc == 1)
		return show_main(1, show_args);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); ++i)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "Invalid subcommand: `%s'\n", argv[1]);
	usage(stderr);
	return 1;
}
