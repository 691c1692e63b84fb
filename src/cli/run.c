#include <stdio.h>

#include "cli/cli.h"

int cli_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "mamori run: not implemented yet in this version\n");
    return 2;
}
