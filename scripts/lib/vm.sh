# Shared by the scripts that boot Debian's kernel in qemu with real sound drivers (scripts/hwtest,
# scripts/bench-vm, scripts/test-systemd-vm): which kernel to boot, and the qemu options of the emulated
# Intel HDA card whose output lands in a WAV on the host.

# find_sound_kernel: sets PCMD_VM_KERNEL (/boot/vmlinuz-VERSION) and PCMD_VM_KERNEL_VERSION to the newest
# Debian amd64 kernel that has its sound modules in /lib/modules; prints why and fails when there is none.
# The -cloud flavour is skipped: it is built without sound drivers.
find_sound_kernel() {
    PCMD_VM_KERNEL="$(ls /boot/vmlinuz-*-amd64 2>/dev/null | grep -v cloud | sort -V | tail -n 1 || true)"
    if [ -z "$PCMD_VM_KERNEL" ]; then
        echo "pcmd: no Debian amd64 kernel in /boot (package linux-image-amd64; the -cloud kernel has no sound)" >&2
        return 1
    fi
    PCMD_VM_KERNEL_VERSION="${PCMD_VM_KERNEL#/boot/vmlinuz-}"
    if [ ! -d "/lib/modules/$PCMD_VM_KERNEL_VERSION/kernel/sound" ]; then
        echo "pcmd: /lib/modules/$PCMD_VM_KERNEL_VERSION has no sound drivers" >&2
        return 1
    fi
}

# hda_qemu_options WAV: the qemu options (one string, space-separated) of an Intel HDA controller and
# codec that write everything the guest plays to WAV on the host, 48000 Hz, 2 channels, S16_LE.
# use-timer=off: with its default timer, the codec copies DMA data into an 8 KiB ring that the audio
# backend drains; when the host is busy the ring overflows and qemu drops 2048 frames at once (seen
# here at load 10). Without the timer, the backend pulls from the guest's DMA buffer on demand, and
# 24 one-second streams at the same load arrived bit-exact.
hda_qemu_options() {
    printf '%s' "-audiodev wav,id=snd0,path=$1,out.frequency=48000,out.channels=2,out.format=s16"
    printf '%s' " -device intel-hda -device hda-output,audiodev=snd0,use-timer=off"
}

# vm_priority: sets the array PCMD_VM_PRIORITY to the command prefix that runs qemu. The guest's clock
# runs in real time while its CPU is emulated: when other work takes the host's cores, the guest falls
# behind and real-time tests see xruns. Run as root, the VM gets a higher priority than ordinary work
# (nice -10; with it, pcmd's 30 s duplex test at host load 8-10 saw 16-24 xruns instead of 82) -- unless
# the caller already lowered this script's priority (nice -n 19 scripts/...): that choice is kept.
vm_priority() {
    PCMD_VM_PRIORITY=(env)
    if [ "$(id -u)" -eq 0 ] && [ "$(nice)" -eq 0 ]; then
        PCMD_VM_PRIORITY=(nice -n -10)
    fi
}
