# wgtray — build, test and demo. Run the targets that change the system as
# root: `sudo make test`, `sudo make demo`.

SHELL := /bin/bash
# sudo resets PATH; the Go toolchain lives in /usr/local/go on Debian
# machines set up by hand or from go.dev's archive.
export PATH := $(PATH):/usr/local/go/bin:/usr/sbin:/sbin
GO ?= go
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.Version=$(VERSION) -linkmode=external -extldflags '-Wl,-z,relro,-z,now'
# Position-independent, fully RELRO binaries, as Debian's hardening asks.
BUILDFLAGS := -trimpath -buildmode=pie
BUILD := build

# The desktops the tray is tried on (TestTrayOnDesktops; internal/testenv/desktop/shells.go):
# GNOME Shell 43 and its AppIndicator extension (gjs runs its notification
# service), Plasma 5.27 with kwin_x11, LXQt's and MATE's panels, Cinnamon and
# xapp-sn-watcher. About 750 packages, 3 minutes to install from a
# nearby mirror. Cinnamon pulls in network-manager: on a machine with
# systemd running, installing it starts NetworkManager.
DESKTOP_DEBS := gnome-shell gnome-shell-extension-appindicator gjs plasma-workspace plasma-desktop kwin-x11 \
	lxqt-panel mate-panel cinnamon xapp-sn-watcher

# Debian packages the tests use: the reference wg-quick and a real
# WireGuard peer (wireguard-go), the tools the tests inspect state with, a
# real D-Bus and polkitd, and a headless desktop (Xvfb, xfce4-panel's
# systray, dunst) for the tray; lintian, rpm (rpm2cpio, rpm --root),
# rpmlint and man-db (man --warnings) for the packages' tests; iperf3 for
# the bench's throughput (its smoke runs in the tests); tcpdump to count
# the kill switch's leaks in packets; debootstrap and
# systemd-nspawn (systemd-container) for the package's tests under a real
# systemd in Debian 12 and 13 containers. deps installs them all without
# recommends: systemd-container's pull in libnss-mymachines, which would
# edit this machine's /etc/nsswitch.conf.
TEST_DEBS := wireguard-tools wireguard-go nftables iproute2 iputils-ping procps ca-certificates git tcpdump \
	dbus polkitd systemd util-linux passwd libxml2-utils dnsmasq-base \
	lintian rpm rpm2cpio cpio rpmlint man-db iperf3 debootstrap systemd-container \
	xvfb xfce4-panel dunst xdotool imagemagick zenity xdg-desktop-portal xdg-desktop-portal-gtk \
	$(DESKTOP_DEBS)

.PHONY: all build test deps check bench bench-engine demo icons packages install uninstall clean

all: build

build: $(BUILD)/wgtray-helper $(BUILD)/wgtray

$(BUILD)/wgtray-helper: FORCE
	$(GO) build $(BUILDFLAGS) -ldflags "$(LDFLAGS)" -o $@ ./helper

$(BUILD)/wgtray: FORCE
	$(GO) build $(BUILDFLAGS) -ldflags "$(LDFLAGS)" -o $@ ./app

$(BUILD)/wgtray-demo: FORCE
	$(GO) build -trimpath -o $@ ./helper/demo

FORCE:

# deps installs the Debian packages the tests need, only when missing,
# waiting up to 5 minutes for another apt or dpkg to let go of its lock.
# The tests start every daemon they use themselves, in namespaces of
# their own; no package may start a service on this machine meanwhile
# (cinnamon pulls in network-manager, which would take over the machine's
# own networking): without a policy-rc.d, one that refuses every start is
# put in place for the install, and removed after it.
deps:
	@missing=$$(for p in $(TEST_DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		policy=""; \
		if [ ! -e /usr/sbin/policy-rc.d ]; then \
			printf '#!/bin/sh\n# wgtray make deps: no service starts while test packages install\nexit 101\n' > /usr/sbin/policy-rc.d && \
			chmod 755 /usr/sbin/policy-rc.d && policy=/usr/sbin/policy-rc.d; \
		fi; \
		apt-get -o DPkg::Lock::Timeout=300 update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends $$missing; \
		rc=$$?; [ -z "$$policy" ] || rm -f "$$policy"; exit $$rc; \
	fi

check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

test: deps check
	$(GO) test -race -count=1 -timeout 30m ./...
	@echo "Screenshots of the tray in xfce4-panel:"; ls -1 $(CURDIR)/build/screenshots/*.png 2>/dev/null || echo "  (none)"

# icons renders the tray's SVG icons to the PNGs embedded in the binary.
icons:
	for f in app/tray/icons/*.svg; do rsvg-convert -w 64 -h 64 -o "$${f%.svg}.png" "$$f"; done

# packages builds the .deb and .rpm with nfpm (v2.45.0: later ones need
# modules the Go proxy here cannot serve). Same commit, same bytes:
# SOURCE_DATE_EPOCH is the commit's time. packaging/rpmrelative then makes
# the RPM's payload names relative (./usr/bin/wgtray, as rpmbuild writes
# them), so that `rpm2cpio | cpio -idm` stays in its directory.
PKGVERSION := $(shell v=$$(git describe --tags --match 'v[0-9]*' 2>/dev/null); if [ -n "$$v" ]; then echo $${v#v}; else echo 0.1.0+git$$(git rev-parse --short HEAD 2>/dev/null || echo 0); fi)
NFPM := $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.0

packages: build
	mkdir -p dist
	export VERSION=$(PKGVERSION) SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct); \
	sh packaging/build-docs.sh $(BUILD)/pkg $(PKGVERSION) && \
	$(NFPM) package -f packaging/nfpm.yaml -p deb -t dist/wgtray_$(PKGVERSION)_amd64.deb && \
	$(NFPM) package -f packaging/nfpm.yaml -p rpm -t dist/wgtray-$(PKGVERSION)-1.x86_64.rpm && \
	$(GO) run ./packaging/rpmrelative dist/wgtray-$(PKGVERSION)-1.x86_64.rpm

# install builds the packages and installs the one for this distribution
# (apt-get on Debian/Ubuntu, dnf on Fedora), then offers to add the user
# who ran sudo to group wgtray (WGTRAY_ADD_USER=1: without asking).
install: packages
	sh packaging/install.sh dist $(PKGVERSION)

uninstall:
	@if command -v apt-get >/dev/null && command -v dpkg >/dev/null; then \
		DEBIAN_FRONTEND=noninteractive apt-get remove -y wgtray; \
		echo "Removed. To also remove the group wgtray (if the package made it): sudo apt-get purge wgtray"; \
	elif command -v dnf >/dev/null; then \
		dnf remove -y wgtray; \
	else echo "neither apt-get nor dnf found" >&2; exit 1; fi

# demo runs the main job in network namespaces with a local WireGuard
# peer, a private system bus and polkitd: safe on any machine.
demo: deps build $(BUILD)/wgtray-demo
	$(BUILD)/wgtray-demo -bin $(BUILD)

# The bench's peer and main comparison: a current wireguard-go, built from
# the module the helper embeds (Debian's 2022 build is the second one).
$(BUILD)/wireguard-go: FORCE
	$(GO) build -trimpath -o $@ golang.zx2c4.com/wireguard

$(BUILD)/wgtray-bench: FORCE
	$(GO) build -trimpath -o $@ ./bench

# bench measures wgtray side by side with wg-quick in network namespaces
# (latency through D-Bus, throughput, memory, idle cost, a 1000-cycle
# soak) and writes docs/BENCHMARKS.md and docs/BENCHMARKS.json. perf
# (linux-perf) profiles the helper's cycles for the report.
# The bench's helper is the package's build (PIE, external link, the
# same flags) but keeps its symbol table (no -s -w), so that perf names
# its functions in the profiles; stripping changes no code.
bench: TEST_DEBS += linux-perf
bench: deps build $(BUILD)/wgtray-bench $(BUILD)/wireguard-go
	mkdir -p $(BUILD)/bench
	$(GO) build $(BUILDFLAGS) -ldflags "$(filter-out -s -w,$(LDFLAGS))" -o $(BUILD)/bench/wgtray-helper ./helper
	cp $(BUILD)/wgtray $(BUILD)/wireguard-go $(BUILD)/bench/
	$(BUILD)/wgtray-bench -bin $(BUILD)/bench -out docs/BENCHMARKS.md -json docs/BENCHMARKS.json

# bench-engine is the engine's in-process up/down against wg-quick, without
# D-Bus (WGTRAY_TIMING=1 adds a per-step breakdown to the log).
bench-engine: deps
	$(GO) test -run '^$$' -bench . -benchtime 20x ./helper/engine/

clean:
	rm -rf $(BUILD) dist
