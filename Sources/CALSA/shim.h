// The one header through which Swift sees alsa-lib. Only the ALSA module imports it.
//
// No calsa_* shims are needed so far: everything pcmd calls imports as a function. The
// macros Swift cannot see are avoided rather than wrapped: snd_pcm_hw_params_alloca,
// snd_pcm_sw_params_alloca, snd_pcm_status_alloca, snd_pcm_info_alloca and
// snd_ctl_card_info_alloca (alsa/pcm.h, alsa/control.h) become their _malloc/_free pairs,
// allocated at open time so that the period loop never allocates. A shim added here must be a
// `static inline calsa_*` function with a comment saying why Swift cannot import the original.
#ifndef PCMD_CALSA_SHIM_H
#define PCMD_CALSA_SHIM_H
#include <alsa/asoundlib.h>
// The external-PCM (ioplug) API, for pcmd's ALSA plugin (ALSA/ExternalPCM*.swift).
#include <alsa/pcm_external.h>
#endif
