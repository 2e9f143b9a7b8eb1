// The alsa-lib card, control and name-hint calls used to list devices, one line each (see
// Syscalls+PCM.swift for why they are gathered here). The info objects are `_malloc`'d because
// their `_alloca` forms are macros Swift cannot import.

import CALSA

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
