/*
 * Request counters by source, vendor, outcome and status, a latency
 * histogram and reconnects, kept in shared memory so a scrape from any worker
 * reports the sum over all of them. Updates are atomic adds. Also the health
 * check's policy.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <json-c/json.h>

#include "core/metrics.h"

#define SLOTS 128

static const char *const outcomes[] = { "stored", "duplicate", "ignored", "rejected", "spooled", "error", "-" };
#define NOUT (sizeof(outcomes) / sizeof(outcomes[0]))
static const int statuses[] = { 200, 400, 401, 404, 405, 413, 415, 500, 503 };
#define NSTATUS (sizeof(statuses) / sizeof(statuses[0]))
static const double buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5 };
#define NBUCKET (sizeof(buckets) / sizeof(buckets[0]))

struct slot {
	int used;
	char source[64];
	char vendor[24];
	uint64_t count[NOUT][NSTATUS];
};

struct metrics {
	int lock;
	uint64_t reconnects;
	uint64_t batches, batched; /* transactions of deliveries, and the deliveries in them */
	uint64_t le[NBUCKET + 1];  /* per bucket, not cumulative; last is +Inf */
	uint64_t sum_us;
	uint64_t total;
	struct slot slots[SLOTS];
};

struct metrics *
metrics_create(void)
{
	void *p = mmap(NULL, sizeof(struct metrics), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static size_t
index_of(const char *const *list, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n - 1; i++)
		if (!strcmp(list[i], s))
			return i;
	return n - 1;
}

/* The slot of a source, allocated on first use; NULL when all are taken. */
static struct slot *
find_slot(struct metrics *m, const char *source, const char *vendor)
{
	struct slot *s = NULL;
	size_t i;

	for (i = 0; i < SLOTS; i++)
		if (__atomic_load_n(&m->slots[i].used, __ATOMIC_ACQUIRE) && !strcmp(m->slots[i].source, source))
			return &m->slots[i];
	while (__atomic_exchange_n(&m->lock, 1, __ATOMIC_ACQUIRE))
		;
	for (i = 0; i < SLOTS && s == NULL; i++) {
		if (m->slots[i].used && !strcmp(m->slots[i].source, source))
			s = &m->slots[i];
		else if (!m->slots[i].used) {
			s = &m->slots[i];
			snprintf(s->source, sizeof(s->source), "%s", source);
			snprintf(s->vendor, sizeof(s->vendor), "%s", vendor);
			__atomic_store_n(&s->used, 1, __ATOMIC_RELEASE);
		}
	}
	__atomic_store_n(&m->lock, 0, __ATOMIC_RELEASE);
	return s;
}

void
metrics_observe(struct metrics *m, const char *source, const char *vendor, const char *outcome, int status,
    double seconds)
{
	struct slot *s;
	size_t b, st;

	if (m == NULL)
		return;
	for (b = 0; b < NBUCKET && seconds > buckets[b]; b++)
		;
	__atomic_add_fetch(&m->le[b], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&m->sum_us, (uint64_t)(seconds * 1e6), __ATOMIC_RELAXED);
	__atomic_add_fetch(&m->total, 1, __ATOMIC_RELAXED);
	for (st = 0; st < NSTATUS - 1 && statuses[st] != status; st++)
		;
	if (statuses[st] != status)
		st = 7; /* counted as 500 */
	if ((s = find_slot(m, source ? source : "-", vendor ? vendor : "-")) != NULL)
		__atomic_add_fetch(&s->count[index_of(outcomes, NOUT, outcome)][st], 1, __ATOMIC_RELAXED);
}

void
metrics_reconnects(struct metrics *m, unsigned long n)
{
	if (m != NULL && n > 0)
		__atomic_add_fetch(&m->reconnects, n, __ATOMIC_RELAXED);
}

void
metrics_batch(struct metrics *m, size_t n)
{
	if (m == NULL)
		return;
	__atomic_add_fetch(&m->batches, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&m->batched, n, __ATOMIC_RELAXED);
}

/* Appends to a growing string. */
static void put(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
put(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	if (*buf == NULL)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < *cap - *len)
			break;
		if ((p = realloc(*buf, *cap * 2 + n)) == NULL) {
			free(*buf);
			*buf = NULL;
			return;
		}
		*buf = p;
		*cap = *cap * 2 + n;
	}
	*len += n;
}

static void
render_requests(const struct metrics *m, char **b, size_t *len, size_t *cap)
{
	const struct slot *s;
	size_t i, o, st;
	uint64_t c;

	put(b, len, cap,
	    "# HELP callhook_requests_total Webhook requests answered, by source, vendor, "
	    "outcome and HTTP status.\n# TYPE callhook_requests_total counter\n");
	for (i = 0; i < SLOTS; i++) {
		s = &m->slots[i];
		if (!__atomic_load_n(&s->used, __ATOMIC_ACQUIRE))
			continue;
		for (o = 0; o < NOUT; o++)
			for (st = 0; st < NSTATUS; st++)
				if ((c = __atomic_load_n(&s->count[o][st], __ATOMIC_RELAXED)) > 0)
					put(b, len, cap,
					    "callhook_requests_total{source=\"%s\",vendor=\"%s\","
					    "outcome=\"%s\",status=\"%d\"} %llu\n",
					    s->source, s->vendor, outcomes[o], statuses[st],
					    (unsigned long long)c);
	}
}

static void
render_latency(const struct metrics *m, char **b, size_t *len, size_t *cap)
{
	uint64_t cum = 0;
	size_t i;

	put(b, len, cap,
	    "# HELP callhook_request_duration_seconds Time to answer a request.\n"
	    "# TYPE callhook_request_duration_seconds histogram\n");
	for (i = 0; i < NBUCKET; i++) {
		cum += __atomic_load_n(&m->le[i], __ATOMIC_RELAXED);
		put(b, len, cap, "callhook_request_duration_seconds_bucket{le=\"%g\"} %llu\n", buckets[i],
		    (unsigned long long)cum);
	}
	cum += __atomic_load_n(&m->le[NBUCKET], __ATOMIC_RELAXED);
	put(b, len, cap,
	    "callhook_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
	    "callhook_request_duration_seconds_sum %.6f\ncallhook_request_duration_seconds_count %llu\n",
	    (unsigned long long)cum, __atomic_load_n(&m->sum_us, __ATOMIC_RELAXED) / 1e6,
	    (unsigned long long)__atomic_load_n(&m->total, __ATOMIC_RELAXED));
}

char *
metrics_render(const struct metrics *m, long spool_depth, int workers, int in_flight)
{
	size_t len = 0, cap = 4096;
	char *b = malloc(cap);

	if (b == NULL)
		return NULL;
	b[0] = '\0';
	render_requests(m, &b, &len, &cap);
	render_latency(m, &b, &len, &cap);
	put(&b, &len, &cap,
	    "# HELP callhook_spool_depth Requests waiting in the spool.\n"
	    "# TYPE callhook_spool_depth gauge\ncallhook_spool_depth %ld\n"
	    "# HELP callhook_db_reconnects_total Database reconnects by all workers.\n"
	    "# TYPE callhook_db_reconnects_total counter\ncallhook_db_reconnects_total %llu\n"
	    "# HELP callhook_workers Worker processes configured.\n# TYPE callhook_workers gauge\n"
	    "callhook_workers %d\n",
	    spool_depth < 0 ? 0 : spool_depth,
	    (unsigned long long)__atomic_load_n(&m->reconnects, __ATOMIC_RELAXED), workers);
	put(&b, &len, &cap,
	    "# HELP callhook_requests_in_flight Request threads per worker.\n"
	    "# TYPE callhook_requests_in_flight gauge\ncallhook_requests_in_flight %d\n"
	    "# HELP callhook_batches_total Transactions that wrote deliveries (group commit).\n"
	    "# TYPE callhook_batches_total counter\ncallhook_batches_total %llu\n"
	    "# HELP callhook_batched_deliveries_total Deliveries written in those transactions.\n"
	    "# TYPE callhook_batched_deliveries_total counter\ncallhook_batched_deliveries_total %llu\n",
	    in_flight, (unsigned long long)__atomic_load_n(&m->batches, __ATOMIC_RELAXED),
	    (unsigned long long)__atomic_load_n(&m->batched, __ATOMIC_RELAXED));
	return b;
}

enum ch_err
health_verdict(bool db_up, long spool_depth, char **body)
{
	struct json_object *o = json_object_new_object(), *why = json_object_new_array();
	bool backlog = spool_depth > HEALTH_SPOOL_BACKLOG;
	const char *text;

	if (!db_up)
		json_object_array_add(why, json_object_new_string("database unreachable"));
	if (backlog)
		json_object_array_add(why, json_object_new_string("spool backlog"));
	json_object_object_add(o, "status", json_object_new_string(!db_up || backlog ? "unavailable" : "ok"));
	json_object_object_add(o, "spooled", json_object_new_int64(spool_depth < 0 ? 0 : spool_depth));
	if (!db_up || backlog)
		json_object_object_add(o, "reasons", why);
	else
		json_object_put(why);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	*body = text != NULL ? strdup(text) : NULL;
	json_object_put(o);
	return !db_up || backlog ? CH_ERR_UNAVAILABLE : CH_OK;
}
