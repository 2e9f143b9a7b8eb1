# Builds and installs pcmd, its client tools, the ALSA plugin and its configuration, systemd units,
# default config and man pages.
#
#   make                        release build of pcmd, pcmplay, pcmrec, pcmctl and the ALSA plugin
#   sudo make install           install under PREFIX (default /usr/local)
#   sudo make uninstall         remove exactly what install put there
#   make test                   the whole test suite (scripts/test)
#
# PREFIX, DESTDIR (staged installs for packaging), SYSCONFDIR and the directory variables below
# may be overridden on the command line. The units are rewritten at install time so that their
# ExecStart= names $(BINDIR)/pcmd and their config path names $(SYSCONFDIR)/pcmd.
#
# The ALSA plugin and its configuration go where alsa-lib looks for them, whatever PREFIX is:
# the plugin into ALSA_PLUGIN_DIR (alsa-lib's own, from pkg-config: on Debian
# /usr/lib/x86_64-linux-gnu/alsa-lib, beside pipewire-alsa's and alsa-plugins'), both config files
# into ALSA_CONF_DIR (/usr/share/alsa/alsa.conf.d), and a link to 50-pcmd.conf, which defines the
# device "pcmd", into ALSA_CONF_LINK_DIR (/etc/alsa/conf.d), which alsa-lib reads. 99-pcmd-default.conf,
# which makes pcmd the `default` device, gets no link: a user opts in by making it (README).

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
SYSTEMD_SYSTEM_UNIT_DIR ?= $(PREFIX)/lib/systemd/system
SYSTEMD_USER_UNIT_DIR ?= $(PREFIX)/lib/systemd/user
SYSCONFDIR ?= /etc
ALSA_PLUGIN_DIR ?= $(shell pkg-config --variable=libdir alsa 2>/dev/null || echo /usr/lib/x86_64-linux-gnu)/alsa-lib
ALSA_CONF_DIR ?= /usr/share/alsa/alsa.conf.d
ALSA_CONF_LINK_DIR ?= $(SYSCONFDIR)/alsa/conf.d
DESTDIR ?=

SWIFT ?= swift
# release for installs; the install test uses the debug build that the unit tests already made.
CONFIGURATION ?= release
# Extra options for `swift build`, e.g. -Xswiftc -warnings-as-errors.
SWIFT_BUILD_FLAGS ?=

INSTALL ?= install
PROGRAMS := pcmd pcmplay pcmrec pcmctl
UNITS := pcmd.service pcmd.socket
DEFAULT_CONFIG := packaging/pcmd.conf
MAN_PAGE := docs/pcmd.8
ALSA_MAN_PAGE := docs/pcmd-alsa.7
# The client tools' pages, section 1.
TOOL_MAN_PAGES := pcmplay.1 pcmrec.1 pcmctl.1
# The ALSA plugin: the SwiftPM product, and the file alsa-lib loads for `type pcmd`.
PLUGIN_PRODUCT := asound_module_pcm_pcmd
PLUGIN_FILE := libasound_module_pcm_pcmd.so
ALSA_CONFIGS := 50-pcmd.conf 99-pcmd-default.conf
ALSA_LINKED_CONFIG := 50-pcmd.conf

# The paths the unit files in systemd/ are written for; install replaces them.
UNIT_BINDIR := /usr/local/bin
UNIT_CONFDIR := /etc/pcmd

.PHONY: all deps build install uninstall test test-fast clean

all: build

# The Debian -dev packages the build needs: installed when run as root, named (with the apt-get line)
# otherwise, so a fresh machine fails with what to do rather than a linker error.
deps:
	bash -c '. scripts/lib/deps.sh && require_swift && require_packages "$${PCMD_BUILD_PACKAGES[@]}"'

# One product per call: `swift build` honours only the last of several --product options.
build: deps
	for product in $(PROGRAMS) $(PLUGIN_PRODUCT); do $(SWIFT) build -c $(CONFIGURATION) $(SWIFT_BUILD_FLAGS) --product $$product || exit 1; done

# Asked at recipe time, after the build, so that the path matches the configuration built.
bin_path = $(shell $(SWIFT) build -c $(CONFIGURATION) $(SWIFT_BUILD_FLAGS) --show-bin-path)

install: build
	$(INSTALL) -d -m 0755 "$(DESTDIR)$(BINDIR)"
	$(INSTALL) -m 0755 $(addprefix "$(bin_path)"/,$(PROGRAMS)) "$(DESTDIR)$(BINDIR)/"
	$(INSTALL) -d -m 0755 "$(DESTDIR)$(SYSTEMD_SYSTEM_UNIT_DIR)" "$(DESTDIR)$(SYSTEMD_USER_UNIT_DIR)"
	for unit in $(UNITS); do \
		sed -e 's|$(UNIT_BINDIR)/|$(BINDIR)/|g' -e 's|$(UNIT_CONFDIR)|$(SYSCONFDIR)/pcmd|g' \
			"systemd/$$unit" >"$(DESTDIR)$(SYSTEMD_SYSTEM_UNIT_DIR)/$$unit.tmp" && \
		chmod 0644 "$(DESTDIR)$(SYSTEMD_SYSTEM_UNIT_DIR)/$$unit.tmp" && \
		mv -f "$(DESTDIR)$(SYSTEMD_SYSTEM_UNIT_DIR)/$$unit.tmp" "$(DESTDIR)$(SYSTEMD_SYSTEM_UNIT_DIR)/$$unit" || exit 1; \
		sed -e 's|$(UNIT_BINDIR)/|$(BINDIR)/|g' -e 's|$(UNIT_CONFDIR)|$(SYSCONFDIR)/pcmd|g' \
			"systemd/user/$$unit" >"$(DESTDIR)$(SYSTEMD_USER_UNIT_DIR)/$$unit.tmp" && \
		chmod 0644 "$(DESTDIR)$(SYSTEMD_USER_UNIT_DIR)/$$unit.tmp" && \
		mv -f "$(DESTDIR)$(SYSTEMD_USER_UNIT_DIR)/$$unit.tmp" "$(DESTDIR)$(SYSTEMD_USER_UNIT_DIR)/$$unit" || exit 1; \
	done
	$(INSTALL) -d -m 0755 "$(DESTDIR)$(MANDIR)/man8"
	$(INSTALL) -m 0644 $(MAN_PAGE) "$(DESTDIR)$(MANDIR)/man8/pcmd.8"
	$(INSTALL) -d -m 0755 "$(DESTDIR)$(MANDIR)/man7"
	$(INSTALL) -m 0644 $(ALSA_MAN_PAGE) "$(DESTDIR)$(MANDIR)/man7/pcmd-alsa.7"
	$(INSTALL) -d -m 0755 "$(DESTDIR)$(MANDIR)/man1"
	$(INSTALL) -m 0644 $(addprefix docs/,$(TOOL_MAN_PAGES)) "$(DESTDIR)$(MANDIR)/man1/"
	$(INSTALL) -d -m 0755 "$(DESTDIR)$(ALSA_PLUGIN_DIR)" "$(DESTDIR)$(ALSA_CONF_DIR)" "$(DESTDIR)$(ALSA_CONF_LINK_DIR)"
	$(INSTALL) -m 0644 "$(bin_path)/$(PLUGIN_FILE)" "$(DESTDIR)$(ALSA_PLUGIN_DIR)/$(PLUGIN_FILE)"
	$(INSTALL) -m 0644 $(addprefix alsa/,$(ALSA_CONFIGS)) "$(DESTDIR)$(ALSA_CONF_DIR)/"
	# The link names the installed path, not the staging one: it is resolved on the target system.
	ln -sfn "$(ALSA_CONF_DIR)/$(ALSA_LINKED_CONFIG)" "$(DESTDIR)$(ALSA_CONF_LINK_DIR)/$(ALSA_LINKED_CONFIG)"
	$(INSTALL) -d -m 0755 "$(DESTDIR)$(SYSCONFDIR)/pcmd"
	# An existing config is the administrator's: never overwrite it.
	if [ -e "$(DESTDIR)$(SYSCONFDIR)/pcmd/pcmd.conf" ]; then \
		echo "keeping existing $(DESTDIR)$(SYSCONFDIR)/pcmd/pcmd.conf"; \
	else \
		$(INSTALL) -m 0644 $(DEFAULT_CONFIG) "$(DESTDIR)$(SYSCONFDIR)/pcmd/pcmd.conf"; \
	fi

# Removes each installed file, then only the directories install made for pcmd alone. The config
# goes only while it is still the shipped default; an edited one is the administrator's data.
uninstall:
	rm -f $(addprefix "$(DESTDIR)$(BINDIR)"/,$(PROGRAMS))
	rm -f $(addprefix "$(DESTDIR)$(SYSTEMD_SYSTEM_UNIT_DIR)"/,$(UNITS))
	rm -f $(addprefix "$(DESTDIR)$(SYSTEMD_USER_UNIT_DIR)"/,$(UNITS))
	rm -f "$(DESTDIR)$(MANDIR)/man8/pcmd.8" "$(DESTDIR)$(MANDIR)/man7/pcmd-alsa.7"
	rm -f $(addprefix "$(DESTDIR)$(MANDIR)/man1"/,$(TOOL_MAN_PAGES))
	rm -f "$(DESTDIR)$(ALSA_PLUGIN_DIR)/$(PLUGIN_FILE)"
	rm -f $(addprefix "$(DESTDIR)$(ALSA_CONF_DIR)"/,$(ALSA_CONFIGS))
	# Both links: install made the first, a user who opted in to `default` made the second (left
	# behind, it would point at a file that is gone). Only links: a real file there is someone's own.
	for config in $(ALSA_CONFIGS); do \
		if [ -L "$(DESTDIR)$(ALSA_CONF_LINK_DIR)/$$config" ]; then rm -f "$(DESTDIR)$(ALSA_CONF_LINK_DIR)/$$config"; fi; \
	done
	if [ -e "$(DESTDIR)$(SYSCONFDIR)/pcmd/pcmd.conf" ]; then \
		if cmp -s $(DEFAULT_CONFIG) "$(DESTDIR)$(SYSCONFDIR)/pcmd/pcmd.conf"; then \
			rm -f "$(DESTDIR)$(SYSCONFDIR)/pcmd/pcmd.conf"; \
			rmdir "$(DESTDIR)$(SYSCONFDIR)/pcmd" 2>/dev/null || true; \
		else \
			echo "keeping $(DESTDIR)$(SYSCONFDIR)/pcmd/pcmd.conf: it differs from the default"; \
		fi; \
	fi

test:
	scripts/test

test-fast:
	scripts/test-fast

clean:
	$(SWIFT) package clean
