// libsystemd's sd_notify and listen-fds API, for the daemon's service integration.
#ifndef PCMD_CSYSTEMD_SHIM_H
#define PCMD_CSYSTEMD_SHIM_H
#include <systemd/sd-daemon.h>
#endif
