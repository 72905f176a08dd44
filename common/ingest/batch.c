/*
 * Group commit. The request threads of one worker queue their deliveries
 * here. A thread that finds no batch running becomes the leader: it takes
 * every delivery queued (up to the count and byte bounds), writes them in one
 * transaction and one round trip through the worker's one connection, hands
 * each its own result and wakes the others; deliveries queued meanwhile go in
 * the next batch, led by one of their threads. Nothing ever waits for a batch
 * to fill: a lone delivery is a batch of one, written at once.
 *
 * Each waiting thread sleeps on its own condition variable: a batch's end
 * wakes the threads whose deliveries it wrote, and the one at the head of the
 * queue to lead the next batch, not every thread that waits.
 *
 * The connection idles while the next leader is woken and builds its batch
 * (about a sixth of the time under load, with one worker on two CPUs). Having
 * the ending leader send the next batch at once, and hand only the reading of
 * its result to a woken thread, removes that idle time but not the cost: the
 * batches get smaller and PostgreSQL's CPU per delivery rose by about a tenth
 * (tests/bench/run.sh, alternating runs), so it is not done.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest/batch.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"

/* One delivery (or solo work) waiting for its batch; lives on the waiting thread's stack. */
struct item {
	const struct ingest *in; /* NULL for solo work */
	batch_solo_fn fn;
	void *arg;
	struct ingest_result *res;
	char *sqlstate; /* the caller's, 6 bytes */
	enum ch_err err;
	long long deadline; /* monotonic ms */
	pthread_cond_t cv;  /* signalled when done, or when its thread is to lead */
	bool taken;         /* in the leader's batch, under mu */
	bool done;          /* set by the leader, under mu */
	struct item *next;
};

struct batch {
	pthread_mutex_t mu;
	struct item *head, **tail; /* the queue, under mu */
	bool leading;              /* a leader runs a batch now, under mu */
	struct item **taken;       /* the leader's batch (max_count) */
	const struct ingest **ins;
	struct ingest_result *results;
	struct store *st; /* used by the leader only */
	size_t max_count, max_bytes;
	int budget_ms;
	struct metrics *metrics;
	unsigned long reconnects; /* counted in metrics so far */
};

/* Makes an item's condition variable: on the monotonic clock when the wait is timed (until != NULL). */
static bool
item_init(struct item *it, const struct timespec *until)
{
	pthread_condattr_t attr;
	bool ok;

	if (until == NULL) {
		it->cv = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
		return true;
	}
	if (pthread_condattr_init(&attr) != 0)
		return false;
	ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&it->cv, &attr) == 0;
	pthread_condattr_destroy(&attr);
	return ok;
}

struct batch *
batch_new(struct store *st, size_t max_count, size_t max_bytes, int budget_ms, struct metrics *metrics)
{
	struct batch *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->max_count = max_count > 0 ? max_count : 1;
	b->taken = calloc(b->max_count, sizeof(*b->taken));
	b->ins = calloc(b->max_count, sizeof(*b->ins));
	b->results = calloc(b->max_count, sizeof(*b->results));
	if (b->taken == NULL || b->ins == NULL || b->results == NULL || pthread_mutex_init(&b->mu, NULL) != 0) {
		free(b->taken);
		free(b->ins);
		free(b->results);
		free(b);
		return NULL;
	}
	b->tail = &b->head;
	b->st = st;
	b->max_bytes = max_bytes;
	b->budget_ms = budget_ms;
	b->metrics = metrics;
	return b;
}

void
batch_free(struct batch *b)
{
	if (b == NULL)
		return;
	store_free(b->st);
	pthread_mutex_destroy(&b->mu);
	free(b->taken);
	free(b->ins);
	free(b->results);
	free(b);
}

/* What a delivery adds to the batch's arguments: its body and its rows, at most about the body again. */
static size_t
item_bytes(const struct item *it)
{
	return it->in->row_ops != NULL ? 2 * it->in->body_len : it->in->body_len;
}

/*
 * Moves the next batch from the queue to b->taken (under mu): solo work
 * alone, else the deliveries at the head up to the bounds. Returns its size.
 */
static size_t
take(struct batch *b)
{
	size_t n = 0, bytes = 0;
	struct item *it;

	while ((it = b->head) != NULL && n < b->max_count) {
		if (n > 0 && (it->in == NULL || bytes + item_bytes(it) > b->max_bytes))
			break;
		b->taken[n++] = it;
		it->taken = true;
		if ((b->head = it->next) == NULL)
			b->tail = &b->head;
		if (it->in == NULL)
			break; /* solo work runs alone */
		bytes += item_bytes(it);
	}
	return n;
}

/* Stores one delivery on its own with what is left of its deadline (at least 1 ms). */
static void
store_one(struct batch *b, struct item *it)
{
	struct ingest in = *it->in;
	long long left = it->deadline - (long long)mono_ms();

	in.budget_ms = left > 0 ? (int)left : 1;
	it->err = store_ingest(b->st, &in, it->res);
	memcpy(it->sqlstate, store_sqlstate(b->st), 6);
}

/*
 * Writes b->taken[0..n-1], n > 1, in one transaction; when one of them fails
 * for its data, each on its own instead (failure isolation).
 */
static void
run_many(struct batch *b, size_t n)
{
	long long deadline = b->taken[0]->deadline, left;
	enum ch_err err;
	size_t i;

	for (i = 0; i < n; i++) {
		b->ins[i] = b->taken[i]->in;
		if (b->taken[i]->deadline < deadline)
			deadline = b->taken[i]->deadline;
	}
	left = deadline - (long long)mono_ms();
	err = store_ingest_batch(b->st, b->ins, n, b->results, left > 0 ? (int)left : 1);
	if (err == CH_ERR_DB)
		log_msg(LOG_INFO, "a batch of %zu deliveries failed (SQLSTATE %s): storing each on its own",
		    n, store_sqlstate(b->st));
	for (i = 0; i < n; i++) {
		if (err == CH_ERR_DB) {
			store_one(b, b->taken[i]);
			continue;
		}
		b->taken[i]->err = err;
		*b->taken[i]->res = b->results[i];
		memcpy(b->taken[i]->sqlstate, store_sqlstate(b->st), 6);
	}
}

/* The leader's work on b->taken[0..n-1], without mu. */
static void
run(struct batch *b, size_t n)
{
	struct item *first = b->taken[0];

	if (first->in == NULL) {
		first->fn(b->st, first->arg);
		first->err = CH_OK;
	} else {
		metrics_batch(b->metrics, n);
		if (n == 1)
			store_one(b, first);
		else
			run_many(b, n);
	}
	metrics_reconnects(b->metrics, store_reconnects(b->st) - b->reconnects);
	b->reconnects = store_reconnects(b->st);
}

/* Takes `it`, not yet taken, out of the queue (under mu). */
static void
unqueue(struct batch *b, struct item *it)
{
	struct item **pp = &b->head;

	while (*pp != it)
		pp = &(*pp)->next;
	*pp = it->next;
	if (b->tail == &it->next)
		b->tail = pp;
}

/* Wakes the thread of the item at the head of the queue, if any, to lead the next batch (under mu). */
static void
wake_next_leader(struct batch *b)
{
	if (b->head != NULL)
		pthread_cond_signal(&b->head->cv);
}

/*
 * Queues `it` and returns true when its batch has run, leading batches while
 * none runs. With `until` (CLOCK_MONOTONIC), gives up and returns false when
 * its turn has not come by then.
 */
static bool
submit(struct batch *b, struct item *it, const struct timespec *until)
{
	size_t i, n;

	pthread_mutex_lock(&b->mu);
	it->next = NULL;
	*b->tail = it;
	b->tail = &it->next;
	while (!it->done) {
		if (b->leading) {
			if (until == NULL || it->taken)
				pthread_cond_wait(&it->cv, &b->mu);
			else if (pthread_cond_timedwait(&it->cv, &b->mu, until) == ETIMEDOUT && !it->taken &&
			    !it->done) {
				unqueue(b, it);
				if (!b->leading)
					wake_next_leader(b); /* the turn this thread was woken for */
				pthread_mutex_unlock(&b->mu);
				return false;
			}
			continue;
		}
		b->leading = true;
		n = take(b);
		pthread_mutex_unlock(&b->mu);
		run(b, n);
		pthread_mutex_lock(&b->mu);
		/*
		 * The next leader first: the connection idles until it runs, and the threads
		 * woken for their answers would otherwise take the CPUs before it.
		 */
		b->leading = false;
		wake_next_leader(b);
		for (i = 0; i < n; i++) {
			b->taken[i]->done = true;
			pthread_cond_signal(&b->taken[i]->cv);
		}
	}
	pthread_mutex_unlock(&b->mu);
	return true;
}

/*
 * submit() with the item's condition variable made and destroyed around it. A
 * timed wait whose condition variable cannot be made gives up at once.
 */
static bool
submit_item(struct batch *b, struct item *it, const struct timespec *until)
{
	bool ran;

	if (!item_init(it, until))
		return false;
	ran = submit(b, it, until);
	pthread_cond_destroy(&it->cv);
	return ran;
}

enum ch_err
batch_ingest(struct batch *b, const struct ingest *in, struct ingest_result *res, char sqlstate[6])
{
	struct item it = { .in = in, .res = res, .sqlstate = sqlstate };

	it.deadline = (long long)mono_ms() + (in->budget_ms > 0 ? in->budget_ms : b->budget_ms);
	sqlstate[0] = '\0';
	(void)submit_item(b, &it, NULL);
	return it.err;
}

void
batch_solo(struct batch *b, batch_solo_fn fn, void *arg)
{
	struct item it = { .fn = fn, .arg = arg };

	(void)submit_item(b, &it, NULL);
}

bool
batch_solo_within(struct batch *b, batch_solo_fn fn, void *arg, int wait_ms)
{
	struct item it = { .fn = fn, .arg = arg };
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	return submit_item(b, &it, &until);
}
