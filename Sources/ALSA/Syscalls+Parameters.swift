// The alsa-lib hw_params and sw_params calls pcmd uses, one line each (see Syscalls.swift
// for why they are gathered here). `snd_pcm_hw_params_alloca` and friends are macros that
// Swift cannot import, so the parameter objects come from the `_malloc`/`_free` pairs.

import CALSA

typealias RawPCM = OpaquePointer
typealias RawParams = OpaquePointer

// Hardware parameter objects.
@inline(__always) func alsa_hw_params_malloc(_ p: UnsafeMutablePointer<OpaquePointer?>) -> CInt { snd_pcm_hw_params_malloc(p) }
@inline(__always) func alsa_hw_params_free(_ p: RawParams) { snd_pcm_hw_params_free(p) }
@inline(__always) func alsa_hw_params_copy(_ dst: RawParams, _ src: RawParams) { snd_pcm_hw_params_copy(dst, src) }
@inline(__always) func alsa_hw_params_any(_ pcm: RawPCM, _ p: RawParams) -> CInt { snd_pcm_hw_params_any(pcm, p) }
@inline(__always) func alsa_hw_params_current(_ pcm: RawPCM, _ p: RawParams) -> CInt { snd_pcm_hw_params_current(pcm, p) }
@inline(__always) func alsa_hw_params_install(_ pcm: RawPCM, _ p: RawParams) -> CInt { snd_pcm_hw_params(pcm, p) }

// Hardware parameter setters: each narrows the configuration space or fails with -EINVAL.
@inline(__always) func alsa_hw_params_set_rate_resample(_ pcm: RawPCM, _ p: RawParams, _ v: CUnsignedInt) -> CInt {
    snd_pcm_hw_params_set_rate_resample(pcm, p, v)
}
@inline(__always) func alsa_hw_params_test_access(_ pcm: RawPCM, _ p: RawParams, _ a: snd_pcm_access_t) -> CInt {
    snd_pcm_hw_params_test_access(pcm, p, a)
}
@inline(__always) func alsa_hw_params_set_access(_ pcm: RawPCM, _ p: RawParams, _ a: snd_pcm_access_t) -> CInt {
    snd_pcm_hw_params_set_access(pcm, p, a)
}
@inline(__always) func alsa_hw_params_set_format(_ pcm: RawPCM, _ p: RawParams, _ f: snd_pcm_format_t) -> CInt {
    snd_pcm_hw_params_set_format(pcm, p, f)
}
@inline(__always) func alsa_hw_params_set_channels(_ pcm: RawPCM, _ p: RawParams, _ c: CUnsignedInt) -> CInt {
    snd_pcm_hw_params_set_channels(pcm, p, c)
}
@inline(__always) func alsa_hw_params_set_rate_near(
    _ pcm: RawPCM, _ p: RawParams, _ r: UnsafeMutablePointer<CUnsignedInt>, _ dir: UnsafeMutablePointer<CInt>
) -> CInt { snd_pcm_hw_params_set_rate_near(pcm, p, r, dir) }
@inline(__always) func alsa_hw_params_set_periods_integer(_ pcm: RawPCM, _ p: RawParams) -> CInt {
    snd_pcm_hw_params_set_periods_integer(pcm, p)
}
@inline(__always) func alsa_hw_params_set_buffer_size_max(_ pcm: RawPCM, _ p: RawParams, _ v: UnsafeMutablePointer<UInt>) -> CInt {
    snd_pcm_hw_params_set_buffer_size_max(pcm, p, v)
}
@inline(__always) func alsa_hw_params_set_buffer_size_near(_ pcm: RawPCM, _ p: RawParams, _ v: UnsafeMutablePointer<UInt>) -> CInt {
    snd_pcm_hw_params_set_buffer_size_near(pcm, p, v)
}
@inline(__always) func alsa_hw_params_set_period_size_near(
    _ pcm: RawPCM, _ p: RawParams, _ v: UnsafeMutablePointer<UInt>, _ dir: UnsafeMutablePointer<CInt>
) -> CInt { snd_pcm_hw_params_set_period_size_near(pcm, p, v, dir) }

// Hardware parameter getters: they read the (possibly still open) configuration space.
@inline(__always) func alsa_hw_params_get_access(_ p: RawParams, _ a: UnsafeMutablePointer<snd_pcm_access_t>) -> CInt {
    snd_pcm_hw_params_get_access(p, a)
}
@inline(__always) func alsa_hw_params_get_format(_ p: RawParams, _ f: UnsafeMutablePointer<snd_pcm_format_t>) -> CInt {
    snd_pcm_hw_params_get_format(p, f)
}
@inline(__always) func alsa_hw_params_test_format(_ pcm: RawPCM, _ p: RawParams, _ f: snd_pcm_format_t) -> CInt {
    snd_pcm_hw_params_test_format(pcm, p, f)
}
@inline(__always) func alsa_hw_params_get_channels(_ p: RawParams, _ v: UnsafeMutablePointer<CUnsignedInt>) -> CInt {
    snd_pcm_hw_params_get_channels(p, v)
}
@inline(__always) func alsa_hw_params_get_channels_min(_ p: RawParams, _ v: UnsafeMutablePointer<CUnsignedInt>) -> CInt {
    snd_pcm_hw_params_get_channels_min(p, v)
}
@inline(__always) func alsa_hw_params_get_channels_max(_ p: RawParams, _ v: UnsafeMutablePointer<CUnsignedInt>) -> CInt {
    snd_pcm_hw_params_get_channels_max(p, v)
}
@inline(__always) func alsa_hw_params_get_rate(
    _ p: RawParams, _ v: UnsafeMutablePointer<CUnsignedInt>, _ dir: UnsafeMutablePointer<CInt>
) -> CInt { snd_pcm_hw_params_get_rate(p, v, dir) }
@inline(__always) func alsa_hw_params_get_rate_min(
    _ p: RawParams, _ v: UnsafeMutablePointer<CUnsignedInt>, _ dir: UnsafeMutablePointer<CInt>
) -> CInt { snd_pcm_hw_params_get_rate_min(p, v, dir) }
@inline(__always) func alsa_hw_params_get_rate_max(
    _ p: RawParams, _ v: UnsafeMutablePointer<CUnsignedInt>, _ dir: UnsafeMutablePointer<CInt>
) -> CInt { snd_pcm_hw_params_get_rate_max(p, v, dir) }
@inline(__always) func alsa_hw_params_get_buffer_size(_ p: RawParams, _ v: UnsafeMutablePointer<UInt>) -> CInt {
    snd_pcm_hw_params_get_buffer_size(p, v)
}
@inline(__always) func alsa_hw_params_get_buffer_size_min(_ p: RawParams, _ v: UnsafeMutablePointer<UInt>) -> CInt {
    snd_pcm_hw_params_get_buffer_size_min(p, v)
}
@inline(__always) func alsa_hw_params_get_buffer_size_max(_ p: RawParams, _ v: UnsafeMutablePointer<UInt>) -> CInt {
    snd_pcm_hw_params_get_buffer_size_max(p, v)
}
@inline(__always) func alsa_hw_params_get_period_size(
    _ p: RawParams, _ v: UnsafeMutablePointer<UInt>, _ dir: UnsafeMutablePointer<CInt>
) -> CInt { snd_pcm_hw_params_get_period_size(p, v, dir) }
@inline(__always) func alsa_hw_params_get_period_size_min(
    _ p: RawParams, _ v: UnsafeMutablePointer<UInt>, _ dir: UnsafeMutablePointer<CInt>
) -> CInt { snd_pcm_hw_params_get_period_size_min(p, v, dir) }
@inline(__always) func alsa_hw_params_get_period_size_max(
    _ p: RawParams, _ v: UnsafeMutablePointer<UInt>, _ dir: UnsafeMutablePointer<CInt>
) -> CInt { snd_pcm_hw_params_get_period_size_max(p, v, dir) }

// Software parameter objects and setters.
@inline(__always) func alsa_sw_params_malloc(_ p: UnsafeMutablePointer<OpaquePointer?>) -> CInt { snd_pcm_sw_params_malloc(p) }
@inline(__always) func alsa_sw_params_free(_ p: RawParams) { snd_pcm_sw_params_free(p) }
@inline(__always) func alsa_sw_params_current(_ pcm: RawPCM, _ p: RawParams) -> CInt { snd_pcm_sw_params_current(pcm, p) }
@inline(__always) func alsa_sw_params_install(_ pcm: RawPCM, _ p: RawParams) -> CInt { snd_pcm_sw_params(pcm, p) }
@inline(__always) func alsa_sw_params_get_boundary(_ p: RawParams, _ v: UnsafeMutablePointer<UInt>) -> CInt {
    snd_pcm_sw_params_get_boundary(p, v)
}
@inline(__always) func alsa_sw_params_set_start_threshold(_ pcm: RawPCM, _ p: RawParams, _ v: UInt) -> CInt {
    snd_pcm_sw_params_set_start_threshold(pcm, p, v)
}
@inline(__always) func alsa_sw_params_get_start_threshold(_ p: RawParams, _ v: UnsafeMutablePointer<UInt>) -> CInt {
    snd_pcm_sw_params_get_start_threshold(p, v)
}
@inline(__always) func alsa_sw_params_set_stop_threshold(_ pcm: RawPCM, _ p: RawParams, _ v: UInt) -> CInt {
    snd_pcm_sw_params_set_stop_threshold(pcm, p, v)
}
@inline(__always) func alsa_sw_params_get_stop_threshold(_ p: RawParams, _ v: UnsafeMutablePointer<UInt>) -> CInt {
    snd_pcm_sw_params_get_stop_threshold(p, v)
}
@inline(__always) func alsa_sw_params_set_avail_min(_ pcm: RawPCM, _ p: RawParams, _ v: UInt) -> CInt {
    snd_pcm_sw_params_set_avail_min(pcm, p, v)
}
@inline(__always) func alsa_sw_params_get_avail_min(_ p: RawParams, _ v: UnsafeMutablePointer<UInt>) -> CInt {
    snd_pcm_sw_params_get_avail_min(p, v)
}
@inline(__always) func alsa_sw_params_set_period_event(_ pcm: RawPCM, _ p: RawParams, _ v: CInt) -> CInt {
    snd_pcm_sw_params_set_period_event(pcm, p, v)
}
@inline(__always) func alsa_sw_params_set_silence_threshold(_ pcm: RawPCM, _ p: RawParams, _ v: UInt) -> CInt {
    snd_pcm_sw_params_set_silence_threshold(pcm, p, v)
}
@inline(__always) func alsa_sw_params_set_silence_size(_ pcm: RawPCM, _ p: RawParams, _ v: UInt) -> CInt {
    snd_pcm_sw_params_set_silence_size(pcm, p, v)
}
@inline(__always) func alsa_sw_params_get_silence_size(_ p: RawParams, _ v: UnsafeMutablePointer<UInt>) -> CInt {
    snd_pcm_sw_params_get_silence_size(p, v)
}
@inline(__always) func alsa_sw_params_get_period_event(_ p: RawParams, _ v: UnsafeMutablePointer<CInt>) -> CInt {
    snd_pcm_sw_params_get_period_event(p, v)
}
@inline(__always) func alsa_sw_params_set_tstamp_mode(_ pcm: RawPCM, _ p: RawParams, _ v: snd_pcm_tstamp_t) -> CInt {
    snd_pcm_sw_params_set_tstamp_mode(pcm, p, v)
}
@inline(__always) func alsa_sw_params_get_tstamp_mode(_ p: RawParams, _ v: UnsafeMutablePointer<snd_pcm_tstamp_t>) -> CInt {
    snd_pcm_sw_params_get_tstamp_mode(p, v)
}
@inline(__always) func alsa_sw_params_set_tstamp_type(_ pcm: RawPCM, _ p: RawParams, _ v: snd_pcm_tstamp_type_t) -> CInt {
    snd_pcm_sw_params_set_tstamp_type(pcm, p, v)
}
@inline(__always) func alsa_sw_params_get_tstamp_type(_ p: RawParams, _ v: UnsafeMutablePointer<snd_pcm_tstamp_type_t>) -> CInt {
    snd_pcm_sw_params_get_tstamp_type(p, v)
}
