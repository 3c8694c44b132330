# kvlab's two set-up-free entry points (see README.md):
#   make main   runs the main job and prints where its results are
#   make test   runs the whole test suite
# Both install what a fresh Debian machine lacks first (deps), and nothing that is already there.

# Build outputs live outside the clone so repeated runs (and CI) are incremental.
CARGO_TARGET_DIR ?= $(HOME)/.cache/kvlab/target
export CARGO_TARGET_DIR

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps main test bench cargo-test lint kvlab check

# What a fresh Debian machine lacks. libclang: a library that bindgen (clang-sys) accepts, as
# .ci/has-libclang finds it (it says why not on stderr); libclang-cpp.so.N, present without
# libclang-dev, does not count. After installing libclang-dev it checks again, so a
# LIBCLANG_PATH that hides the installed library fails here, not later in the build.
deps:
	@command -v cargo >/dev/null || { echo "error: cargo not found: install Rust from https://rustup.rs" >&2; exit 1; }
	@missing=""; \
	sh .ci/has-libclang >/dev/null || missing="$$missing libclang-dev"; \
	command -v python3 >/dev/null || missing="$$missing python3"; \
	python3 -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing (RocksDB's bindings need libclang; the notebook needs python3-venv)"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing || exit 1; \
		case "$$missing" in *libclang-dev*) \
			sh .ci/has-libclang >/dev/null || { echo "error: libclang-dev is installed but bindgen would find no libclang (see above)" >&2; exit 1; } ;; \
		esac; \
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
# executed headless on its results. First the shell test of the libclang detection (seconds).
test: deps
	sh .ci/test-has-libclang
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

# The benchmarks, built in the shared target directory: all of them, or one with
# `make bench BENCH=replicated` (engines, replicated, benches, overhead, suite). ARGS go to
# cargo after the bench selection, e.g. ARGS='-- get' to run criterion's `get` cases only.
BENCH ?=
ARGS ?=
bench: deps
	cargo bench --workspace $(if $(BENCH),--bench $(BENCH)) $(ARGS)

# Some of the tests, in the same build: `make cargo-test ARGS='--test fixture -- --ignored
# regenerate'` runs `cargo test --workspace --release ARGS` (`make test` runs all of them).
cargo-test: deps
	cargo test --workspace --release $(ARGS)

lint: deps
	cargo fmt --all -- --check
	cargo clippy --release --workspace --all-targets -- -D warnings
