// The memory layout of one shared stream (layout version 1): the C definition both sides of a
// shared stream agree on, with its offsets pinned by _Static_assert, and the atomic accessors
// that give every field its memory order. docs/protocol.md §7 describes the same layout in prose;
// PCMBufferCore's SharedStream* types are the only Swift code that touches it.
//
// One memfd per stream holds three regions, each starting on a page boundary of the daemon:
//   offset 0                the header: written only by the daemon, read by the client;
//   offset control_offset   the control block: written only by the client, read by the daemon;
//   offset ring_offset      the data ring: ring_bytes of interleaved frames in device layout.
// The header and the control block live on different pages so that neither side's stores share
// a cache line (or a page) with the other's.
//
// Fields that change while the stream runs are _Atomic and are only ever touched through the
// inline functions below, which say their memory order. Fields that never change are plain: the
// daemon writes them before the descriptor is sent, and passing it over the socket orders those
// writes before anything the client does with it.
#ifndef PCMD_CPCMSHM_H
#define PCMD_CPCMSHM_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

// "PCMS" in memory order (read as a little-endian uint32): the wire protocol's magic is "PCMD".
#define PCM_SHM_MAGIC 0x534D4350u
#define PCM_SHM_LAYOUT_VERSION 1u

// The daemon's header, at offset 0. Grouped into 64-byte lines by who writes them and how often.
struct pcm_shm_header {
    // Line 0: identity and regions. Written once, before the descriptor is sent.
    uint32_t magic;                 // PCM_SHM_MAGIC
    uint32_t layout_version;        // PCM_SHM_LAYOUT_VERSION
    uint32_t header_bytes;          // sizeof(struct pcm_shm_header)
    uint32_t page_bytes;            // the daemon's page size; every region starts on a multiple
    uint64_t control_offset;        // where struct pcm_shm_control starts
    uint64_t ring_offset;           // where the data ring starts
    uint64_t ring_bytes;            // buffer_frames * bytes_per_frame, a multiple of page_bytes
    uint64_t total_bytes;           // the whole memfd: ring_offset + ring_bytes
    uint32_t direction;             // 0 playback (client produces), 1 capture (daemon produces)
    uint32_t reserved0;
    uint64_t reserved1;

    // Line 1: the ring's geometry and the device's, in device frames. Written once.
    uint64_t buffer_frames;         // frames in the ring
    uint32_t bytes_per_frame;
    uint32_t sample_format;         // the wire protocol's SampleFormat numbers
    uint32_t channels;
    uint32_t rate;                  // frames per second
    uint64_t device_period_frames;  // the period and buffer the device negotiated
    uint64_t device_buffer_frames;
    uint64_t reserved2[3];

    // Line 2: the daemon's progress, stored every period.
    _Atomic uint64_t daemon_position;  // playback: frames consumed (R); capture: frames produced (W)
    _Atomic uint32_t state;            // enum pcm_shm_state
    _Atomic uint32_t reserved3;
    _Atomic uint64_t underruns;        // periods the daemon found the ring short (playback)
    _Atomic uint64_t overruns;         // periods the daemon found the ring full (capture)
    uint64_t reserved4[4];

    // Line 3: the clock, under a sequence lock (pcm_shm_clock_write / pcm_shm_clock_read).
    _Atomic uint64_t clock_sequence;      // odd while the daemon is writing the three below
    _Atomic uint64_t clock_frames_played; // frames the device has played (or captured)
    _Atomic uint64_t clock_monotonic_ns;  // CLOCK_MONOTONIC when frames_played was true
    _Atomic uint64_t clock_device_delay;  // frames between the ring and the speaker at that time
    uint64_t reserved5[4];
};

// The client's control block, at control_offset.
struct pcm_shm_control {
    _Atomic uint64_t client_position;  // playback: frames produced (W); capture: frames consumed (R)
    _Atomic uint32_t wake_threshold;   // wake the client when this many frames are free (playback)
                                       // or filled (capture); the daemon clamps it
    _Atomic uint32_t waiting;          // nonzero: the client sleeps on its eventfd and wants a wake
    uint64_t reserved[6];
};

// Stream states, stored in pcm_shm_header.state. Never renumber; add new ones.
enum pcm_shm_state {
    PCM_SHM_STATE_SETUP = 0,       // the daemon has not started the stream
    PCM_SHM_STATE_PREFILLING = 1,  // waiting for the start threshold
    PCM_SHM_STATE_RUNNING = 2,
    PCM_SHM_STATE_PAUSED = 3,
    PCM_SHM_STATE_DRAINING = 4,
    PCM_SHM_STATE_DRAINED = 5,
    PCM_SHM_STATE_STOPPED = 6,     // closed, failed, or ended for a violation
};

// The offsets, as numbers Swift can read; the asserts below tie them to the structs.
enum {
    PCM_SHM_HEADER_MAGIC = 0,
    PCM_SHM_HEADER_LAYOUT_VERSION = 4,
    PCM_SHM_HEADER_HEADER_BYTES = 8,
    PCM_SHM_HEADER_PAGE_BYTES = 12,
    PCM_SHM_HEADER_CONTROL_OFFSET = 16,
    PCM_SHM_HEADER_RING_OFFSET = 24,
    PCM_SHM_HEADER_RING_BYTES = 32,
    PCM_SHM_HEADER_TOTAL_BYTES = 40,
    PCM_SHM_HEADER_DIRECTION = 48,
    PCM_SHM_HEADER_BUFFER_FRAMES = 64,
    PCM_SHM_HEADER_BYTES_PER_FRAME = 72,
    PCM_SHM_HEADER_SAMPLE_FORMAT = 76,
    PCM_SHM_HEADER_CHANNELS = 80,
    PCM_SHM_HEADER_RATE = 84,
    PCM_SHM_HEADER_DEVICE_PERIOD_FRAMES = 88,
    PCM_SHM_HEADER_DEVICE_BUFFER_FRAMES = 96,
    PCM_SHM_HEADER_DAEMON_POSITION = 128,
    PCM_SHM_HEADER_STATE = 136,
    PCM_SHM_HEADER_UNDERRUNS = 144,
    PCM_SHM_HEADER_OVERRUNS = 152,
    PCM_SHM_HEADER_CLOCK_SEQUENCE = 192,
    PCM_SHM_HEADER_CLOCK_FRAMES_PLAYED = 200,
    PCM_SHM_HEADER_CLOCK_MONOTONIC_NS = 208,
    PCM_SHM_HEADER_CLOCK_DEVICE_DELAY = 216,
    PCM_SHM_HEADER_SIZE = 256,

    PCM_SHM_CONTROL_CLIENT_POSITION = 0,
    PCM_SHM_CONTROL_WAKE_THRESHOLD = 8,
    PCM_SHM_CONTROL_WAITING = 12,
    PCM_SHM_CONTROL_SIZE = 64,
};

#define PCM_SHM_ASSERT_OFFSET(type, field, value) \
    _Static_assert(offsetof(struct type, field) == (value), #type "." #field " moved")
PCM_SHM_ASSERT_OFFSET(pcm_shm_header, magic, PCM_SHM_HEADER_MAGIC);
PCM_SHM_ASSERT_OFFSET(pcm_shm_header, layout_version, PCM_SHM_HEADER_LAYOUT_VERSION);
PCM_SHM_ASSERT_OFFSET(pcm_shm_header, header_bytes, PCM_SHM_HEADER_HEADER_BYTES);
PCM_SHM_ASSERT_OFFSET(pcm_shm_header, page_bytes, PCM_SHM_HEADER_PAGE_BYTES);
PCM_SHM_ASSERT_OFFSET(pcm_shm_header, control_offset, PCM_SHM_HEADER_CONTROL_OFFSET);
PCM_SHM_ASSERT_OFFSET(pcm_shm_header, ring_offset, PCM_SHM_HEADER_RING_OFFSET);
PCM_SHM_ASSERT_OFFSET(pcm_shm_header, ring_bytes, PCM_SHM_HEADER_RING_BYTES);
PCM_SHM_ASSERT_OFFSET(pcm_shm_header, total_bytes, PCM_SHM_HEADER_TOTAL_BYTES);
PCM_SHM_ASSERT_OFFSET(pcm_shm_header, direction, PCM_SHM_HEADER_DIRECTION);
PCM_SHM_ASSERT_OFFSET(pcm_shm_header, buffer_frames, PCM_SHM_HEADER_BUFFER_FRAMES);
PCM_SHM_ASSERT_OFFSET(pcm_shm_header, bytes_per_frame, PCM_SHM_HEADER_BYTES_PER_FRAME);
PCM_SHM_ASSERT_OFFSET(pcm_shm_header, sample_format, PCM_SHM_HEADER_SAMPLE_FORMAT);
PCM_SHM_ASSERT_OFFSET(pcm_shm_header, channels, PCM_SHM_HEADER_CHANNELS);
PCM_SHM_ASSERT_OFFSET(pcm_shm_header, rate, PCM_SHM_HEADER_RATE);
PCM_SHM_ASSERT_OFFSET(pcm_shm_header, device_period_frames, PCM_SHM_HEADER_DEVICE_PERIOD_FRAMES);
PCM_SHM_ASSERT_OFFSET(pcm_shm_header, device_buffer_frames, PCM_SHM_HEADER_DEVICE_BUFFER_FRAMES);
PCM_SHM_ASSERT_OFFSET(pcm_shm_header, daemon_position, PCM_SHM_HEADER_DAEMON_POSITION);
PCM_SHM_ASSERT_OFFSET(pcm_shm_header, state, PCM_SHM_HEADER_STATE);
PCM_SHM_ASSERT_OFFSET(pcm_shm_header, underruns, PCM_SHM_HEADER_UNDERRUNS);
PCM_SHM_ASSERT_OFFSET(pcm_shm_header, overruns, PCM_SHM_HEADER_OVERRUNS);
PCM_SHM_ASSERT_OFFSET(pcm_shm_header, clock_sequence, PCM_SHM_HEADER_CLOCK_SEQUENCE);
PCM_SHM_ASSERT_OFFSET(pcm_shm_header, clock_frames_played, PCM_SHM_HEADER_CLOCK_FRAMES_PLAYED);
PCM_SHM_ASSERT_OFFSET(pcm_shm_header, clock_monotonic_ns, PCM_SHM_HEADER_CLOCK_MONOTONIC_NS);
PCM_SHM_ASSERT_OFFSET(pcm_shm_header, clock_device_delay, PCM_SHM_HEADER_CLOCK_DEVICE_DELAY);
_Static_assert(sizeof(struct pcm_shm_header) == PCM_SHM_HEADER_SIZE, "pcm_shm_header changed size");
PCM_SHM_ASSERT_OFFSET(pcm_shm_control, client_position, PCM_SHM_CONTROL_CLIENT_POSITION);
PCM_SHM_ASSERT_OFFSET(pcm_shm_control, wake_threshold, PCM_SHM_CONTROL_WAKE_THRESHOLD);
PCM_SHM_ASSERT_OFFSET(pcm_shm_control, waiting, PCM_SHM_CONTROL_WAITING);
_Static_assert(sizeof(struct pcm_shm_control) == PCM_SHM_CONTROL_SIZE, "pcm_shm_control changed size");
// The other process may be built by another compiler: the atomics must be plain, lock-free
// words with no hidden lock inside the struct.
_Static_assert(sizeof(_Atomic uint64_t) == 8 && ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");
_Static_assert(sizeof(_Atomic uint32_t) == 4 && ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");

// MARK: The daemon's stores to its header. Release: whatever the daemon did to the ring before
// the store (frames read, frames written) is visible to a client that loads the new value.

static inline void pcm_shm_store_daemon_position(struct pcm_shm_header *header, uint64_t frames) {
    atomic_store_explicit(&header->daemon_position, frames, memory_order_release);
}
static inline void pcm_shm_store_state(struct pcm_shm_header *header, uint32_t state) {
    atomic_store_explicit(&header->state, state, memory_order_release);
}
static inline void pcm_shm_store_underruns(struct pcm_shm_header *header, uint64_t count) {
    atomic_store_explicit(&header->underruns, count, memory_order_release);
}
static inline void pcm_shm_store_overruns(struct pcm_shm_header *header, uint64_t count) {
    atomic_store_explicit(&header->overruns, count, memory_order_release);
}

// Writes the clock under the sequence lock. `sequence` is the daemon's private count of clock
// writes (never read back from shared memory, which the client can scribble on): the field goes
// odd, the three values are stored, the field goes even. The release fence keeps the odd store
// ahead of the values; the final release store keeps the values ahead of the even one.
static inline void pcm_shm_clock_write(
    struct pcm_shm_header *header, uint64_t sequence, uint64_t frames_played, uint64_t monotonic_ns,
    uint64_t device_delay) {
    atomic_store_explicit(&header->clock_sequence, 2 * sequence + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&header->clock_frames_played, frames_played, memory_order_relaxed);
    atomic_store_explicit(&header->clock_monotonic_ns, monotonic_ns, memory_order_relaxed);
    atomic_store_explicit(&header->clock_device_delay, device_delay, memory_order_relaxed);
    atomic_store_explicit(&header->clock_sequence, 2 * sequence + 2, memory_order_release);
}

// MARK: The client's loads from the header. Acquire, pairing with the daemon's release stores.

// The magic as it reads now. The daemon writes it once, before the client maps the memory, and
// it changes only when the daemon reclaims a closed stream's memory (punched out: it reads 0), so
// a volatile read is enough: the point is that the compiler must not assume the value it saw.
static inline uint32_t pcm_shm_load_magic(const struct pcm_shm_header *header) {
    return *(const volatile uint32_t *)&header->magic;
}

static inline uint64_t pcm_shm_load_daemon_position(const struct pcm_shm_header *header) {
    return atomic_load_explicit(&header->daemon_position, memory_order_acquire);
}
static inline uint32_t pcm_shm_load_state(const struct pcm_shm_header *header) {
    return atomic_load_explicit(&header->state, memory_order_acquire);
}
static inline uint64_t pcm_shm_load_underruns(const struct pcm_shm_header *header) {
    return atomic_load_explicit(&header->underruns, memory_order_acquire);
}
static inline uint64_t pcm_shm_load_overruns(const struct pcm_shm_header *header) {
    return atomic_load_explicit(&header->overruns, memory_order_acquire);
}

// One attempt to read the clock: returns 1 and fills the three values when no write overlapped
// the read, 0 when the caller should try again. The acquire fence keeps the value loads ahead of
// the second sequence load.
static inline int pcm_shm_clock_read(
    const struct pcm_shm_header *header, uint64_t *frames_played, uint64_t *monotonic_ns, uint64_t *device_delay) {
    uint64_t before = atomic_load_explicit(&header->clock_sequence, memory_order_acquire);
    if (before & 1) return 0;
    uint64_t frames = atomic_load_explicit(&header->clock_frames_played, memory_order_relaxed);
    uint64_t time = atomic_load_explicit(&header->clock_monotonic_ns, memory_order_relaxed);
    uint64_t delay = atomic_load_explicit(&header->clock_device_delay, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    uint64_t after = atomic_load_explicit(&header->clock_sequence, memory_order_relaxed);
    if (before != after) return 0;
    *frames_played = frames;
    *monotonic_ns = time;
    *device_delay = delay;
    return 1;
}

// MARK: The control block: the client stores (release, so the frames it wrote are visible to a
// daemon that loads its W), the daemon loads (acquire), each value exactly once per period.

static inline void pcm_shm_store_client_position(struct pcm_shm_control *control, uint64_t frames) {
    atomic_store_explicit(&control->client_position, frames, memory_order_release);
}
static inline void pcm_shm_store_wake_threshold(struct pcm_shm_control *control, uint32_t frames) {
    atomic_store_explicit(&control->wake_threshold, frames, memory_order_release);
}
static inline void pcm_shm_store_waiting(struct pcm_shm_control *control, uint32_t waiting) {
    atomic_store_explicit(&control->waiting, waiting, memory_order_release);
}
static inline uint64_t pcm_shm_load_client_position(const struct pcm_shm_control *control) {
    return atomic_load_explicit(&control->client_position, memory_order_acquire);
}
static inline uint32_t pcm_shm_load_wake_threshold(const struct pcm_shm_control *control) {
    return atomic_load_explicit(&control->wake_threshold, memory_order_acquire);
}
static inline uint32_t pcm_shm_load_waiting(const struct pcm_shm_control *control) {
    return atomic_load_explicit(&control->waiting, memory_order_acquire);
}
#endif
