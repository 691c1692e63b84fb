#include <stdio.h>

#include "cli/cli.h"

int cli_config(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "mamori config: not implemented yet in this version\n");
    return 2;
}
