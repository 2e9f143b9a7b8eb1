// Linux interfaces that Swift's Glibc module does not export (they need _GNU_SOURCE or live in
// headers Glibc's module map leaves out): eventfd, thread names, memory locking flags, a socket
// peer's credentials, sealable memfds, and passing file descriptors over a Unix socket.
#ifndef PCMD_CLINUX_H
#define PCMD_CLINUX_H
#define _GNU_SOURCE 1
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <stddef.h>
#include <stdint.h>

// pthread_setname_np is declared only under _GNU_SOURCE, which Swift's Glibc import lacks.
// The running program's short name (glibc's program_invocation_short_name, a GNU extension Swift
// does not import): how a library loaded into any process names its client. In CLinux.c, like the
// epoll wrappers below: their headers, included here under _GNU_SOURCE, would pull in a second
// definition of fd_set that clashes with SwiftGlibc's on a clean build.
const char *clinux_program_name(void);

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

// memfd_create and its MFD_* flags, and fcntl's F_ADD_SEALS/F_GET_SEALS, are declared only under
// _GNU_SOURCE; fcntl is also variadic, which Swift cannot call. The seal bits are the kernel's ABI
// (include/uapi/linux/fcntl.h); CLinux.c checks them against the system headers at compile time.
enum {
    CLINUX_SEAL_SEAL = 0x0001,
    CLINUX_SEAL_SHRINK = 0x0002,
    CLINUX_SEAL_GROW = 0x0004,
    CLINUX_SEAL_WRITE = 0x0008,
    CLINUX_SEAL_FUTURE_WRITE = 0x0010,
};

// memfd_create(name, MFD_CLOEXEC), plus MFD_ALLOW_SEALING when `allow_sealing` is nonzero (without
// it the file is born with F_SEAL_SEAL and can never be sealed). Returns the fd, or -1 with errno.
int clinux_memfd_create(const char *name, int allow_sealing);

// fcntl(fd, F_ADD_SEALS, seals). Returns 0, or -1 with errno set.
int clinux_add_seals(int fd, unsigned int seals);

// fcntl(fd, F_GET_SEALS). Returns the seal bits, or -1 with errno set.
int clinux_get_seals(int fd);

// SCM_RIGHTS needs the CMSG_* macros, which Swift cannot import, so sendmsg/recvmsg with
// descriptors live in CLinux.c. The receiver's control buffer has room for this many descriptors;
// a sender may attach up to CLINUX_SEND_FDS_MAX, so a peer can (and a test does) overflow it.
enum {
    CLINUX_RECEIVE_FDS_MAX = 8,
    CLINUX_SEND_FDS_MAX = 16,
};

// sendmsg of `length` bytes with `fd_count` descriptors attached as SCM_RIGHTS, with MSG_NOSIGNAL
// (a hung-up peer gives EPIPE, not SIGPIPE) and MSG_DONTWAIT (never blocks the caller's loop).
// Returns the bytes sent, or -1 with errno set (EINVAL for fd_count outside 0...CLINUX_SEND_FDS_MAX
// or for length 0 with descriptors: the kernel needs at least one byte to carry them).
// On a stream socket the descriptors travel with the first byte sent: after a partial send they
// have been delivered, and the rest of the bytes must be sent without them.
long clinux_send_with_fds(int socket, const void *bytes, size_t length, const int *fds, int fd_count);

// recvmsg into `bytes` with MSG_CMSG_CLOEXEC (received descriptors never leak into a child) and
// MSG_DONTWAIT, collecting SCM_RIGHTS descriptors into `fds` (room for CLINUX_RECEIVE_FDS_MAX) and
// their number into *fd_count. When the kernel had to drop descriptors (MSG_CTRUNC), every
// descriptor that did arrive is closed, *fd_count is 0 and *control_truncated is 1; the bytes are
// still reported, because they have left the socket. Returns the bytes received (0 at end of
// stream), or -1 with errno set.
long clinux_receive_with_fds(int socket, void *bytes, size_t capacity, int *fds, int *fd_count, int *control_truncated);

// epoll, for a descriptor that stays the same while the descriptors behind it change (the ALSA
// plugin hands applications one poll descriptor for its whole life; each stream brings a new
// eventfd). glibc packs struct epoll_event on x86-64, which Swift cannot build portably, so these
// take plain ints. Level-triggered, POLLIN only. Defined in CLinux.c.
int clinux_epoll_create(void);
int clinux_epoll_watch(int epoll_fd, int fd);
int clinux_epoll_unwatch(int epoll_fd, int fd);
#endif
