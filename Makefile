# Makefile - a thin wrapper over CMake and scripts/: the commands a developer and CI type.
#   make            configure and build (build/, Debug, sanitizers on)
#   make test       install missing packages, build, run every test (host, Cortex-M3, fuzz replay)
#   make run        install missing packages, build, start the broker (scripts/run.sh)
#   make size       lib/ at -Os -ffreestanding for Cortex-M3 and ESP8266, seed-device RAM/stack
#   make fuzz       run the fuzzers for FUZZ_SECONDS each (fuzz/run.sh)
#   make bench      moted (build/release) against Debian's mosquitto: paired runs, ratios
#   make crashtest  SIGKILL moted, then mosquitto, mid-traffic CRASHTEST_ROUNDS times: lost messages
#   make clean      remove build/
#   make format     clang-format every C source in place

BUILD_DIR ?= build
BUILD_TYPE ?= Debug
JOBS ?= 2
CRASHTEST_ROUNDS ?= 8
FORMAT_DIRS := $(wildcard include lib broker cli tests fuzz bench examples)

.PHONY: all build test run size fuzz bench crashtest clean format deps

all: build

deps:
	@bash scripts/deps.sh

build:
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) --log-level=WARNING
	@cmake --build $(BUILD_DIR) -j$(JOBS)

test: deps
	@$(MAKE) --no-print-directory build
	ctest --test-dir $(BUILD_DIR) --output-on-failure

run: deps
	@$(MAKE) --no-print-directory build
	@bash scripts/run.sh

size: deps
	@bash scripts/size.sh

fuzz:
	@test -f fuzz/run.sh || { echo "make fuzz: fuzz/run.sh does not exist yet" >&2; exit 1; }
	$(if $(FUZZ_SECONDS),FUZZ_SECONDS=$(FUZZ_SECONDS) )bash fuzz/run.sh

bench: deps
	@bash scripts/build-release.sh moted
	@MOTED=$${MOTED:-build/release/broker/moted} bash bench/run.sh

crashtest: deps
	@$(MAKE) --no-print-directory build
	python3 tests/crash/crashtest.py --moted $(BUILD_DIR)/broker/moted --rounds $(CRASHTEST_ROUNDS)

clean:
	rm -rf $(BUILD_DIR)

format:
	find $(FORMAT_DIRS) -name '*.[ch]' -print0 | xargs -0 -r clang-format -i
