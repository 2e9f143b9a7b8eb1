// Linux interfaces that Swift's Glibc module does not export (they need _GNU_SOURCE or live in
// headers Glibc's module map leaves out): eventfd, thread names, and memory locking flags.
#ifndef PCMD_CLINUX_H
#define PCMD_CLINUX_H
#define _GNU_SOURCE 1
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

// pthread_setname_np is declared only under _GNU_SOURCE, which Swift's Glibc import lacks.
static inline int clinux_set_thread_name(const char *name) {
    return pthread_setname_np(pthread_self(), name);
}
#endif
