#include <stdio.h>
int main(void)
{
    fprintf(stderr, "mamori: not built yet\n");
    return 2;
}
