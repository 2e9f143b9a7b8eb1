// libsndfile, for reading and writing WAV/FLAC files in the client tools and diagnostics.
#ifndef PCMD_CSNDFILE_SHIM_H
#define PCMD_CSNDFILE_SHIM_H
#include <sndfile.h>
#endif
