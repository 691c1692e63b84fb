# mamori build. `make` builds build/release/mamori; `make test` runs every
# suite (unit, CRS regression, fuzz smoke) under ASan+UBSan; `make run` runs
# mamori's main job with safe defaults.
CC      ?= cc
PKGS    := libpcre2-8 yaml-0.1 libxml-2.0 libzstd yajl libssl libcrypto sqlite3 libcurl libcrypt
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -Isrc $(WARN) $(PKG_CFLAGS)
REL_CFLAGS  := $(BASE_CFLAGS) -O2 -g -fno-strict-aliasing
SAN_CFLAGS  := $(BASE_CFLAGS) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
               -fno-sanitize-recover=undefined
LIBS    := $(PKG_LIBS) -lm -lpthread

LIB_SRC  := $(shell find src -name '*.c' ! -path 'src/cli/*' | sort)
CLI_SRC  := $(shell find src/cli -name '*.c' | sort)
UNIT_SRC := $(shell find tests/unit -name '*.c' | sort)
CRS_SRC  := $(shell find tests/crs -name '*.c' | sort)
HDRS     := $(shell find src tests -name '*.h')

BUILD ?= build
REL := $(BUILD)/release
SAN := $(BUILD)/asan

.PHONY: all test run bootstrap clean fuzz unit crs
all: $(REL)/mamori

define objs
$(patsubst %.c,$(1)/%.o,$(2))
endef

$(REL)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) -c $< -o $@
$(SAN)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) -c $< -o $@

$(REL)/libmamori.a: $(call objs,$(REL),$(LIB_SRC))
	@rm -f $@; ar rcs $@ $^
$(SAN)/libmamori.a: $(call objs,$(SAN),$(LIB_SRC))
	@rm -f $@; ar rcs $@ $^

$(REL)/mamori: $(call objs,$(REL),$(CLI_SRC)) $(REL)/libmamori.a
	$(CC) $(REL_CFLAGS) -o $@ $^ $(LIBS)
$(SAN)/mamori: $(call objs,$(SAN),$(CLI_SRC)) $(SAN)/libmamori.a
	$(CC) $(SAN_CFLAGS) -o $@ $^ $(LIBS)
$(SAN)/unit_tests: $(call objs,$(SAN),$(UNIT_SRC)) $(SAN)/libmamori.a
	$(CC) $(SAN_CFLAGS) -o $@ $^ $(LIBS)
$(SAN)/crs_runner: $(call objs,$(SAN),$(CRS_SRC)) $(SAN)/libmamori.a
	$(CC) $(SAN_CFLAGS) -o $@ $^ $(LIBS)
$(REL)/crs_runner: $(call objs,$(REL),$(CRS_SRC)) $(REL)/libmamori.a
	$(CC) $(REL_CFLAGS) -o $@ $^ $(LIBS)

bootstrap:
	@scripts/bootstrap

unit: $(SAN)/unit_tests
	$(SAN)/unit_tests

crs: $(SAN)/crs_runner
	scripts/run-crs $(SAN)/crs_runner

# Every suite; the last line is "N passed, N failed".
test: bootstrap
	@$(MAKE) --no-print-directory -j2 $(SAN)/unit_tests $(SAN)/crs_runner $(SAN)/mamori $(REL)/mamori
	@scripts/test-all

run: bootstrap
	@$(MAKE) --no-print-directory -j2 $(REL)/mamori
	@scripts/run-demo

clean:
	rm -rf $(BUILD)
