# kvlab's two set-up-free entry points (see README.md):
#   make main   runs the main job and prints where its results are
#   make test   runs the whole test suite
# Both install what a fresh Debian machine lacks first (deps), and nothing that is already there.

# Build outputs live outside the clone so repeated runs (and CI) are incremental.
CARGO_TARGET_DIR ?= $(HOME)/.cache/kvlab/target
export CARGO_TARGET_DIR

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps main test bench lint kvlab check

deps:
	@command -v cargo >/dev/null || { echo "error: cargo not found: install Rust from https://rustup.rs" >&2; exit 1; }
	@missing=""; \
	ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || ldconfig -p | grep -q libclang || missing="$$missing libclang-dev"; \
	command -v python3 >/dev/null || missing="$$missing python3"; \
	python3 -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing (RocksDB's bindings need libclang; the notebook needs python3-venv)"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# The main job: the quick suite, its figures and report. The last line printed is the path
# of the report. The build is the test build (same packages, features and profile), so
# RocksDB is compiled once for both.
main: deps
	cargo test --workspace --release --no-run
	$(CARGO_TARGET_DIR)/release/kvlab suite harness/suites/quick.toml

# Where `make test` puts the results of its smoke suite (outside the clone).
CI_RESULTS ?= $(CARGO_TARGET_DIR)/kvlab-ci-results

# The whole test suite, in the release profile shared with the benchmarks (RocksDB's C++ is
# compiled once); then a smoke suite on every binding, its report, and the analysis notebook
# executed headless on its results.
test: deps
	cargo test --workspace --release
	rm -rf $(CI_RESULTS)
	$(CARGO_TARGET_DIR)/release/kvlab suite harness/suites/ci.toml --out $(CI_RESULTS)
	notebooks/run.sh $(CI_RESULTS) $(CI_RESULTS)/analysis.ipynb

# The correctness checks at full size (README "Checking correctness"): many seeded histories
# under the nemesis for every read policy, the crash test with and without fsync, and long
# fuzzing of every parser and decoder. Fails on any violation, lost write or panic.
CHECK_DIR ?= $(CARGO_TARGET_DIR)/kvlab-check
FUZZ_CASES ?= 100000
check: deps
	cargo test --workspace --release --no-run
	rm -rf $(CHECK_DIR)
	$(CARGO_TARGET_DIR)/release/kvlab suite harness/suites/check.toml --out $(CHECK_DIR)/histories --no-report
	$(CARGO_TARGET_DIR)/release/kvlab crash-test --dir $(CHECK_DIR)/crash --cycles 100 --seed 1
	$(CARGO_TARGET_DIR)/release/kvlab crash-test --dir $(CHECK_DIR)/crash-nosync --cycles 30 --seed 2 --sync false
	KVLAB_FUZZ_CASES=$(FUZZ_CASES) cargo test --workspace --release never_panic

# Just the kvlab binary (built like the tests, so nothing is compiled twice).
kvlab: deps
	cargo test --workspace --release --no-run
	@echo "$(CARGO_TARGET_DIR)/release/kvlab"

bench: deps
	cargo bench --workspace

lint: deps
	cargo fmt --all -- --check
	cargo clippy --release --workspace --all-targets -- -D warnings
