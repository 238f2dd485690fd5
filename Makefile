# SPDX-License-Identifier: GPL-2.0
#
# Out-of-tree build of the WireGuard module and of wg(8), and the entry points
# for tests and the demo.  `make help` lists the targets.

SHELL := /bin/bash
TOP := $(abspath .)
KVER ?= $(shell . $(TOP)/selftests/wireguard/qemu/kver.sh && wg_default_kver)
# A kernel whose headers are only in the trixie build root (the newest ones,
# see selftests/wireguard/trixie-root.sh) is built for inside that root.
TRIXIE ?= $(TOP)/build/trixie
ifeq ($(wildcard /lib/modules/$(KVER)/build/Makefile)$(KDIR),)
ifneq ($(wildcard $(TRIXIE)/usr/src/linux-headers-$(KVER)/Makefile),)
KDIR := /usr/src/linux-headers-$(KVER)
IN_ROOT := $(TOP)/selftests/wireguard/trixie-root.sh exec env MAKEFLAGS="$(MAKEFLAGS)"
ROOT_PREFIX := $(TRIXIE)
endif
endif
KDIR ?= /lib/modules/$(KVER)/build
DEBUG ?= 0
# W=1 by default: the module must stay free of its extra warnings.
W ?= 1

BUILD := $(TOP)/build/$(KVER)$(if $(filter 1,$(DEBUG)),-debug)
MODDIR := $(BUILD)/wireguard
DRIVER := $(TOP)/drivers/net/wireguard
KBUILD_ARGS := -C $(KDIR) M=$(MODDIR) WG_UAPI_INCLUDE=$(TOP)/include \
	CONFIG_WIREGUARD=m $(if $(filter 1,$(DEBUG)),CONFIG_WIREGUARD_DEBUG=y) W=$(W)

.PHONY: all module wg selftests install modules_install check check-debug demo deps \
	clean help tree bench bench-quick

all: module wg

# Each kernel (and debug flavour) builds in its own tree of links to the
# sources, so that builds for several kernels never share objects.
tree:
	@test -n "$(KVER)" || { echo "No Debian 6.12 kernel headers found: run 'make deps' or give KVER=" >&2; exit 1; }
	@test -e $(ROOT_PREFIX)$(KDIR)/Makefile || { echo "No kernel build tree at $(KDIR): install linux-headers-$(KVER), run 'make deps' or give KDIR=" >&2; exit 1; }
	@mkdir -p $(MODDIR)/selftest
	@for f in $(DRIVER)/*.[ch] $(DRIVER)/Makefile $(DRIVER)/Kconfig; do \
		ln -sf $$f $(MODDIR)/; done
	@for f in $(DRIVER)/selftest/*; do [ -e "$$f" ] && ln -sf $$f $(MODDIR)/selftest/; done; true
	@find -L $(MODDIR) -maxdepth 2 -type l -exec rm -f {} +

module: tree
	$(IN_ROOT) $(MAKE) $(KBUILD_ARGS) modules
	@echo "Built $(MODDIR)/wireguard.ko for $(KVER)$(if $(filter 1,$(DEBUG)), (debug))"

wg:
	$(MAKE) -C tools/wg

# Test programs of ours that the VM selftests run.
selftests: $(TOP)/build/selftests/wgnl $(TOP)/build/selftests/nlfuzz

$(TOP)/build/selftests/%: selftests/wireguard/%.c include/uapi/linux/wireguard.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -Werror -I$(TOP)/include/uapi -o $@ $< -lmnl -lpthread

install: modules_install
	$(MAKE) -C tools/wg install

modules_install: module
	$(MAKE) $(KBUILD_ARGS) INSTALL_MOD_DIR=updates modules_install
	depmod -a $(KVER)

# Sets up what it needs, builds for every kernel, runs every test.
check:
	@selftests/wireguard/check.sh

# The suite on a KASAN/UBSAN/kmemleak/lockdep kernel built from Debian's
# linux-source-6.12 (cached in build/debug-kernel); slow, see README.md.
check-debug:
	@selftests/wireguard/debug-kernel.sh

demo:
	@selftests/wireguard/demo.sh

deps:
	@selftests/wireguard/install-deps.sh

# Our module against the stock one of the same kernel, in the same VM run.
bench:
	tools/bench/run.sh

bench-quick:
	BENCH_QUICK=1 BENCH_SIZES="1000 10000" tools/bench/run.sh

clean:
	rm -rf build
	-$(MAKE) -C tools/wg clean

help:
	@echo "make [KVER=release] [DEBUG=1]  build wireguard.ko (default: newest Debian 6.12) and wg"
	@echo "make install                   install both (module into /lib/modules/KVER/updates)"
	@echo "make demo                      boot a VM and show a tunnel between two namespaces"
	@echo "make check                     install what is missing, build, run every test"
	@echo "make check-debug               the suite on a KASAN/lockdep/kmemleak debug kernel"
	@echo "make deps                      only install the Debian packages the tests need"
	@echo "make bench | bench-quick       benchmarks against the stock module (tools/bench/results/)"
