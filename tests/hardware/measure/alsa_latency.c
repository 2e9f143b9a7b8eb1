/*
 * Measurement helper for bench.py (not a test): the latency an ALSA application is told through
 * snd_pcm_delay(), next to the latency measured on the snd-aloop cable.
 *
 * The playback PCM (e.g. "pcmd" or "pipewire") is set up the way aplay sets itself up at its
 * defaults: RW interleaved, S16_LE, 2 channels, the buffer time the PCM allows up to 500 ms, a
 * quarter of it per period, avail_min one period, start and stop threshold the whole buffer, and
 * blocking writes of one period. It plays silence with a short click at the start of one period
 * about every second. Before the period that holds a click, it waits until the write cannot
 * block, reads CLOCK_MONOTONIC, asks snd_pcm_delay() and writes: the click should then reach the
 * device delay/rate seconds later.
 *
 * A second thread records the cable's capture end (hw:Loopback,1,0) straight from the kernel,
 * without any daemon, and notes after every read how many frames the cable had delivered by
 * then (frames read + avail) and when (the status timestamp, CLOCK_MONOTONIC). That maps every
 * captured frame to the moment the playback end of the cable consumed it, so bench.py can find
 * each click in the capture and compare its arrival with the moment it was written.
 *
 * The capture end opens only once the playback end is RUNNING (STATUS_FILE says so): snd-aloop
 * gives both ends the period and buffer of whichever opens first, and the daemon must choose.
 *
 * usage: alsa_latency PLAYBACK_PCM RATE CAPTURE_PCM CAPTURE_RATE STATUS_FILE CLICKS OUT_DIR
 * writes OUT_DIR/capture.raw (S16_LE stereo) and OUT_DIR/capture-clock.txt ("frames nanoseconds"
 * per read); prints "setup ...", one "click ..." line per click, "underruns N" (once the cable runs),
 * "early_underruns N" (before: a PipeWire stream waits unlinked until the bench links it) and
 * "overruns N" (of the capture).
 */
#define _GNU_SOURCE
#include <alsa/asoundlib.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHANNELS 2
#define CLICK_FRAMES 8
#define CLICK_LEVEL 16384 /* half of full scale: clear of any rounding, far from clipping */

struct capture {
	const char *pcm_name;
	unsigned int rate;
	const char *status_file;
	FILE *raw;
	FILE *clock;
	atomic_int ready;    /* set after the first read: clicks may start */
	atomic_int stop;     /* set by the player when the last click is surely through */
	atomic_int failed;   /* the capture could not run */
	unsigned long overruns;
};

static int64_t nanoseconds(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return nanoseconds(&ts);
}

/* whether the status file of the cable's playback end says RUNNING */
static int playback_running(const char *path)
{
	char line[128];
	int running = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "state: RUNNING", 14) == 0)
			running = 1;
	fclose(f);
	return running;
}

static void *capture_main(void *arg)
{
	struct capture *c = arg;
	snd_pcm_t *pcm = NULL;
	snd_pcm_hw_params_t *hw;
	snd_pcm_sw_params_t *sw;
	snd_pcm_status_t *status;
	snd_pcm_uframes_t period;
	int16_t *chunk = NULL;
	uint64_t total = 0;
	int err;

	/* like the bench's arecord: real time below the daemons, so the recorder itself does not lose audio */
	struct sched_param sp = { .sched_priority = 50 };
	pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp); /* ignored when refused: overruns are counted */

	for (int waited = 0; !playback_running(c->status_file); waited++) {
		if (waited > 6000 || atomic_load(&c->stop)) {
			fprintf(stderr, "alsa_latency: %s never showed RUNNING\n", c->status_file);
			goto fail;
		}
		usleep(10000);
	}
	if ((err = snd_pcm_open(&pcm, c->pcm_name, SND_PCM_STREAM_CAPTURE, 0)) < 0) {
		fprintf(stderr, "alsa_latency: capture open %s: %s\n", c->pcm_name, snd_strerror(err));
		goto fail;
	}
	snd_pcm_hw_params_alloca(&hw);
	snd_pcm_hw_params_any(pcm, hw);
	if ((err = snd_pcm_hw_params_set_access(pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED)) < 0 ||
	    (err = snd_pcm_hw_params_set_format(pcm, hw, SND_PCM_FORMAT_S16_LE)) < 0 ||
	    (err = snd_pcm_hw_params_set_channels(pcm, hw, CHANNELS)) < 0 ||
	    (err = snd_pcm_hw_params_set_rate(pcm, hw, c->rate, 0)) < 0 ||
	    (err = snd_pcm_hw_params(pcm, hw)) < 0) {
		fprintf(stderr, "alsa_latency: capture hw_params: %s\n", snd_strerror(err));
		goto fail;
	}
	snd_pcm_hw_params_get_period_size(hw, &period, NULL);
	snd_pcm_sw_params_alloca(&sw);
	snd_pcm_sw_params_current(pcm, sw);
	snd_pcm_sw_params_set_tstamp_mode(pcm, sw, SND_PCM_TSTAMP_ENABLE);
	snd_pcm_sw_params_set_tstamp_type(pcm, sw, SND_PCM_TSTAMP_TYPE_MONOTONIC);
	if ((err = snd_pcm_sw_params(pcm, sw)) < 0) {
		fprintf(stderr, "alsa_latency: capture sw_params: %s\n", snd_strerror(err));
		goto fail;
	}
	chunk = malloc(period * CHANNELS * sizeof *chunk);
	snd_pcm_status_alloca(&status);
	while (!atomic_load(&c->stop)) {
		snd_pcm_sframes_t got = snd_pcm_readi(pcm, chunk, period);
		if (got == -EPIPE) {
			/* frames were lost: the mapping of later frames still holds (it is taken after each read) */
			c->overruns++;
			snd_pcm_prepare(pcm);
			continue;
		}
		if (got < 0) {
			fprintf(stderr, "alsa_latency: capture read: %s\n", snd_strerror((int)got));
			goto fail;
		}
		fwrite(chunk, CHANNELS * sizeof *chunk, (size_t)got, c->raw);
		total += (uint64_t)got;
		if (snd_pcm_status(pcm, status) == 0) {
			snd_htimestamp_t ts;
			snd_pcm_status_get_htstamp(status, &ts);
			fprintf(c->clock, "%llu %lld\n", (unsigned long long)(total + snd_pcm_status_get_avail(status)),
				(long long)nanoseconds(&ts));
		}
		atomic_store(&c->ready, 1);
	}
	free(chunk);
	snd_pcm_close(pcm);
	return NULL;
fail:
	free(chunk);
	if (pcm)
		snd_pcm_close(pcm);
	atomic_store(&c->failed, 1);
	atomic_store(&c->ready, 1);
	return NULL;
}

/* aplay's setup at its defaults (see the comment at the top); returns the period in frames */
static int setup_playback(snd_pcm_t *pcm, unsigned int *rate, snd_pcm_uframes_t *period, snd_pcm_uframes_t *buffer)
{
	snd_pcm_hw_params_t *hw;
	snd_pcm_sw_params_t *sw;
	unsigned int buffer_time = 0, period_time;
	int err;

	snd_pcm_hw_params_alloca(&hw);
	snd_pcm_hw_params_any(pcm, hw);
	if ((err = snd_pcm_hw_params_set_access(pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED)) < 0 ||
	    (err = snd_pcm_hw_params_set_format(pcm, hw, SND_PCM_FORMAT_S16_LE)) < 0 ||
	    (err = snd_pcm_hw_params_set_channels(pcm, hw, CHANNELS)) < 0 ||
	    (err = snd_pcm_hw_params_set_rate_near(pcm, hw, rate, 0)) < 0)
		return err;
	if ((err = snd_pcm_hw_params_get_buffer_time_max(hw, &buffer_time, 0)) < 0)
		return err;
	if (buffer_time > 500000)
		buffer_time = 500000;
	period_time = buffer_time / 4;
	if ((err = snd_pcm_hw_params_set_period_time_near(pcm, hw, &period_time, 0)) < 0 ||
	    (err = snd_pcm_hw_params_set_buffer_time_near(pcm, hw, &buffer_time, 0)) < 0 ||
	    (err = snd_pcm_hw_params(pcm, hw)) < 0)
		return err;
	snd_pcm_hw_params_get_period_size(hw, period, NULL);
	snd_pcm_hw_params_get_buffer_size(hw, buffer);
	snd_pcm_sw_params_alloca(&sw);
	snd_pcm_sw_params_current(pcm, sw);
	if ((err = snd_pcm_sw_params_set_avail_min(pcm, sw, *period)) < 0 ||
	    (err = snd_pcm_sw_params_set_start_threshold(pcm, sw, *buffer)) < 0 ||
	    (err = snd_pcm_sw_params_set_stop_threshold(pcm, sw, *buffer)) < 0 ||
	    (err = snd_pcm_sw_params(pcm, sw)) < 0)
		return err;
	return 0;
}

/* a blocking write of the whole chunk, recovering from underruns as aplay does */
static int write_all(snd_pcm_t *pcm, const int16_t *data, snd_pcm_uframes_t frames, unsigned long *underruns)
{
	while (frames > 0) {
		snd_pcm_sframes_t done = snd_pcm_writei(pcm, data, frames);
		if (done == -EAGAIN)
			continue;
		if (done == -EPIPE) {
			(*underruns)++;
			if ((done = snd_pcm_prepare(pcm)) < 0)
				return (int)done;
			continue;
		}
		if (done < 0)
			return (int)done;
		data += done * CHANNELS;
		frames -= (snd_pcm_uframes_t)done;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 8) {
		fprintf(stderr, "usage: alsa_latency PLAYBACK_PCM RATE CAPTURE_PCM CAPTURE_RATE STATUS_FILE CLICKS OUT_DIR\n");
		return 2;
	}
	const char *playback_name = argv[1];
	unsigned int rate = (unsigned int)atoi(argv[2]);
	int clicks = atoi(argv[6]);
	char path[4096];
	struct capture c = { .pcm_name = argv[3], .rate = (unsigned int)atoi(argv[4]), .status_file = argv[5] };
	snd_pcm_t *pcm;
	snd_pcm_uframes_t period, buffer;
	unsigned long underruns = 0, early_underruns = 0;
	pthread_t thread;
	int err;

	snprintf(path, sizeof path, "%s/capture.raw", argv[7]);
	c.raw = fopen(path, "wb");
	snprintf(path, sizeof path, "%s/capture-clock.txt", argv[7]);
	c.clock = fopen(path, "w");
	if (!c.raw || !c.clock) {
		fprintf(stderr, "alsa_latency: cannot write in %s\n", argv[7]);
		return 1;
	}
	if ((err = snd_pcm_open(&pcm, playback_name, SND_PCM_STREAM_PLAYBACK, 0)) < 0) {
		fprintf(stderr, "alsa_latency: open %s: %s\n", playback_name, snd_strerror(err));
		return 1;
	}
	if ((err = setup_playback(pcm, &rate, &period, &buffer)) < 0) {
		fprintf(stderr, "alsa_latency: setting up %s: %s\n", playback_name, snd_strerror(err));
		return 1;
	}
	printf("setup rate %u period %lu buffer %lu\n", rate, (unsigned long)period, (unsigned long)buffer);
	fflush(stdout);

	int16_t *silence = calloc(period * CHANNELS, sizeof *silence);
	int16_t *click = calloc(period * CHANNELS, sizeof *click);
	for (int i = 0; i < CLICK_FRAMES * CHANNELS && i < (int)(period * CHANNELS); i++)
		click[i] = CLICK_LEVEL;
	if ((err = pthread_create(&thread, NULL, capture_main, &c)) != 0) {
		fprintf(stderr, "alsa_latency: pthread_create: %s\n", strerror(err));
		return 1;
	}

	/* Silence until the capture runs; then 2 s more (the stream is steady), then a click about every second. */
	uint64_t written = 0, since_ready = 0, next_click = 2 * (uint64_t)rate;
	int clicked = 0;
	while (clicked < clicks) {
		if (atomic_load(&c.failed))
			break;
		int ready = atomic_load(&c.ready);
		if (ready && since_ready >= next_click) {
			snd_pcm_sframes_t avail;
			snd_pcm_sframes_t delay = 0;
			/* wait until the write cannot block, so the clock and the delay belong to the write */
			while ((avail = snd_pcm_avail(pcm)) >= 0 && (snd_pcm_uframes_t)avail < period)
				snd_pcm_wait(pcm, 1000);
			int64_t before = now_ns();
			int delay_err = snd_pcm_delay(pcm, &delay);
			if ((err = write_all(pcm, click, period, &underruns)) < 0)
				break;
			int64_t after = now_ns();
			printf("click %d written %llu before_ns %lld delay %ld delay_err %d after_ns %lld avail %ld\n", clicked,
			       (unsigned long long)written, (long long)before, (long)delay, delay_err, (long long)after, (long)avail);
			fflush(stdout);
			clicked++;
			next_click += rate;
		} else if ((err = write_all(pcm, silence, period, ready ? &underruns : &early_underruns)) < 0) {
			break;
		}
		written += period;
		if (ready)
			since_ready += period;
	}
	if (err < 0)
		fprintf(stderr, "alsa_latency: write: %s\n", snd_strerror(err));
	/* the last click must get through everything queued before it is captured: 1.5 s more */
	for (uint64_t more = 0; err >= 0 && !atomic_load(&c.failed) && more < 3 * (uint64_t)rate / 2; more += period)
		err = write_all(pcm, silence, period, &underruns);
	atomic_store(&c.stop, 1);
	pthread_join(thread, NULL);
	snd_pcm_drop(pcm);
	snd_pcm_close(pcm);
	fclose(c.raw);
	fclose(c.clock);
	printf("underruns %lu\nearly_underruns %lu\noverruns %lu\n", underruns, early_underruns, c.overruns);
	return (err < 0 || atomic_load(&c.failed) || clicked < clicks) ? 1 : 0;
}
