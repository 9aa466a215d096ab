# taskpipe: `make` builds ./taskpipe, a static musl binary; `make test` runs
# every test; `make bench` the benchmarks; `make demo` the local demo.
# Third-party libraries come from Debian source packages (build/libs.sh).

ARCH       ?= x86_64
DEPS       := .deps/$(ARCH)
OUT        := out
# -MMD -MP: each object's header dependencies land in a .d file beside it.
# -Wmissing-format-attribute: a function passing its own format and va_list on
# must carry __attribute__((format(printf, ...))), so -Wformat checks its callers.
CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wformat-security -Wmissing-format-attribute -Isrc -I$(OUT)/gen -MMD -MP
LUA_FILES  := policies/policy.lua $(wildcard lua/*.lua)

# src/ is in layers (docs/INTERNALS.md "Source layout"): base, aws, script, core,
# runtime, cmd; each includes only its own and the layers below it
# (build/check_layers.sh, run by `make check-layers`, `make check` and
# `make test`; Lua's headers only in script/ and cmd/).
SRC        := $(sort $(shell find src -name '*.c'))
LIB_SRC    := $(filter-out src/cmd/main.c,$(SRC))
SRC_H      := $(sort $(shell find src -name '*.h'))

# release: musl, static
ifeq ($(ARCH),aarch64)
MUSL_CC    := aarch64-linux-musl-gcc
STRIP      := aarch64-linux-gnu-strip
else
MUSL_CC    := musl-gcc
STRIP      := strip
endif
REL_DIR    := $(OUT)/$(ARCH)
REL_CFLAGS := $(CFLAGS_COMMON) -O2 -ffunction-sections -fdata-sections -I$(DEPS)/include
REL_LDFLAGS:= -static -Wl,--gc-sections -L$(DEPS)/lib
REL_LIBS   := -lcurl -lbearssl -llua -lcjson -lm -lpthread
REL_OBJ    := $(patsubst src/%.c,$(REL_DIR)/%.o,$(SRC)) $(REL_DIR)/embedded_data.o

# debug: glibc, Debian -dev packages, ASan + UBSan (float-cast-overflow is not
# in gcc's "undefined" group: named so out-of-range double casts stop too)
DBG_DIR    := $(OUT)/debug
SAN        := -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=undefined,float-cast-overflow
DBG_CFLAGS := $(CFLAGS_COMMON) -g -O1 $(SAN) -I/usr/include/lua5.4
DBG_LIBS   := -lcurl -lbearssl -llua5.4 -lcjson -lm -lpthread
DBG_OBJ    := $(patsubst src/%.c,$(DBG_DIR)/%.o,$(LIB_SRC)) $(DBG_DIR)/embedded_data.o
# tests/fake/: an in-memory AWS behind aws.h's transport hook, linked into
# every unit program (only the programs that call it pull it in).
FAKE_SRC   := $(wildcard tests/fake/*.c)
FAKE_OBJ   := $(patsubst tests/fake/%.c,$(DBG_DIR)/fake/%.o,$(FAKE_SRC))
# the fleet simulation's build: -O2, no sanitizers (see fleet-sim below);
# not fixture.c, which is cmocka's
BENCH_DIR  := $(OUT)/bench
BENCH_CFLAGS := $(CFLAGS_COMMON) -O2 -g -I/usr/include/lua5.4
BENCH_OBJ  := $(patsubst src/%.c,$(BENCH_DIR)/%.o,$(LIB_SRC)) $(BENCH_DIR)/embedded_data.o \
	      $(patsubst tests/fake/%.c,$(BENCH_DIR)/fake/%.o,$(filter-out tests/fake/fixture.c,$(FAKE_SRC)))
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(patsubst tests/unit/%.c,$(DBG_DIR)/tests/%,$(UNIT_SRC))

JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all check check-layers check-settings docs debug deps libs test unit integration bench bench-policy fleet-sim chaos demo package clean distclean


# `make ARCH=aarch64` builds out/aarch64/taskpipe only: ./taskpipe stays
# the x86_64 binary the tests run.
ifeq ($(ARCH),x86_64)
all: taskpipe
else
all: $(REL_DIR)/taskpipe
endif

deps:
	@sh build/deps.sh

libs: $(DEPS)/VERSIONS
$(DEPS)/VERSIONS:
	sh build/libs.sh $(ARCH)

$(OUT)/gen/embedded_data.c: build/embed.sh $(LUA_FILES)
	@mkdir -p $(dir $@)
	sh build/embed.sh $@ policy.lua=policies/policy.lua $(foreach f,$(wildcard lua/*.lua),$(notdir $(f))=$(f))

taskpipe: $(REL_DIR)/taskpipe
	cp $< $@

$(REL_DIR)/taskpipe: $(REL_OBJ)
	$(MUSL_CC) $(REL_LDFLAGS) -o $@ $(DEPS)/lib/mimalloc.o $(REL_OBJ) $(REL_LIBS)
	$(STRIP) $@

$(REL_DIR)/%.o: src/%.c $(DEPS)/VERSIONS
	@mkdir -p $(dir $@)
	$(MUSL_CC) $(REL_CFLAGS) -c -o $@ $<
$(REL_DIR)/embedded_data.o: $(OUT)/gen/embedded_data.c $(DEPS)/VERSIONS
	@mkdir -p $(dir $@)
	$(MUSL_CC) $(REL_CFLAGS) -c -o $@ $<

debug: taskpipe-debug
taskpipe-debug: $(DBG_OBJ) $(DBG_DIR)/cmd/main.o
	$(CC) $(SAN) -o $@ $^ $(DBG_LIBS)

$(DBG_DIR)/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(DBG_CFLAGS) -c -o $@ $<
$(DBG_DIR)/embedded_data.o: $(OUT)/gen/embedded_data.c
	@mkdir -p $(dir $@)
	$(CC) $(DBG_CFLAGS) -c -o $@ $<
$(DBG_DIR)/libtp.a: $(DBG_OBJ)
	ar rcs $@ $^

$(DBG_DIR)/fake/%.o: tests/fake/%.c
	@mkdir -p $(dir $@)
	$(CC) $(DBG_CFLAGS) -Itests -c -o $@ $<
$(DBG_DIR)/libfake.a: $(FAKE_OBJ)
	ar rcs $@ $^

# the same requests to the fake and to the AWS-faithful layer
# (tests/integration/test_fake_contract.py compares the answers)
$(DBG_DIR)/fake_contract: tests/fake/contract/contract.c $(DBG_DIR)/libfake.a $(DBG_DIR)/libtp.a
	$(CC) $(DBG_CFLAGS) -Itests -o $@ $< $(DBG_DIR)/libfake.a $(DBG_DIR)/libtp.a $(DBG_LIBS)

$(DBG_DIR)/tests/%: tests/unit/%.c $(DBG_DIR)/libfake.a $(DBG_DIR)/libtp.a $(SRC_H)
	@mkdir -p $(dir $@)
	$(CC) $(DBG_CFLAGS) -Itests/unit -Itests -o $@ $< $(DBG_DIR)/libfake.a $(DBG_DIR)/libtp.a $(DBG_LIBS) -lcmocka

# Each unit program is its own target, so `make -j` runs them side by side;
# a program's output is printed whole, after it ends (tests/run_unit.sh).
UNIT_RUN   := $(patsubst %,%.run,$(UNIT_BIN))
unit: $(UNIT_RUN) $(DBG_DIR)/fake_contract
$(UNIT_RUN): %.run: % taskpipe-debug
	@sh tests/run_unit.sh $<
.PHONY: $(UNIT_RUN)

# Two tiers (tests/README.md). `make check`: the fast one, from a built tree
# in about 3 minutes: unit tests under sanitizers, fuzz corpus replay and
# the integration modules without real-time waits. `make test` (CI, the
# README's command): everything, integration modules in parallel workers.
check: check-layers check-settings taskpipe
	@$(MAKE) --no-print-directory -j$(JOBS) unit fuzz-replay
	@python3 tests/integration/run_all.py --tier check

# `make test` runs the seeded simulations (tests/unit/test_sim_*.c) over more
# seeds than `make check` (20): TASKPIPE_SIM_SEEDS, default 100 here.
test: deps check-layers check-settings taskpipe
	@TASKPIPE_SIM_SEEDS=$${TASKPIPE_SIM_SEEDS:-100} $(MAKE) --no-print-directory -j$(JOBS) unit fuzz-replay
	@sh tests/run.sh

# the include rule of src/'s layers, then the checker's own test (planted
# violations in temp trees must fail it)
check-layers:
	@sh build/check_layers.sh
	@mkdir -p $(OUT); sh tests/layers/test_check_layers.sh >$(OUT)/test_check_layers.log 2>&1 || \
		{ cat $(OUT)/test_check_layers.log; exit 1; }

# TASKPIPE_* read only through src/base/settings_table.c, and the docs
# generated from the command and settings tables current (else: make docs)
check-settings: taskpipe
	@sh build/check_settings.sh ./taskpipe

docs: taskpipe
	@mkdir -p docs
	./taskpipe help --man >docs/taskpipe.1
	./taskpipe help --settings-markdown >docs/settings.md

bench: deps taskpipe $(BENCH_DIR)/fleet_sim
	@sh tests/bench/run.sh

# The fleet by simulation (tests/bench/fleet_sim.c): taskpipe's core against
# the in-memory fake AWS at AWS's quotas. Optimized and without sanitizers
# (glibc and the Debian -dev libraries, as the debug build), so its CPU time
# and peak RSS mean something. `make fleet-sim` runs 500 pipelines (or FLEET_SIZES);
# `make bench` runs it at FLEET_SIZES (default 10000: 50,000 does not fit in
# real minutes, docs/PERFORMANCE.md). Variables above.
$(BENCH_DIR)/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -c -o $@ $<
$(BENCH_DIR)/embedded_data.o: $(OUT)/gen/embedded_data.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -c -o $@ $<
# -O2's truncation guesses, which the fake (written for the -O1 debug build) trips
$(BENCH_DIR)/fake/%.o: tests/fake/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -Wno-format-truncation -Itests -c -o $@ $<
$(BENCH_DIR)/fleet_sim: tests/bench/fleet_sim.c tests/bench/fleet_mem.c $(BENCH_OBJ)
	$(CC) $(BENCH_CFLAGS) -Itests -o $@ tests/bench/fleet_sim.c tests/bench/fleet_mem.c $(BENCH_OBJ) $(DBG_LIBS)
fleet-sim: $(BENCH_DIR)/fleet_sim
	@FLEET_SIZES="$(or $(FLEET_SIZES),500)" python3 tests/bench/bench_fleet_sim.py

# forked policy call vs in-process, release build (see src/script/policy.c)
bench-policy: $(REL_DIR)/bench_policy
	$(REL_DIR)/bench_policy 1000
$(REL_DIR)/bench_policy: tests/bench/bench_policy.c $(filter-out $(REL_DIR)/cmd/main.o,$(REL_OBJ))
	$(MUSL_CC) $(REL_CFLAGS) $(REL_LDFLAGS) -o $@ $(DEPS)/lib/mimalloc.o $^ $(REL_LIBS)

# SIGKILL at random points of a 200-pipeline apply and rollout through the
# AWS-faithful layer with 10% throttling (CHAOS_TRIALS, CHAOS_PIPELINES).
chaos: deps taskpipe
	@python3 tests/chaos/chaos.py

demo: deps taskpipe
	@sh build/demo.sh

# packaging/dist/bootstrap-{x86_64,arm64}.zip + SHA256SUMS, reproducible;
# the arm64 binary is smoke-tested under qemu-aarch64-static.
package: deps
	@$(MAKE) --no-print-directory ARCH=x86_64 out/x86_64/taskpipe
	@$(MAKE) --no-print-directory ARCH=aarch64 out/aarch64/taskpipe
	@sh build/package.sh

clean:
	rm -rf $(OUT) taskpipe taskpipe-debug

distclean: clean
	rm -rf .deps
include tests/fuzz/fuzz.mk

# header dependencies written by -MMD
-include $(REL_OBJ:.o=.d) $(DBG_OBJ:.o=.d) $(FAKE_OBJ:.o=.d) $(DBG_DIR)/cmd/main.d $(BENCH_OBJ:.o=.d)
