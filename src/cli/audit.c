#include <stdio.h>

#include "cli/cli.h"

int cli_audit(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "mamori audit: not implemented yet in this version\n");
    return 2;
}
