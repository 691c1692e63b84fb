/* Test driver: "mamori watch|bans|events|notify" until main.c dispatches
 * them. Built by tests/watch/run when the real binary does not know them. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s watch|bans|events|notify ...\n", argv[0]);
        return 2;
    }
    if (!strcmp(argv[1], "watch"))
        return cli_watch(argc - 1, argv + 1);
    if (!strcmp(argv[1], "bans"))
        return cli_bans(argc - 1, argv + 1);
    if (!strcmp(argv[1], "events"))
        return cli_events(argc - 1, argv + 1);
    if (!strcmp(argv[1], "notify"))
        return cli_notify(argc - 1, argv + 1);
    fprintf(stderr, "%s: unknown command '%s'\n", argv[0], argv[1]);
    return 2;
}
