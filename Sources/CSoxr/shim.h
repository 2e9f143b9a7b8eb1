// libsoxr, the band-limited resampler used for clients whose rate differs from the device's.
#ifndef PCMD_CSOXR_SHIM_H
#define PCMD_CSOXR_SHIM_H
#include <soxr.h>
#endif
