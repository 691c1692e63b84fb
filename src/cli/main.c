/* mamori: one program, one subcommand per job. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f)
{
    fputs("usage: mamori COMMAND [OPTIONS]\n"
          "\n"
          "commands:\n"
          "  eval    judge one raw HTTP request (and optional response) with the rules\n"
          "  bench   run a JSON-lines request corpus through the engine and report speed\n"
          "\n"
          "Not built yet (see docs/roadmap.md): run, audit, probe, watch, bans, events,\n"
          "notify, scan-log, config.\n"
          "\n"
          "Run 'mamori COMMAND --help' for a command's options.\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "eval"))
        return cli_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench"))
        return cli_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    static const char *planned[] = {"run", "audit", "probe", "watch", "bans", "events",
                                    "notify", "scan-log", "config"};
    for (size_t i = 0; i < sizeof planned / sizeof planned[0]; i++) {
        if (!strcmp(cmd, planned[i])) {
            fprintf(stderr, "mamori: '%s' is not implemented yet in this version\n", cmd);
            return 2;
        }
    }
    fprintf(stderr, "mamori: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
