# funkraum — build, test and package.
#
#   make test     the whole test suite (installs what it needs from Debian/npm)
#
# Debian packages the tests need; installed when missing (as root), otherwise
# the run stops naming them.
TEST_DEBS := chromium firefox-esr pebble
CARGO ?= cargo

.PHONY: all build release test test-deps test-rust test-browser lint clean

all: build

build:
	$(CARGO) build

release:
	$(CARGO) build --release

test: test-deps lint test-rust test-browser

# Installs missing Debian packages and the browser driver (puppeteer-core,
# pinned in tests/browser/package-lock.json). Never downloads a browser.
test-deps:
	@./tests/install-deps.sh $(TEST_DEBS)
	@command -v npm >/dev/null || ./tests/install-deps.sh nodejs npm
	@cd tests/browser && npm ci --no-audit --no-fund --loglevel=error

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

test-rust:
	$(CARGO) test

test-browser: build
	node tests/browser/run-all.mjs

clean:
	$(CARGO) clean
	rm -rf tests/browser/node_modules
