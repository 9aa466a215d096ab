# tests/fuzz/fuzz.mk: fuzzing of the AWS answer parsers (included by the Makefile).
#   make fuzz-replay   replay tests/fuzz/corpus under gcc ASan+UBSan (no clang needed)
#   make fuzz          clang libFuzzer run for FUZZ_SECONDS on a copy of the corpus
#                      in out/fuzz-corpus; crashes are written to out/fuzz/crash-*
# See the comment at the top of tests/fuzz/fuzz_parsers.c.

FUZZ_DIR     := tests/fuzz
FUZZ_OUT     ?= out
FUZZ_SECONDS ?= 60
FUZZ_GCC     ?= gcc
FUZZ_CLANG   ?= clang
FUZZ_SRC     := $(FUZZ_DIR)/fuzz_parsers.c src/aws/awserr.c src/base/xml.c src/base/retry.c src/aws/budget.c src/base/base.c
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Isrc -g -O1
FUZZ_SAN     := -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=undefined,float-cast-overflow
FUZZ_LIBS    := -lcjson -lm

.PHONY: fuzz fuzz-replay

$(FUZZ_OUT)/debug/fuzz_replay: $(FUZZ_DIR)/replay.c $(FUZZ_SRC) $(SRC_H)
	@mkdir -p $(dir $@)
	$(FUZZ_GCC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -o $@ $(FUZZ_DIR)/replay.c $(FUZZ_SRC) $(FUZZ_LIBS)

fuzz-replay: $(FUZZ_OUT)/debug/fuzz_replay
	ASAN_OPTIONS=detect_leaks=1 $(FUZZ_OUT)/debug/fuzz_replay $(FUZZ_DIR)/corpus

$(FUZZ_OUT)/fuzz/fuzz_parsers: $(FUZZ_SRC) $(SRC_H)
	@mkdir -p $(dir $@)
	$(FUZZ_CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-o $@ $(FUZZ_SRC) $(FUZZ_LIBS)

fuzz: $(FUZZ_OUT)/fuzz/fuzz_parsers
	@mkdir -p $(FUZZ_OUT)/fuzz-corpus
	cp $(FUZZ_DIR)/corpus/* $(FUZZ_OUT)/fuzz-corpus/
	$(FUZZ_OUT)/fuzz/fuzz_parsers -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_OUT)/fuzz/ $(FUZZ_OUT)/fuzz-corpus
