// The alsa-lib calls pcmd uses for PCMs, configuration text and device listing, one line each.
// Only the Syscalls files name `snd_*` functions; everything else in the module calls these,
// so the set of C entry points pcmd depends on can be read in one place (the swift-system
// Syscalls.swift pattern). Info objects are `_malloc`'d because their `_alloca` forms are
// macros Swift cannot import.

import CALSA
import Glibc

@inline(__always) func alsa_strerror(_ code: CInt) -> UnsafePointer<CChar> { snd_strerror(code) }
@inline(__always) func alsa_asoundlib_version() -> UnsafePointer<CChar> { snd_asoundlib_version() }

// Lifetime.
@inline(__always) func alsa_pcm_open(
    _ pcm: UnsafeMutablePointer<OpaquePointer?>, _ name: UnsafePointer<CChar>, _ stream: snd_pcm_stream_t, _ mode: CInt
) -> CInt { snd_pcm_open(pcm, name, stream, mode) }
@inline(__always) func alsa_pcm_close(_ pcm: OpaquePointer) -> CInt { snd_pcm_close(pcm) }
@inline(__always) func alsa_pcm_nonblock(_ pcm: OpaquePointer, _ nonblock: CInt) -> CInt { snd_pcm_nonblock(pcm, nonblock) }
@inline(__always) func alsa_pcm_name(_ pcm: OpaquePointer) -> UnsafePointer<CChar>? { snd_pcm_name(pcm) }
@inline(__always) func alsa_pcm_type(_ pcm: OpaquePointer) -> snd_pcm_type_t { snd_pcm_type(pcm) }
@inline(__always) func alsa_pcm_type_name(_ type: snd_pcm_type_t) -> UnsafePointer<CChar>? { snd_pcm_type_name(type) }
@inline(__always) func alsa_pcm_hw_free(_ pcm: OpaquePointer) -> CInt { snd_pcm_hw_free(pcm) }

// State changes.
@inline(__always) func alsa_pcm_state(_ pcm: OpaquePointer) -> snd_pcm_state_t { snd_pcm_state(pcm) }
@inline(__always) func alsa_pcm_prepare(_ pcm: OpaquePointer) -> CInt { snd_pcm_prepare(pcm) }
@inline(__always) func alsa_pcm_start(_ pcm: OpaquePointer) -> CInt { snd_pcm_start(pcm) }
@inline(__always) func alsa_pcm_drop(_ pcm: OpaquePointer) -> CInt { snd_pcm_drop(pcm) }
@inline(__always) func alsa_pcm_drain(_ pcm: OpaquePointer) -> CInt { snd_pcm_drain(pcm) }
@inline(__always) func alsa_pcm_pause(_ pcm: OpaquePointer, _ enable: CInt) -> CInt { snd_pcm_pause(pcm, enable) }
@inline(__always) func alsa_pcm_resume(_ pcm: OpaquePointer) -> CInt { snd_pcm_resume(pcm) }

// Position and time.
@inline(__always) func alsa_pcm_avail_update(_ pcm: OpaquePointer) -> Int { snd_pcm_avail_update(pcm) }
@inline(__always) func alsa_pcm_avail(_ pcm: OpaquePointer) -> Int { snd_pcm_avail(pcm) }
@inline(__always) func alsa_pcm_delay(_ pcm: OpaquePointer, _ delay: UnsafeMutablePointer<Int>) -> CInt {
    snd_pcm_delay(pcm, delay)
}
@inline(__always) func alsa_pcm_avail_delay(
    _ pcm: OpaquePointer, _ avail: UnsafeMutablePointer<Int>, _ delay: UnsafeMutablePointer<Int>
) -> CInt { snd_pcm_avail_delay(pcm, avail, delay) }
@inline(__always) func alsa_pcm_htimestamp(
    _ pcm: OpaquePointer, _ avail: UnsafeMutablePointer<UInt>, _ time: UnsafeMutablePointer<timespec>
) -> CInt { snd_pcm_htimestamp(pcm, avail, time) }

// Status (the object is allocated once per PCM, never per call).
@inline(__always) func alsa_pcm_status_malloc(_ status: UnsafeMutablePointer<OpaquePointer?>) -> CInt {
    snd_pcm_status_malloc(status)
}
@inline(__always) func alsa_pcm_status_free(_ status: OpaquePointer) { snd_pcm_status_free(status) }
@inline(__always) func alsa_pcm_status(_ pcm: OpaquePointer, _ status: OpaquePointer) -> CInt { snd_pcm_status(pcm, status) }
@inline(__always) func alsa_pcm_status_get_state(_ status: OpaquePointer) -> snd_pcm_state_t {
    snd_pcm_status_get_state(status)
}
@inline(__always) func alsa_pcm_status_get_delay(_ status: OpaquePointer) -> Int { snd_pcm_status_get_delay(status) }
@inline(__always) func alsa_pcm_status_get_avail(_ status: OpaquePointer) -> UInt { snd_pcm_status_get_avail(status) }
@inline(__always) func alsa_pcm_status_get_avail_max(_ status: OpaquePointer) -> UInt { snd_pcm_status_get_avail_max(status) }
@inline(__always) func alsa_pcm_status_get_htstamp(_ status: OpaquePointer, _ time: UnsafeMutablePointer<timespec>) {
    snd_pcm_status_get_htstamp(status, time)
}
@inline(__always) func alsa_pcm_status_get_trigger_htstamp(_ status: OpaquePointer, _ time: UnsafeMutablePointer<timespec>) {
    snd_pcm_status_get_trigger_htstamp(status, time)
}

// Direct access to the ring buffer.
@inline(__always) func alsa_pcm_mmap_begin(
    _ pcm: OpaquePointer,
    _ areas: UnsafeMutablePointer<UnsafePointer<snd_pcm_channel_area_t>?>,
    _ offset: UnsafeMutablePointer<UInt>,
    _ frames: UnsafeMutablePointer<UInt>
) -> CInt { snd_pcm_mmap_begin(pcm, areas, offset, frames) }
@inline(__always) func alsa_pcm_mmap_commit(_ pcm: OpaquePointer, _ offset: UInt, _ frames: UInt) -> Int {
    snd_pcm_mmap_commit(pcm, offset, frames)
}

// Poll descriptors.
@inline(__always) func alsa_pcm_poll_descriptors_count(_ pcm: OpaquePointer) -> CInt { snd_pcm_poll_descriptors_count(pcm) }
@inline(__always) func alsa_pcm_poll_descriptors(
    _ pcm: OpaquePointer, _ fds: UnsafeMutablePointer<pollfd>, _ space: CUnsignedInt
) -> CInt { snd_pcm_poll_descriptors(pcm, fds, space) }
@inline(__always) func alsa_pcm_poll_descriptors_revents(
    _ pcm: OpaquePointer, _ fds: UnsafeMutablePointer<pollfd>, _ count: CUnsignedInt, _ revents: UnsafeMutablePointer<UInt16>
) -> CInt { snd_pcm_poll_descriptors_revents(pcm, fds, count, revents) }

// Opening from configuration text rather than from the global configuration.
@inline(__always) func alsa_config_top(_ config: UnsafeMutablePointer<OpaquePointer?>) -> CInt { snd_config_top(config) }
@inline(__always) func alsa_config_delete(_ config: OpaquePointer) -> CInt { snd_config_delete(config) }
@inline(__always) func alsa_config_load(_ config: OpaquePointer, _ input: OpaquePointer) -> CInt { snd_config_load(config, input) }
@inline(__always) func alsa_input_buffer_open(
    _ input: UnsafeMutablePointer<OpaquePointer?>, _ text: UnsafePointer<CChar>, _ size: Int
) -> CInt { snd_input_buffer_open(input, text, size) }
@inline(__always) func alsa_input_close(_ input: OpaquePointer) -> CInt { snd_input_close(input) }
@inline(__always) func alsa_pcm_open_lconf(
    _ pcm: UnsafeMutablePointer<OpaquePointer?>, _ name: UnsafePointer<CChar>, _ stream: snd_pcm_stream_t, _ mode: CInt,
    _ config: OpaquePointer
) -> CInt { snd_pcm_open_lconf(pcm, name, stream, mode, config) }

// Cards.
@inline(__always) func alsa_card_next(_ card: UnsafeMutablePointer<CInt>) -> CInt { snd_card_next(card) }
@inline(__always) func alsa_ctl_open(_ ctl: UnsafeMutablePointer<OpaquePointer?>, _ name: UnsafePointer<CChar>, _ mode: CInt) -> CInt {
    snd_ctl_open(ctl, name, mode)
}
@inline(__always) func alsa_ctl_close(_ ctl: OpaquePointer) -> CInt { snd_ctl_close(ctl) }

// Card information.
@inline(__always) func alsa_ctl_card_info_malloc(_ info: UnsafeMutablePointer<OpaquePointer?>) -> CInt {
    snd_ctl_card_info_malloc(info)
}
@inline(__always) func alsa_ctl_card_info_free(_ info: OpaquePointer) { snd_ctl_card_info_free(info) }
@inline(__always) func alsa_ctl_card_info(_ ctl: OpaquePointer, _ info: OpaquePointer) -> CInt { snd_ctl_card_info(ctl, info) }
@inline(__always) func alsa_ctl_card_info_get_id(_ info: OpaquePointer) -> UnsafePointer<CChar>? { snd_ctl_card_info_get_id(info) }
@inline(__always) func alsa_ctl_card_info_get_name(_ info: OpaquePointer) -> UnsafePointer<CChar>? {
    snd_ctl_card_info_get_name(info)
}
@inline(__always) func alsa_ctl_card_info_get_longname(_ info: OpaquePointer) -> UnsafePointer<CChar>? {
    snd_ctl_card_info_get_longname(info)
}

// PCM devices of a card.
@inline(__always) func alsa_ctl_pcm_next_device(_ ctl: OpaquePointer, _ device: UnsafeMutablePointer<CInt>) -> CInt {
    snd_ctl_pcm_next_device(ctl, device)
}
@inline(__always) func alsa_pcm_info_malloc(_ info: UnsafeMutablePointer<OpaquePointer?>) -> CInt { snd_pcm_info_malloc(info) }
@inline(__always) func alsa_pcm_info_free(_ info: OpaquePointer) { snd_pcm_info_free(info) }
@inline(__always) func alsa_pcm_info_set_device(_ info: OpaquePointer, _ device: CUnsignedInt) { snd_pcm_info_set_device(info, device) }
@inline(__always) func alsa_pcm_info_set_subdevice(_ info: OpaquePointer, _ subdevice: CUnsignedInt) {
    snd_pcm_info_set_subdevice(info, subdevice)
}
@inline(__always) func alsa_pcm_info_set_stream(_ info: OpaquePointer, _ stream: snd_pcm_stream_t) { snd_pcm_info_set_stream(info, stream) }
@inline(__always) func alsa_ctl_pcm_info(_ ctl: OpaquePointer, _ info: OpaquePointer) -> CInt { snd_ctl_pcm_info(ctl, info) }
@inline(__always) func alsa_pcm_info_get_id(_ info: OpaquePointer) -> UnsafePointer<CChar>? { snd_pcm_info_get_id(info) }
@inline(__always) func alsa_pcm_info_get_name(_ info: OpaquePointer) -> UnsafePointer<CChar>? { snd_pcm_info_get_name(info) }
@inline(__always) func alsa_pcm_info_get_subdevices_count(_ info: OpaquePointer) -> CUnsignedInt {
    snd_pcm_info_get_subdevices_count(info)
}
@inline(__always) func alsa_pcm_info_get_subdevices_avail(_ info: OpaquePointer) -> CUnsignedInt {
    snd_pcm_info_get_subdevices_avail(info)
}
@inline(__always) func alsa_pcm_info_get_subdevice_name(_ info: OpaquePointer) -> UnsafePointer<CChar>? {
    snd_pcm_info_get_subdevice_name(info)
}

// Configured PCM names (null, default, plugins from the configuration files).
@inline(__always) func alsa_device_name_hint(
    _ card: CInt, _ iface: UnsafePointer<CChar>, _ hints: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutableRawPointer?>?>
) -> CInt { snd_device_name_hint(card, iface, hints) }
@inline(__always) func alsa_device_name_get_hint(_ hint: UnsafeRawPointer, _ id: UnsafePointer<CChar>) -> UnsafeMutablePointer<CChar>? {
    snd_device_name_get_hint(hint, id)
}
@inline(__always) func alsa_device_name_free_hint(_ hints: UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> CInt {
    snd_device_name_free_hint(hints)
}
