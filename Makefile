# funkraum — build, test and package.
#
#   make test        the whole test suite (installs what it needs from Debian/npm)
#   make deb         image/out/funkraum_<version>_amd64.deb (lintian-checked)
#   make oci         image/out/funkraum-oci.tar, an OCI image archive
#   make image       image/out/funkraum.raw and .qcow2, the bootable appliance
#                    (SSH_PUBKEY=~/.ssh/id_ed25519.pub for root's SSH login)
#   make image-test  boot that image in qemu and check the running appliance
#   make test-ansible  ansible-lint, then ansible/site.yml against that image in qemu
#
# Debian packages the tests need; installed when missing (as root), otherwise
# the run stops naming them.
TEST_DEBS := chromium firefox-esr pebble strace util-linux iproute2
CARGO ?= cargo
# The suite builds each test binary once; incremental caches of them would
# add ~4.6 GB to a clean clone's target/ (9 GB of debug build with them) and
# save nothing (a CI run ran out of disk while building them). Set
# CARGO_INCREMENTAL=1 to keep them.
export CARGO_INCREMENTAL ?= 0
# crates.io downloads: a dropped connection is retried (cargo's default is 3).
export CARGO_NET_RETRY ?= 10
# Where cargo puts binaries (CARGO_TARGET_DIR, as cargo itself reads it).
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)

# Debian packages for building and checking the appliance (image/, tests/appliance/).
APPLIANCE_DEBS := dpkg-dev lintian mmdebstrap umoci skopeo runc dosfstools mtools \
	fdisk e2fsprogs qemu-utils ovmf nftables iproute2 iputils-ping openssh-client \
	curl openssl python3 systemd
# Debian's ansible and ansible-lint, for the role in ansible/.
ANSIBLE_DEBS := ansible ansible-lint
VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -n 1)
OUT := image/out
DEB := $(OUT)/funkraum_$(VERSION)_amd64.deb

.PHONY: all build release test test-deps test-rust test-browser lint clean
.PHONY: appliance-deps deb oci image image-test test-appliance
.PHONY: ansible-deps ansible-lint test-ansible

all: build

build:
	$(CARGO) build

release:
	$(CARGO) build --release

test: test-deps lint test-rust test-browser test-appliance

# Installs missing Debian packages and the browser driver (puppeteer-core,
# pinned in tests/browser/package-lock.json; retried when the registry
# fails). Never downloads a browser.
test-deps:
	@./tests/install-deps.sh $(TEST_DEBS)
	@command -v npm >/dev/null || ./tests/install-deps.sh nodejs npm
	@./tests/install-browser-driver.sh

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

test-rust:
	$(CARGO) test --no-fail-fast

test-browser: build
	node tests/browser/run-all.mjs

# The appliance: sandbox score, firewall, package, container, disk image
# booted in qemu, the ansible role deploying to it. Each script prints its
# checks and "N passed, N failed".
test-appliance: appliance-deps build
	tests/appliance/unit-is-sandboxed.sh $(TARGET_DIR)/debug/funkraum
	tests/appliance/firewall-opens-only-funkraum-ports.sh
	$(MAKE) oci image-test test-ansible

appliance-deps:
	@./tests/install-deps.sh $(APPLIANCE_DEBS)

deb: appliance-deps release
	image/build-deb.sh $(TARGET_DIR)/release/funkraum $(OUT)

oci: deb
	image/build-oci.sh $(DEB) $(OUT)
	tests/appliance/oci-image-runs-and-is-healthy.sh $(OUT)/funkraum-oci.tar

image: deb
	image/build-disk.sh $(DEB) $(OUT)

image-test: image
	tests/appliance/disk-image-boots-and-serves.sh $(OUT)/funkraum.raw $(DEB)

ansible-deps:
	@./tests/install-deps.sh $(ANSIBLE_DEBS)

# The highest profile Debian's ansible-lint (6.13) knows; offline: it
# installs no collections.
ansible-lint: ansible-deps
	cd ansible && ansible-lint --offline --profile production

# The role deploys to the disk image booted in qemu; a second run changes
# nothing (ansible/README.md).
test-ansible: ansible-lint image
	tests/appliance/ansible-deploys-the-appliance.sh $(OUT)/funkraum.raw $(DEB)

clean:
	rm -rf $(OUT)
	$(CARGO) clean
	rm -rf tests/browser/node_modules
