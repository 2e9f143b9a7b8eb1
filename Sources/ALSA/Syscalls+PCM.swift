// The alsa-lib PCM calls pcmd uses, one line each. Only the Syscalls files name `snd_*`
// functions; everything else in the module calls these, so the set of C entry points pcmd
// depends on can be read in one place (the swift-system Syscalls.swift pattern).

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
