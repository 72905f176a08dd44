/*
 * Unit tests for common/ingest/batch.c's queue, with solo work only (it never
 * touches the connection, so no server is needed): work runs one at a time,
 * a timed wait gives up without running, and no waiting thread is forgotten
 * when batches end or when a timed wait gives up. A thread left waiting would
 * hang; every join is bounded, and the suite stops there if one fails.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/conf.h"
#include "ingest/batch.h"
#include "ingest/store.h"
#include "tap.h"

void test_batch(void);

#define JOIN_S 20 /* the bound on any thread's wait here */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool a_started, b_done, b_done_while_a_ran;
static int order[3], norder;

/* Solo work that counts, under the batcher's turn only: a second runner at once shows as an overlap. */
static int running, runs, overlaps;
static const struct timespec work_time = { 0, 200 * 1000L }; /* long enough that 1 ms waits give up */

static void
count(struct store *st, void *arg)
{
	(void)st;
	(void)arg;
	if (__atomic_add_fetch(&running, 1, __ATOMIC_SEQ_CST) != 1)
		__atomic_add_fetch(&overlaps, 1, __ATOMIC_SEQ_CST);
	runs++; /* not atomic: only one runs at a time */
	nanosleep(&work_time, NULL);
	__atomic_sub_fetch(&running, 1, __ATOMIC_SEQ_CST);
}

static void
deadline_in(struct timespec *ts, int s)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += s;
}

/* A's work: holds the turn until B has given up (at most JOIN_S). */
static void
hold(struct store *st, void *arg)
{
	struct timespec until;

	(void)st;
	(void)arg;
	deadline_in(&until, JOIN_S);
	pthread_mutex_lock(&mu);
	order[norder++] = 'A';
	a_started = true;
	pthread_cond_broadcast(&cv);
	while (!b_done && pthread_cond_timedwait(&cv, &mu, &until) != ETIMEDOUT)
		;
	b_done_while_a_ran = b_done;
	pthread_mutex_unlock(&mu);
}

static void
mark(struct store *st, void *arg)
{
	(void)st;
	pthread_mutex_lock(&mu);
	if (norder < 3)
		order[norder++] = *(const char *)arg;
	pthread_mutex_unlock(&mu);
}

static struct batch *batcher;
static bool b_ran_result = true;

static void *
run_a(void *arg)
{
	(void)arg;
	batch_solo(batcher, hold, NULL);
	return NULL;
}

static void *
run_b(void *arg)
{
	static const char b = 'B';

	(void)arg;
	b_ran_result = batch_solo_within(batcher, mark, (void *)&b, 100);
	pthread_mutex_lock(&mu);
	b_done = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void *
run_c(void *arg)
{
	static const char c = 'C';

	(void)arg;
	batch_solo(batcher, mark, (void *)&c);
	return NULL;
}

/* Joins t within JOIN_S; a thread still waiting then is a forgotten waiter, and the suite cannot go on. */
static void
join_or_stop(pthread_t t, const char *what)
{
	struct timespec until;

	deadline_in(&until, JOIN_S);
	if (pthread_timedjoin_np(t, NULL, &until) != 0) {
		CHECK(0, "batch: %s finished within %d s", what, JOIN_S);
		printf("# unit: stopped, a thread still waits in the batcher\n");
		exit(1);
	}
}

/* Threads that queue solo work at once: untimed, timed generously, and timed to give up quickly. */
#define THREADS 8
#define CALLS 200

struct racer {
	int kind; /* 0 untimed, 1 timed 10 s, 2 timed 1 ms */
	int ran;  /* timed calls that ran */
};

static void *
race(void *arg)
{
	struct racer *r = arg;
	int i;

	for (i = 0; i < CALLS; i++) {
		if (r->kind == 0)
			batch_solo(batcher, count, NULL);
		else if (batch_solo_within(batcher, count, NULL, r->kind == 1 ? 10000 : 1))
			r->ran++;
	}
	return NULL;
}

void
test_batch(void)
{
	static char conninfo[] = "host=/nonexistent"; /* never used: solo work does not connect */
	struct config cfg;
	pthread_t a, b, c, t[THREADS];
	struct racer r[THREADS];
	struct timespec pause = { 0, 20 * 1000000L };
	int i, want;

	memset(&cfg, 0, sizeof(cfg));
	cfg.conninfo = conninfo;
	batcher = batch_new(store_new(&cfg), 32, 1 << 20, 1000, NULL);
	if (batcher == NULL)
		abort();

	/* A holds the turn; B waits at most 100 ms behind it; C waits without a bound, queued after B. */
	pthread_create(&a, NULL, run_a, NULL);
	pthread_mutex_lock(&mu);
	while (!a_started)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	pthread_create(&b, NULL, run_b, NULL);
	nanosleep(&pause, NULL);
	pthread_create(&c, NULL, run_c, NULL);
	join_or_stop(b, "a timed wait behind running work");
	join_or_stop(a, "the running work");
	join_or_stop(c, "an untimed wait queued behind a timed one that gave up");
	CHECK(!b_ran_result, "batch: a timed wait whose turn did not come returns false");
	CHECK(b_done_while_a_ran, "batch: it gives up while the work ahead of it still runs");
	CHECK(norder == 2 && order[0] == 'A' && order[1] == 'C',
	    "batch: the work that gave up did not run; the one queued after it ran after the running one");

	/* Many threads at once, some giving up: every call returns, and the work never overlaps. */
	for (i = 0; i < THREADS; i++) {
		r[i].kind = i % 3;
		r[i].ran = 0;
		pthread_create(&t[i], NULL, race, &r[i]);
	}
	for (i = 0; i < THREADS; i++)
		join_or_stop(t[i], "a thread of the race");
	want = 0;
	for (i = 0; i < THREADS; i++)
		want += r[i].kind == 0 ? CALLS : r[i].ran;
	printf("# batch: calls timed at 1 ms that ran: %d, %d of %d each (the others gave up)\n", r[2].ran,
	    r[5].ran, CALLS);
	CHECK(runs == want,
	    "batch: %d threads x %d calls: the work ran once per call that returned true (%d, want %d)",
	    THREADS, CALLS, runs, want);
	CHECK(overlaps == 0, "batch: no two pieces of work ran at once (%d overlaps)", overlaps);
	CHECK(r[1].ran == CALLS && r[4].ran == CALLS && r[7].ran == CALLS,
	    "batch: every call timed at 10 s ran (%d, %d, %d of %d)", r[1].ran, r[4].ran, r[7].ran, CALLS);
	batch_free(batcher);
}
