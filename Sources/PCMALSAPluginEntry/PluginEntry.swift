// The two symbols alsa-lib looks for in libasound_module_pcm_pcmd.so: the open function of PCM
// type `pcmd`, and the versioned marker snd_dlsym_verify checks before calling it (what C
// plugins get from SND_PCM_PLUGIN_SYMBOL). Everything else lives in PCMALSAPlugin, which tests
// can link; this target only carries the product's link settings (static Swift runtime,
// NODELETE) so that they never reach a test binary.

import ALSA
import PCMALSAPlugin

/// `_snd_pcm_pcmd_open`: alsa-lib calls it for every `snd_pcm_open` of a `type pcmd` PCM.
@_cdecl("_snd_pcm_pcmd_open")
public func pcmdOpen(_ handle: UnsafeMutablePointer<OpaquePointer?>?, _ name: UnsafePointer<CChar>?, _ root: OpaquePointer?,
                     _ configuration: OpaquePointer?, _ stream: UInt32, _ mode: Int32) -> Int32 {
    ExternalPCMEntry.open(handle: handle, name: name, root: root, configuration: configuration, stream: stream, mode: mode,
                          plugin: PCMDPlugin.open)
}

/// The marker `_` + `_snd_pcm_pcmd_open` + `_dlsym_pcm_001`: only its presence matters.
@_cdecl("__snd_pcm_pcmd_open_dlsym_pcm_001")
public func pcmdOpenVersionMarker() {}
