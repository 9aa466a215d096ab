# tests/fuzz/fuzz.mk: fuzzing (included by the Makefile). One libFuzzer
# target per fuzz_<name>.c, each with its seed corpus in corpus/<name>/:
#   parsers  AWS answer parsers: awserr, xml, retry, budget (fuzz_parsers.c)
#   ddbval   DynamoDB/JSON <-> Lua values and item checks
#   events   incoming Lambda event classification, S3 key decoding
#   awsconf  endpoints, region, shared config/credentials files
#   sigv4    SigV4 canonical request, signing, URI encoding
#   make fuzz-replay   replay every corpus under gcc ASan+UBSan (no clang needed)
#   make fuzz          clang libFuzzer, FUZZ_SECONDS per target, on copies of
#                      the corpora in out/fuzz-corpus/<name>; crashes are written
#                      to out/fuzz/<name>-crash-*; FUZZ_TARGETS picks some
# Input layouts and properties: the comment at the top of each target.

FUZZ_DIR     := tests/fuzz
FUZZ_OUT     ?= out
FUZZ_SECONDS ?= 60
FUZZ_GCC     ?= gcc
FUZZ_CLANG   ?= clang
FUZZ_TARGETS ?= parsers ddbval events awsconf sigv4
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Isrc -I/usr/include/lua5.4 -g -O1
FUZZ_SAN     := -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=undefined,float-cast-overflow

# The sources and libraries each target links beside its fuzz_<name>.c.
FUZZ_SRC_parsers := src/aws/awserr.c src/base/xml.c src/base/retry.c src/aws/budget.c src/base/base.c
FUZZ_LIB_parsers := -lcjson -lm
FUZZ_SRC_ddbval  := src/aws/ddbval.c src/base/jsonnum.c src/base/base64.c src/base/base.c
FUZZ_LIB_ddbval  := -lcjson -llua5.4 -lm
FUZZ_SRC_events  := src/runtime/evclass.c src/base/base.c
FUZZ_LIB_events  := -lcjson -lm
FUZZ_SRC_awsconf := src/aws/awsconf.c src/base/base.c
FUZZ_LIB_awsconf := -lm
FUZZ_SRC_sigv4   := src/aws/sigv4.c src/base/hash.c src/base/sha256ni.c src/base/base.c
FUZZ_LIB_sigv4   := -lbearssl -lm

.PHONY: fuzz fuzz-replay

# replay: gcc, the target plus replay.c's main()
$(FUZZ_OUT)/debug/fuzz_replay_%: $(FUZZ_DIR)/fuzz_%.c $(FUZZ_DIR)/replay.c $(FUZZ_DIR)/fuzz_fields.h $(SRC) $(SRC_H)
	@mkdir -p $(dir $@)
	$(FUZZ_GCC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -o $@ $(FUZZ_DIR)/replay.c $< $(FUZZ_SRC_$*) $(FUZZ_LIB_$*)

fuzz-replay: $(foreach t,$(FUZZ_TARGETS),$(FUZZ_OUT)/debug/fuzz_replay_$(t))
	@set -e; for t in $(FUZZ_TARGETS); do \
		printf '%s: ' $$t; ASAN_OPTIONS=detect_leaks=1 $(FUZZ_OUT)/debug/fuzz_replay_$$t $(FUZZ_DIR)/corpus/$$t; done

$(FUZZ_OUT)/fuzz/fuzz_%: $(FUZZ_DIR)/fuzz_%.c $(FUZZ_DIR)/fuzz_fields.h $(SRC) $(SRC_H)
	@mkdir -p $(dir $@)
	$(FUZZ_CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined,float-cast-overflow \
		-fno-sanitize-recover=undefined,float-cast-overflow -o $@ $< $(FUZZ_SRC_$*) $(FUZZ_LIB_$*)

fuzz: $(foreach t,$(FUZZ_TARGETS),$(FUZZ_OUT)/fuzz/fuzz_$(t))
	@set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_OUT)/fuzz-corpus/$$t; cp $(FUZZ_DIR)/corpus/$$t/* $(FUZZ_OUT)/fuzz-corpus/$$t/; \
		$(FUZZ_OUT)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_OUT)/fuzz/$$t- $(FUZZ_OUT)/fuzz-corpus/$$t; done
