#!/bin/bash
# Bot-shield micro-benchmarks (bench/shield-bench.c): builds at -O2 against
# src/shield and runs each part in its own process (peak RSS per part).
#   bench/shield-bench.sh            # everything
#   N=1000000 bench/shield-bench.sh  # distinct addresses for the table runs
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/shield-bench}
N=${N:-1000000}
CC=${CC:-cc}
$CC -std=c11 -D_GNU_SOURCE -Isrc -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter \
    bench/shield-bench.c src/shield/*.c -o "$OUT" \
    $(pkg-config --libs libssl libcrypto yajl) -lm -lpthread
"$OUT" check
"$OUT" verify
"$OUT" iplist
"$OUT" rate "$N" 100000
"$OUT" rate "$N" "$N"
"$OUT" behav "$N" 100000
"$OUT" behav "$N" "$N"
"$OUT" threads
