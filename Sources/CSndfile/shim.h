// libsndfile, for reading and writing WAV/FLAC files in the client tools and the daemon's
// file sources and sinks.
//
// The library is loaded when the first file is opened, not when the program starts: a serving
// pcmd with no file source or sink never opens one, and libsndfile with the seven codec libraries
// it links (FLAC, Vorbis, Opus, MPEG) would otherwise cost it about 0.8 MiB of resident memory for
// nothing. The calls are typed from sndfile.h itself (__typeof__), so a signature that differs
// from the header does not compile; nothing here links against the library.
#ifndef PCMD_CSNDFILE_SHIM_H
#define PCMD_CSNDFILE_SHIM_H
#include <dlfcn.h>
#include <sndfile.h>

// The soname Debian's libsndfile1 installs (ABI 1).
#define PCMD_SNDFILE_SONAME "libsndfile.so.1"

// Every libsndfile call AudioFile makes.
struct pcmd_sndfile {
    __typeof__(sf_open) *open;
    __typeof__(sf_open_fd) *open_fd;
    __typeof__(sf_close) *close;
    __typeof__(sf_command) *command;
    __typeof__(sf_format_check) *format_check;
    __typeof__(sf_strerror) *strerror;
    __typeof__(sf_error) *error;
    __typeof__(sf_error_number) *error_number;
    __typeof__(sf_seek) *seek;
    __typeof__(sf_write_sync) *write_sync;
    __typeof__(sf_readf_short) *readf_short;
    __typeof__(sf_readf_int) *readf_int;
    __typeof__(sf_readf_float) *readf_float;
    __typeof__(sf_writef_short) *writef_short;
    __typeof__(sf_writef_int) *writef_int;
    __typeof__(sf_writef_float) *writef_float;
};

// Loads libsndfile (never unloaded) and fills `calls`. Returns 0 with every call set, or -1 with
// `calls` untouched: then dlerror() says why.
static inline int pcmd_sndfile_load(struct pcmd_sndfile *calls) {
    void *library = dlopen(PCMD_SNDFILE_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (library == NULL) return -1;
    struct pcmd_sndfile found;
#define PCMD_SNDFILE_FIND(field, symbol) \
    if ((found.field = (__typeof__(found.field))dlsym(library, #symbol)) == NULL) return -1;
    PCMD_SNDFILE_FIND(open, sf_open)
    PCMD_SNDFILE_FIND(open_fd, sf_open_fd)
    PCMD_SNDFILE_FIND(close, sf_close)
    PCMD_SNDFILE_FIND(command, sf_command)
    PCMD_SNDFILE_FIND(format_check, sf_format_check)
    PCMD_SNDFILE_FIND(strerror, sf_strerror)
    PCMD_SNDFILE_FIND(error, sf_error)
    PCMD_SNDFILE_FIND(error_number, sf_error_number)
    PCMD_SNDFILE_FIND(seek, sf_seek)
    PCMD_SNDFILE_FIND(write_sync, sf_write_sync)
    PCMD_SNDFILE_FIND(readf_short, sf_readf_short)
    PCMD_SNDFILE_FIND(readf_int, sf_readf_int)
    PCMD_SNDFILE_FIND(readf_float, sf_readf_float)
    PCMD_SNDFILE_FIND(writef_short, sf_writef_short)
    PCMD_SNDFILE_FIND(writef_int, sf_writef_int)
    PCMD_SNDFILE_FIND(writef_float, sf_writef_float)
#undef PCMD_SNDFILE_FIND
    *calls = found;
    return 0;
}

#endif
