// The one header through which Swift sees alsa-lib. Only the ALSA module imports it.
#ifndef PCMD_CALSA_SHIM_H
#define PCMD_CALSA_SHIM_H
#include <alsa/asoundlib.h>
#endif
