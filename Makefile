# kata-sentry: the two commands are `make demo` and `make test` (run as root on Debian 12).
# Every target first runs the set-up (packages, guest kernel), then configures and builds;
# all steps are idempotent and quick when nothing changed.
BUILD ?= build
JOBS ?= $(shell nproc)
SHELL := /bin/bash
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
PREFIX ?= /usr/local

.PHONY: all setup configure build install demo test test-unit bench fuzz clean help

all: build

help:
	@echo "make demo   set up, build, then boot a sandbox and show a detection and a block"
	@echo "make test   set up, build, then run every test tier (unit, bpf, vm, e2e)"
	@echo "make bench  set up, build, then run the benchmarks under bench/"
	@echo "make fuzz   set up, build, then run every fuzzer for FUZZ_RUNS inputs (default 10000000)"
	@echo "make build  set up and build only (binaries in $(BUILD)/bin)"
	@echo "make install  build, then install into PREFIX (default /usr/local; DESTDIR honoured)"

setup:
	@scripts/setup.sh $(BUILD)

$(BUILD)/CMakeCache.txt: CMakeLists.txt
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null

configure: setup $(BUILD)/CMakeCache.txt

build: configure
	@echo "[build] compiling into $(BUILD)/ with $(JOBS) jobs (full log: $(BUILD)/build.log)"
	@set -o pipefail; cmake --build $(BUILD) -j $(JOBS) 2>&1 | tee $(BUILD)/build.log \
	  | grep --line-buffered -E 'Built target|error:' | sed -u 's/^/[build] /' \
	  || { echo "[build] FAILED; the errors:"; grep -E -A6 'error:|Error [0-9]' $(BUILD)/build.log | head -60; exit 1; }

# Binaries into $(PREFIX)/bin, rules, guest image and deploy examples into $(PREFIX)/share/kata-sentry
# (cmake/install.cmake); containerd then finds the shim on its PATH.
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

test: build
	@scripts/run-tests.sh $(BUILD)

test-unit: build
	@ctest --test-dir $(BUILD) -L unit -j $(JOBS) --output-on-failure

demo: build
	@scripts/demo.sh $(BUILD)

bench: build
	@scripts/run-bench.sh $(BUILD)

# Long fuzzing runs (not part of make test): FUZZ_RUNS=N make fuzz to change the 10 M inputs.
fuzz: build
	@scripts/run-fuzz.sh $(BUILD)

clean:
	rm -rf $(BUILD)
