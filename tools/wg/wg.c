// SPDX-License-Identifier: GPL-2.0
/*
 * wg(8): configuration tool for WireGuard interfaces.
 *
 * Every command is one row of the table below: its name, how many
 * arguments it takes, its usage line and its one-line summary.  The same
 * row serves dispatch, the argument count check, the command's usage
 * message and `wg help', so the help can never disagree with what runs.
 */
#include <stdio.h>
#include <string.h>
#include "subcommands.h"
#include "sync.h"

#define WG_TOOL_VERSION "1.0.0"
#define ANY_NUMBER (-1)

const char *prog_name = "wg";

struct wg_command {
	const char *name;
	int (*run)(int argc, char *argv[], int variant);
	int variant;		/* passed to run(): which of its commands */
	int min_args, max_args;	/* after the command's name */
	const char *args;	/* usage: "wg NAME ARGS" */
	const char *summary;	/* for `wg help' */
};

static const char show_args[] =
	"{ <interface> | all | interfaces } [public-key | private-key | listen-port | fwmark | peers | "
	"preshared-keys | endpoints | allowed-ips | latest-handshakes | transfer | persistent-keepalive | dump]";
static const char set_args[] =
	"<interface> [listen-port <port>] [fwmark <mark>] [private-key <file path>] "
	"[peer <base64 public key> [remove] [preshared-key <file path>] [endpoint <ip>:<port>] "
	"[persistent-keepalive <interval seconds>] [allowed-ips <ip1>/<cidr1>[,<ip2>/<cidr2>]...] ]...";
static const char conf_args[] = "<interface> <configuration filename>";

static const struct wg_command commands[] = {
	{ "show", cmd_show, 0, 0, 2, show_args,
	  "Shows the current configuration and device information" },
	{ "showconf", cmd_showconf, 0, 1, 1, "<interface>",
	  "Shows the current configuration of a given WireGuard interface, for use with `setconf'" },
	{ "set", cmd_set, 0, 2, ANY_NUMBER, set_args,
	  "Change the current configuration, add peers, remove peers, or change peers" },
	{ "setconf", cmd_conf, SYNC_SETCONF, 2, 2, conf_args,
	  "Applies a configuration file to a WireGuard interface" },
	{ "addconf", cmd_conf, SYNC_ADDCONF, 2, 2, conf_args,
	  "Appends a configuration file to a WireGuard interface" },
	{ "syncconf", cmd_conf, SYNC_SYNCCONF, 2, 2, conf_args,
	  "Synchronizes a configuration file to a WireGuard interface" },
	{ "genkey", cmd_genkey, KEY_PRIVATE, 0, 0, "",
	  "Generates a new private key and writes it to stdout" },
	{ "genpsk", cmd_genkey, KEY_PRESHARED, 0, 0, "",
	  "Generates a new preshared key and writes it to stdout" },
	{ "pubkey", cmd_pubkey, 0, 0, 0, "",
	  "Reads a private key from stdin and writes a public key to stdout" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct wg_command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < N_COMMANDS; ++i)
		if (!strcmp(name, commands[i].name))
			return &commands[i];
	return NULL;
}

static void print_command_usage(FILE *f, const struct wg_command *cmd)
{
	fprintf(f, "Usage: %s %s%s%s\n", prog_name, cmd->name, *cmd->args ? " " : "", cmd->args);
}

static void print_overview(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: %s <cmd> [<args>]\n\n", prog_name);
	fprintf(f, "Available subcommands:\n");
	for (i = 0; i < N_COMMANDS; ++i)
		fprintf(f, "  %s: %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "You may pass `--help' to any of these subcommands to view usage.\n");
}

static bool arg_count_fits(const struct wg_command *cmd, int n)
{
	return n >= cmd->min_args && (cmd->max_args == ANY_NUMBER || n <= cmd->max_args);
}

/* argv[0] is the command's name, as the commands expect. */
static int run_command(const struct wg_command *cmd, int argc, char *argv[])
{
	int ret;

	if (!arg_count_fits(cmd, argc - 1)) {
		print_command_usage(stderr, cmd);
		return 1;
	}
	ret = cmd->run(argc, argv, cmd->variant);
	if (ret == CMD_USAGE) {
		print_command_usage(stderr, cmd);
		return 1;
	}
	if (ret == CMD_HELP) {
		print_command_usage(stdout, cmd);
		return 0;
	}
	return ret;
}

static bool is_any_of(const char *arg, const char *const names[])
{
	for (; *names; ++names)
		if (!strcmp(arg, *names))
			return true;
	return false;
}

int main(int argc, char *argv[])
{
	static const char *const version_words[] = { "-v", "--version", "version", NULL };
	static const char *const help_words[] = { "-h", "--help", "help", NULL };
	char *bare_show[] = { "show", NULL };
	const struct wg_command *cmd;

	if (argc == 1)
		return run_command(find_command("show"), 1, bare_show);
	if (argc == 2 && is_any_of(argv[1], version_words)) {
		printf("wg (compatible with wireguard-tools) v%s\n", WG_TOOL_VERSION);
		return 0;
	}
	if (argc == 2 && is_any_of(argv[1], help_words)) {
		print_overview(stdout);
		return 0;
	}
	cmd = find_command(argv[1]);
	if (cmd)
		return run_command(cmd, argc - 1, argv + 1);
	fprintf(stderr, "Invalid subcommand: `%s'\n", argv[1]);
	print_overview(stderr);
	return 1;
}
