// Linux interfaces that Swift's Glibc module does not export (they need _GNU_SOURCE or live in
// headers Glibc's module map leaves out): eventfd, thread names, memory locking flags, and a socket
// peer's credentials.
#ifndef PCMD_CLINUX_H
#define PCMD_CLINUX_H
#define _GNU_SOURCE 1
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <stdint.h>

// pthread_setname_np is declared only under _GNU_SOURCE, which Swift's Glibc import lacks.
static inline int clinux_set_thread_name(const char *name) {
    return pthread_setname_np(pthread_self(), name);
}

// struct ucred and SO_PEERCRED are declared only under _GNU_SOURCE. The socket server reads a
// client's kernel-verified pid, uid and gid with this. Returns 0, or -1 with errno set.
// Defined in CLinux.c so that <sys/socket.h> is not pulled into this module with _GNU_SOURCE
// (other C modules include it without, and clang refuses two definitions of fd_set).
int clinux_peer_credentials(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid);

// SO_PEERGROUPS (Linux 4.13) gives the peer's supplementary groups as the kernel saw them at
// connect(). Returns how many there are (more than `capacity` means: call again with more
// room), or -1 with errno set.
int clinux_peer_groups(int fd, uint32_t *groups, int capacity);
#endif
