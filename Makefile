# picogram: thin wrapper over meson/ninja for people. See README.md.
#   make run     install what is missing, build, serve on http://127.0.0.1:8080 (data in ./data)
#   make test    install what is missing, build (normal + ASan/UBSan + fuzzers), run the whole suite
#   make bench   benchmarks (see bench/README.md)
#   make fuzz    every libFuzzer target for FUZZ_SECONDS (default 60) each, with its corpus and dictionary
#   make tsan    the API suite against a ThreadSanitizer build (build-tsan/): no test fails, no race reported
#   make install the binary, web client, deploy/ files and man pages (PREFIX=/usr/local, DESTDIR honoured)
#   make cluster the cluster topology on this box (scripts/cluster.sh up ./cluster); make cluster-down stops it

BUILD ?= build
MESON_SETUP = meson setup --buildtype=debugoptimized

.PHONY: all build run test deps format clean bench cluster cluster-down fuzz tsan install

all: build

deps:
	@scripts/deps.sh build

$(BUILD)/build.ninja:
	@scripts/deps.sh build
	$(MESON_SETUP) $(BUILD)

build: $(BUILD)/build.ninja
	@scripts/deps.sh build
	ninja -C $(BUILD)

run: build
	./$(BUILD)/picogram serve --listen 127.0.0.1:8080 --data ./data

# meson install: PREFIX (meson's --prefix, default /usr/local) is set on the
# build directory first if given; DESTDIR stages the whole tree elsewhere.
install: build
	@if [ -n "$(PREFIX)" ]; then meson configure $(BUILD) -Dprefix=$(PREFIX) && ninja -C $(BUILD); fi
	meson install -C $(BUILD) --no-rebuild $(if $(DESTDIR),--destdir $(DESTDIR))

test:
	@scripts/deps.sh test
	tests/run.sh

fuzz:
	@scripts/deps.sh test
	tests/fuzz.sh

tsan:
	@scripts/deps.sh test
	tests/tsan.sh

cluster: build
	@scripts/deps.sh cluster
	@scripts/cluster.sh up ./cluster

cluster-down:
	@scripts/cluster.sh down ./cluster

bench: build
	@scripts/deps.sh bench
	bench/run.sh

format:
	clang-format -i src/*.c src/*.h src/*/*.c src/*/*.h tests/unit/*.c tests/fuzz/*.c

clean:
	rm -rf build build-asan build-fuzz build-tsan
