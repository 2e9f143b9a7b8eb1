# Shared by the scripts in scripts/: makes sure the Debian packages a step needs are installed.
# Run as root, it installs what is missing; otherwise it prints the exact apt-get line and fails,
# so nothing is ever skipped silently.

# Packages needed to build pcmd and run its unit tests (alsa-lib, libsoxr and libsndfile headers, but
# not libsystemd's: pcmd speaks systemd's protocols itself, as Sources/PCMDaemon/Systemd/NotifySocket.swift
# explains; the ALSA utilities some tests use for reference, and systemd for the
# systemd-socket-activate and systemd-analyze the systemd tests run). The ALSA plugin's tests run
# real ALSA applications through it: aplay, arecord, speaker-test and alsabat (alsa-utils), sox with
# its ALSA driver, and GStreamer's alsasink/alsasrc.
PCMD_BUILD_PACKAGES=(pkg-config libasound2-dev libsoxr-dev libsndfile1-dev alsa-utils sox systemd
    libsox-fmt-alsa gstreamer1.0-tools gstreamer1.0-alsa gstreamer1.0-plugins-base)

# require_packages PKG...: installs (as root) or names the missing Debian packages.
require_packages() {
    local missing=()
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -eq 0 ]; then
        echo "pcmd: installing missing Debian packages: ${missing[*]}" >&2
        # apt-get update only when the package lists are missing or older than a day.
        if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -n 1)" ]; then
            apt-get update -q >&2 || { echo "pcmd: apt-get update failed" >&2; return 1; }
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 || {
            echo "pcmd: could not install: ${missing[*]}" >&2
            return 1
        }
    else
        echo "pcmd: missing Debian packages: ${missing[*]}" >&2
        echo "pcmd: install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
        return 1
    fi
}

# require_swift: fails with a clear message when the Swift toolchain is not on PATH.
require_swift() {
    if ! command -v swift >/dev/null 2>&1; then
        echo "pcmd: the Swift 6 toolchain is not on PATH (https://www.swift.org/install/linux/)" >&2
        return 1
    fi
}

# Packages the real-hardware tier (scripts/hwtest) needs on the host; the VM shares the host's root file
# system, so the tools the tests run inside it (aplay, arecord, amixer, sox, python3 with numpy,
# modprobe, and the ALSA applications the plugin's tests run: sox's ALSA driver, GStreamer, mpv)
# come from here too. linux-image-amd64 brings the kernel and its sound modules.
PCMD_HWTEST_PACKAGES=(qemu-system-x86 linux-image-amd64 busybox-static kmod alsa-utils sox
    python3 python3-numpy python3-venv coreutils libsox-fmt-alsa gstreamer1.0-tools gstreamer1.0-alsa
    gstreamer1.0-plugins-base mpv)

# The virtme-ng release the tier was verified with; `vng` boots the kernel in qemu.
PCMD_VNG_VERSION=1.42

# require_vng: makes `vng` (virtme-ng, from PyPI; Debian 12 has no package of it) available in a Python
# venv of its own, sets PCMD_VNG to its path and puts the venv's bin/ first on PATH: vng runs its helpers
# (virtme-run, virtme-init's tools) by name through the shell, so they must be found there, not on whatever
# PATH the caller happens to have. Installing needs no root, only the network access to PyPI.
require_vng() {
    local venv="${PCMD_HWTEST_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/pcmd/virtme-ng-$PCMD_VNG_VERSION}"
    PCMD_VNG="$venv/bin/vng"
    mkdir -p "$(dirname "$venv")"
    # Serialised, so that two worktrees running the tier at once do not install over each other.
    (
        flock 9
        if [ -x "$PCMD_VNG" ] && "$PCMD_VNG" --version 2>/dev/null | grep -qF "$PCMD_VNG_VERSION"; then
            exit 0
        fi
        echo "pcmd: installing virtme-ng $PCMD_VNG_VERSION from PyPI into $venv" >&2
        rm -rf "$venv"
        /usr/bin/python3 -m venv "$venv" >&2 || {
            echo "pcmd: could not create a Python venv at $venv (needs Debian's python3-venv)" >&2
            exit 1
        }
        "$venv/bin/pip" install -q --disable-pip-version-check "virtme-ng==$PCMD_VNG_VERSION" >&2 || {
            echo "pcmd: could not install virtme-ng $PCMD_VNG_VERSION with pip (is PyPI reachable?)" >&2
            exit 1
        }
        "$PCMD_VNG" --version >/dev/null 2>&1 || {
            echo "pcmd: $PCMD_VNG was installed but does not run" >&2
            exit 1
        }
    ) 9>"$venv.lock" || return 1
    export PATH="$venv/bin:$PATH"
}

# Packages the systemd VM tier (scripts/test-systemd-vm) needs on the host: qemu and Debian's kernel (as for
# hwtest), mmdebstrap to make the guest's own Debian root, e2fsprogs to turn that root into a disk image
# (mkfs.ext4 -d, no loop mount), kmod for depmod, systemd for `systemctl --root` (enabling the units in the
# image), and Debian's python3 with numpy for hwlib (the test signals, and the bit-exact check of the HDA
# output on the host).
PCMD_SYSTEMD_VM_PACKAGES=(qemu-system-x86 linux-image-amd64 mmdebstrap e2fsprogs kmod systemd python3 python3-numpy)
