// CLinux: the static inline wrappers live in the header; the socket, memfd, seal, epoll and
// program-name helpers live here so that <sys/socket.h>, <fcntl.h>, <sys/epoll.h> and <errno.h>
// are compiled with _GNU_SOURCE only inside this file.
#include "CLinux.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

// The header spells the seal bits out so that Swift sees them without _GNU_SOURCE; these make
// sure they are the system's.
_Static_assert(CLINUX_SEAL_SEAL == F_SEAL_SEAL, "F_SEAL_SEAL");
_Static_assert(CLINUX_SEAL_SHRINK == F_SEAL_SHRINK, "F_SEAL_SHRINK");
_Static_assert(CLINUX_SEAL_GROW == F_SEAL_GROW, "F_SEAL_GROW");
_Static_assert(CLINUX_SEAL_WRITE == F_SEAL_WRITE, "F_SEAL_WRITE");
_Static_assert(CLINUX_SEAL_FUTURE_WRITE == F_SEAL_FUTURE_WRITE, "F_SEAL_FUTURE_WRITE");

int clinux_peer_credentials(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid) {
    struct ucred credentials;
    socklen_t length = sizeof credentials;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return -1;
    *pid = credentials.pid;
    *uid = credentials.uid;
    *gid = credentials.gid;
    return 0;
}

int clinux_peer_groups(int fd, uint32_t *groups, int capacity) {
    socklen_t length = (socklen_t)((size_t)capacity * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &length) != 0) {
        if (errno == ERANGE) return (int)(length / sizeof(gid_t));
        return -1;
    }
    return (int)(length / sizeof(gid_t));
}

int clinux_memfd_create(const char *name, int allow_sealing) {
    unsigned int flags = MFD_CLOEXEC | (allow_sealing ? MFD_ALLOW_SEALING : 0);
    return memfd_create(name, flags);
}

int clinux_add_seals(int fd, unsigned int seals) {
    return fcntl(fd, F_ADD_SEALS, seals) == 0 ? 0 : -1;
}

int clinux_get_seals(int fd) {
    return fcntl(fd, F_GET_SEALS);
}

long clinux_send_with_fds(int socket, const void *bytes, size_t length, const int *fds, int fd_count) {
    if (fd_count < 0 || fd_count > CLINUX_SEND_FDS_MAX || (fd_count > 0 && length == 0)) {
        errno = EINVAL;
        return -1;
    }
    // The union gives the control buffer the alignment struct cmsghdr needs.
    union {
        char bytes[CMSG_SPACE(sizeof(int) * CLINUX_SEND_FDS_MAX)];
        struct cmsghdr align;
    } control;
    struct iovec vector = {.iov_base = (void *)bytes, .iov_len = length};
    struct msghdr message = {.msg_iov = &vector, .msg_iovlen = 1};
    if (fd_count > 0) {
        memset(&control, 0, sizeof control);
        message.msg_control = control.bytes;
        message.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)fd_count);
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)fd_count);
        memcpy(CMSG_DATA(header), fds, sizeof(int) * (size_t)fd_count);
    }
    return (long)sendmsg(socket, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
}

long clinux_receive_with_fds(int socket, void *bytes, size_t capacity, int *fds, int *fd_count, int *control_truncated) {
    union {
        char bytes[CMSG_SPACE(sizeof(int) * CLINUX_RECEIVE_FDS_MAX)];
        struct cmsghdr align;
    } control;
    struct iovec vector = {.iov_base = bytes, .iov_len = capacity};
    struct msghdr message = {
        .msg_iov = &vector, .msg_iovlen = 1, .msg_control = control.bytes, .msg_controllen = sizeof control.bytes};
    *fd_count = 0;
    *control_truncated = 0;
    ssize_t received = recvmsg(socket, &message, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (received < 0) return -1;
    int count = 0;
    int overflow = 0;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header != NULL; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
        if (header->cmsg_len < CMSG_LEN(0)) continue;
        size_t carried = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const unsigned char *data = CMSG_DATA(header);
        for (size_t index = 0; index < carried; index++) {
            int fd;
            memcpy(&fd, data + index * sizeof(int), sizeof fd);
            // Cannot happen with this control buffer, but a descriptor with nowhere to go must
            // still be closed rather than leaked.
            if (count == CLINUX_RECEIVE_FDS_MAX) {
                close(fd);
                overflow = 1;
                continue;
            }
            fds[count++] = fd;
        }
    }
    if ((message.msg_flags & MSG_CTRUNC) || overflow) {
        // Some descriptors were dropped, so the message can no longer be matched with its
        // descriptors: close what did arrive and let the caller fail the connection.
        for (int index = 0; index < count; index++) close(fds[index]);
        *control_truncated = 1;
        return (long)received;
    }
    *fd_count = count;
    return (long)received;
}

const char *clinux_program_name(void) {
    return program_invocation_short_name;
}

int clinux_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

int clinux_epoll_watch(int epoll_fd, int fd) {
    struct epoll_event event = { .events = EPOLLIN, .data = { .fd = fd } };
    return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
}

int clinux_epoll_unwatch(int epoll_fd, int fd) {
    return epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, NULL);
}
