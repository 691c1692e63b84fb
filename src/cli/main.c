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
          "  run     the reverse proxy with the WAF in front of an app\n"
          "  config  check a configuration file (mamori config check FILE)\n"
          "  audit   check this host (or a mounted image) for security problems\n"
          "  probe   check a web site from the outside\n"
          "  watch   follow auth and web logs, ban brute-forcers, tell the admin\n"
          "          (--once FILE... replays old logs)\n"
          "  bans    list, add or remove bans (nftables and the store)\n"
          "  events  query the event store\n"
          "  notify  send a message to the configured channels\n"
          "  exclude propose the narrowest exclusion for a blocked request (event id or request)\n"
          "  lists   refresh an IP list file from a URL (run from a timer)\n"
          "\n"
          "Not built yet: scan-log.\n"
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
    if (!strcmp(cmd, "run"))
        return cli_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "config"))
        return cli_config(argc - 1, argv + 1);
    if (!strcmp(cmd, "audit"))
        return cli_audit(argc - 1, argv + 1);
    if (!strcmp(cmd, "probe"))
        return cli_probe(argc - 1, argv + 1);
    if (!strcmp(cmd, "watch"))
        return cli_watch(argc - 1, argv + 1);
    if (!strcmp(cmd, "bans"))
        return cli_bans(argc - 1, argv + 1);
    if (!strcmp(cmd, "events"))
        return cli_events(argc - 1, argv + 1);
    if (!strcmp(cmd, "notify"))
        return cli_notify(argc - 1, argv + 1);
    if (!strcmp(cmd, "exclude"))
        return cli_exclude(argc - 1, argv + 1);
    if (!strcmp(cmd, "lists"))
        return cli_lists(argc - 1, argv + 1);
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    static const char *planned[] = {"scan-log"};
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
