# The two commands that matter: `make run` (the whole system on this machine) and `make test`
# (every test). Both bootstrap and build first, so they work on a fresh machine.
PRESET ?= release
BUILD := build/$(PRESET)
CTEST_ARGS ?=

.PHONY: all bootstrap build test run bench soak fuzz clean format

all: build

bootstrap:
	@bash scripts/bootstrap.sh

build: bootstrap
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET)

test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j2 $(CTEST_ARGS)

run: build
	@$(BUILD)/nodeops up

bench: build
	@bash bench/run.sh $(BUILD)/nodeops
	@python3 bench/cache.py $(BUILD)/nodeops
	@python3 bench/tls.py $(BUILD)/nodeops
	@python3 bench/hostile.py memory $(BUILD)/nodeops
	@bash bench/subs.sh $(BUILD)/nodeops

# Ten minutes of load while an upstream cycles through every fault (SOAK_SECONDS to change).
soak: build
	@python3 bench/hostile.py soak $(BUILD)/nodeops

clean:
	rm -rf build .nodeops

format:
	@clang-format -i $$(git ls-files '*.cc' '*.h')
