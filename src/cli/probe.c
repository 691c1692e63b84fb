#include <stdio.h>

#include "cli/cli.h"

int cli_probe(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "mamori probe: not implemented yet in this version\n");
    return 2;
}
