#include <stdio.h>

#include "cli/cli.h"

int cli_bench(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "mamori bench: not implemented yet\n");
    return 2;
}
