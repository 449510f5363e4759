# hyve build.  `make` builds bin/hyve and bin/hyvectl; `make check` runs every
# test (installing missing Debian packages first); `make SAN=1` builds the
# same tree with AddressSanitizer + UBSan into build-san/.
#
# Every src/**/*.c except *_main.c is part of the core objects linked into
# both programs and every unit test (objects, not an archive, so that
# DEVICE_TYPE_REGISTER constructors are always linked in).

CC ?= cc
ifeq ($(CC),cc)
CC := gcc
endif

ifeq ($(SAN),1)
BUILD ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT := -O1
else
BUILD ?= build
SANFLAGS :=
OPT := -O2
endif

CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g $(OPT) -Iinclude -Isrc -MMD -MP
CFLAGS := $(CFLAGS_BASE) $(SANFLAGS) $(EXTRA_CFLAGS)
LDFLAGS := $(SANFLAGS) $(EXTRA_LDFLAGS)
LDLIBS := -lpthread -lcbor -lxxhash -ljson-c -lm

CORE_SRC := $(filter-out %_main.c,$(shell find src -name '*.c' | sort))
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all bins tests guests check format fuzz clean bench
# Objects are made by pattern chains (test_x.c -> .o -> binary): without
# this, make treats them as intermediates and deletes them after linking,
# so the next "make all" would compile them all again.
.SECONDARY:
all: bins tests

bins: $(BUILD)/bin/hyve $(BUILD)/bin/hyvectl
ifeq ($(BUILD),build)
	@mkdir -p bin
	@ln -sf ../build/bin/hyve bin/hyve
	@ln -sf ../build/bin/hyvectl bin/hyvectl
endif

tests: $(UNIT_BIN) $(BENCH_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/bin/%: $(BUILD)/obj/src/cli/%_main.o $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

guests:
	$(MAKE) -C tests/guest

check:
	bash tests/run.sh

format:
	clang-format -i $$(find src include tests bench fuzz -name '*.[ch]')

fuzz:
	bash fuzz/run.sh long

clean:
	rm -rf build build-san bin
	$(MAKE) -C tests/guest clean

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
