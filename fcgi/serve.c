/*
 * The FastCGI process model: a parent that owns the listening socket, forks
 * workers, restarts those that die, drains the spool and reloads on SIGHUP;
 * workers that accept, answer and finish in-flight requests on SIGTERM, each
 * with [server] requests_in_flight request threads that share the worker's
 * one database connection through a batcher (group commit, batch.c). With
 * -w 0 (under mod_fcgid) one process with one request thread does all of it
 * except the forking.
 */
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcgiapp.h>

#include "core/clock.h"
#include "ingest/batch.h"
#include "core/log.h"
#include "core/metrics.h"
#include "cli/prune.h"
#include "ingest/request.h"
#include "serve.h"
#include "ingest/spool.h"
#include "ingest/store.h"
#include "vendors/vendor.h"

#define MAX_WORKERS 256
#define STOP_GRACE_S 30
#define DRAIN_BUDGET_MS 500               /* the longest the parent drains before it looks at its workers */
#define BATCH_MAX_COUNT 32                /* deliveries in one transaction */
#define BATCH_MAX_BYTES (4 * 1024 * 1024) /* of their bodies and rows (the first always goes) */
#define KEPT_CHECK_MS 20                  /* see release_kept() */

static volatile sig_atomic_t got_term, got_hup;
static struct metrics *metrics; /* shared by all workers */
static int nworkers;
static int stop_fd = -1; /* a worker's pipe, written on SIGTERM: wakes every request thread */
static pthread_mutex_t accept_lock = PTHREAD_MUTEX_INITIALIZER; /* as libfcgi's threaded example */

static void
on_signal(int sig)
{
	if (sig == SIGTERM || sig == SIGINT) {
		got_term = 1;
		if (stop_fd >= 0)
			(void)!write(stop_fd, "", 1);
	} else if (sig == SIGHUP)
		got_hup = 1;
}

/* What the request threads of one process share; all borrowed. */
struct worker {
	int listen_fd;
	int wake_fd; /* readable once SIGTERM arrived */
	const struct config *cfg;
	struct batch *batch;
	bool drains;      /* -w 0: this process replays the spool too */
	int free_threads; /* request threads waiting on the listening socket (atomic) */
};

static int64_t
now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const char *
fcgi_param(void *ctx, const char *name)
{
	return FCGX_GetParam(name, ((FCGX_Request *)ctx)->envp);
}

/* Reads exactly the declared body. */
static enum ch_err
read_body(FCGX_Request *fr, struct request *req)
{
	char extra;
	int n;

	if ((req->body = malloc(req->content_length + 1)) == NULL)
		return CH_ERR_NOMEM;
	while (req->body_len < req->content_length) {
		n = FCGX_GetStr(req->body + req->body_len, (int)(req->content_length - req->body_len), fr->in);
		if (n <= 0)
			break;
		req->body_len += n;
	}
	req->body[req->body_len] = '\0';
	if (req->body_len < req->content_length) {
		snprintf(req->error, sizeof(req->error), "body shorter than Content-Length");
		return req->err = CH_ERR_BAD_REQUEST;
	}
	if (FCGX_GetStr(&extra, 1, fr->in) > 0) {
		snprintf(req->error, sizeof(req->error), "body longer than Content-Length");
		return req->err = CH_ERR_BAD_REQUEST;
	}
	return CH_OK;
}

static const char *
reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

static void
respond_as(FCGX_Request *fr, int status, const char *type, const char *allow, const char *body)
{
	FCGX_FPrintF(fr->out,
	    "Status: %d %s\r\nContent-Type: %s\r\n"
	    "Cache-Control: no-store\r\n",
	    status, reason_phrase(status), type);
	if (status == 503)
		FCGX_FPrintF(fr->out, "Retry-After: 30\r\n");
	if (status == 401)
		FCGX_FPrintF(fr->out, "WWW-Authenticate: Bearer\r\n");
	if (status == 405 && allow != NULL && *allow)
		FCGX_FPrintF(fr->out, "Allow: %s\r\n", allow);
	FCGX_FPrintF(fr->out, "\r\n%s\n", body);
}

static void
respond(FCGX_Request *fr, int status, const char *body)
{
	respond_as(fr, status, "application/json", NULL, body);
}

/* GET /hooks/-/metrics: Prometheus text, summed over all workers. */
static void
serve_metrics(FCGX_Request *fr, const struct config *cfg)
{
	char *text = metrics_render(metrics, spool_depth(cfg->spool_dir), nworkers,
	    nworkers > 0 ? cfg->requests_in_flight : 1);

	respond_as(fr, ch_err_http_status(text ? CH_OK : CH_ERR_NOMEM), "text/plain; version=0.0.4", NULL,
	    text ? text : "");
	free(text);
}

static void
ping(struct store *st, void *arg)
{
	*(bool *)arg = store_ping(st) == CH_OK;
}

/* GET /hooks/-/health: the database answers and the spool is not backing up (health_verdict()). */
static void
health(FCGX_Request *fr, const struct config *cfg, struct batch *b)
{
	enum ch_err err;
	char *body = NULL;
	bool up = false;

	batch_solo(b, ping, &up);
	err = health_verdict(up, spool_depth(cfg->spool_dir), &body);
	respond(fr, ch_err_http_status(body != NULL ? err : CH_ERR_NOMEM), body != NULL ? body : "{}");
	free(body);
}

static void
log_request(const struct request *req, int status, double ms)
{
	char ev[96];

	log_escape(req->event_name ? req->event_name : req->event ? req->event : "-", ev, sizeof(ev));
	log_msg(LOG_INFO, "request: source=%s event=%s outcome=%s status=%d ms=%.1f delivery=%lld",
	    req->source ? req->source->name : "-", ev,
	    req->err == CH_OK || req->err == CH_ERR_BAD_BODY ? outcome_name(req->outcome) : "-", status, ms,
	    (long long)req->delivery_id);
}

static void
handle(FCGX_Request *fr, const struct config *cfg, struct batch *b)
{
	struct request req;
	double t0 = mono_ms();
	char *body, allow[64];
	int status;

	request_init(&req, cfg, fcgi_param, fr);
	req.received_usec = now_usec();
	if (request_route(&req) == CH_OK && req.special) {
		if (req.special == SPECIAL_HEALTH)
			health(fr, cfg, b);
		else
			serve_metrics(fr, cfg);
		request_free(&req);
		return;
	}
	if (req.err == CH_OK && read_body(fr, &req) == CH_OK && request_auth(&req) == CH_OK)
		request_process(&req, b);
	status = request_status(&req);
	body = request_body(&req);
	request_allow(&req, allow, sizeof(allow));
	respond_as(fr, status, "application/json", allow, body ? body : "{}");
	log_request(&req, status, mono_ms() - t0);
	metrics_observe(metrics, req.source ? req.source->name : NULL, req.vendor ? req.vendor->name : NULL,
	    req.err == CH_OK || req.err == CH_ERR_BAD_BODY ? outcome_name(req.outcome) : "-", status,
	    (mono_ms() - t0) / 1e3);
	free(body);
	request_free(&req);
}

/*
 * Replays the spool for at most DRAIN_BUDGET_MS, so that the caller keeps
 * reaping workers, answering signals or serving requests; *st is connected on
 * first use. True when files are left that the next call can take at once
 * (the budget ran out, nothing failed).
 */
static bool
drain_spool(const struct config *cfg, struct store **st)
{
	struct spool_drained d;

	if (spool_depth(cfg->spool_dir) <= 0)
		return false;
	if (*st == NULL && (*st = store_new(cfg)) == NULL)
		return false;
	spool_drain(cfg, *st, DRAIN_BUDGET_MS, &d);
	if (d.replayed > 0)
		log_msg(LOG_INFO, "replayed %d spooled requests", d.replayed);
	return d.more;
}

/* The spool's replay in a -w 0 process, with the connection to itself. */
static void
drain_here(struct store *st, void *arg)
{
	(void)drain_spool(arg, &st);
}

/*
 * A thread on a connection the web server keeps open (fastcgi_keep_conn) gives it up when a new connection
 * waits and no thread waits on the listening socket, both after each request and while it waits for the
 * next: otherwise the web server's idle pools could hold every thread, and the new connection would wait for
 * their timeout; and under a load of more connections than threads the web server, which reuses its kept
 * connections first, would keep feeding them while new connections waited behind. The web server drops the
 * closed connection from its pool (a request it had just sent on it is sent again: see the nginx snippet).
 */
static void
release_kept(struct worker *w, FCGX_Request *fr)
{
	struct pollfd l = { .fd = w->listen_fd, .events = POLLIN };

	if (__atomic_load_n(&w->free_threads, __ATOMIC_RELAXED) > 0 || poll(&l, 1, 0) != 1)
		return;
	close(fr->ipcFd); /* its streams went at FCGX_Finish_r() */
	fr->ipcFd = -1;
}

/*
 * One request thread: accepts and answers requests until SIGTERM, which is deliverable only while it waits,
 * so a request in flight is finished first; the thread that takes the signal wakes the others through
 * w->wake_fd. With w->drains, it also replays the spool (under the spool's lock) at start-up and at most once
 * a second between requests: there is no parent to do it. On a kept connection it looks every KEPT_CHECK_MS
 * whether to give it up (release_kept()).
 */
static void *
request_thread(void *arg)
{
	struct worker *w = arg;
	struct pollfd pfd[2] = { { .events = POLLIN }, { .fd = w->wake_fd, .events = POLLIN } };
	struct timespec tick = { .tv_sec = 1 }, kept_tick = { .tv_nsec = KEPT_CHECK_MS * 1000000L };
	FCGX_Request fr;
	sigset_t open_mask;
	time_t drained = 0;
	int rc;

	sigemptyset(&open_mask);
	if (FCGX_InitRequest(&fr, w->listen_fd, 0) != 0)
		return NULL;
	while (!got_term) {
		if (w->drains && time(NULL) != drained) {
			batch_solo(w->batch, drain_here, (void *)w->cfg);
			drained = time(NULL);
		}
		/*
		 * Wait, with SIGTERM deliverable, for the next request: on the listening socket, or on
		 * the connection nginx kept open (fastcgi_keep_conn).
		 */
		if (fr.ipcFd >= 0) {
			pfd[0].fd = fr.ipcFd;
			rc = ppoll(pfd, 2, &kept_tick, &open_mask);
			if (rc == 0)
				release_kept(w, &fr);
		} else {
			pfd[0].fd = w->listen_fd;
			__atomic_add_fetch(&w->free_threads, 1, __ATOMIC_RELAXED);
			rc = ppoll(pfd, 2, w->drains ? &tick : NULL, &open_mask);
			__atomic_sub_fetch(&w->free_threads, 1, __ATOMIC_RELAXED);
		}
		if (rc <= 0 || got_term)
			continue;
		/*
		 * Only a new connection's accept() is serialized; on a kept connection FCGX_Accept_r()
		 * reads this thread's own socket, and holding the lock there would make every thread
		 * wait behind one slow request.
		 */
		if (fr.ipcFd >= 0) {
			rc = FCGX_Accept_r(&fr);
		} else {
			pthread_mutex_lock(&accept_lock);
			rc = FCGX_Accept_r(&fr);
			pthread_mutex_unlock(&accept_lock);
		}
		if (rc < 0)
			continue; /* another thread or worker took it */
		handle(&fr, w->cfg, w->batch);
		FCGX_Finish_r(&fr);
		/* a connection waiting with no thread free goes before the next request on this one */
		if (fr.ipcFd >= 0)
			release_kept(w, &fr);
	}
	return NULL;
}

/* Starts n request threads and waits for them all (until SIGTERM); false when none could start. */
static bool
run_threads(struct worker *w, int n)
{
	pthread_t tids[64];
	int i, started = 0;

	/*
	 * glibc gives threads malloc arenas of their own, up to 8 per CPU, and
	 * each keeps what it freed; two are enough for threads that mostly wait
	 * for their batch, and keep the worker's memory smaller.
	 */
	mallopt(M_ARENA_MAX, 2);
	for (i = 0; i < n && i < 64; i++)
		if (pthread_create(&tids[started], NULL, request_thread, w) == 0)
			started++;
		else
			log_msg(LOG_WARNING, "could not start a request thread: %d of %d running", started, n);
	for (i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	return started > 0;
}

/*
 * Answers requests with `threads` request threads and one database connection until SIGTERM; with `drains`,
 * replays the spool too (see request_thread()). Returns the exit status.
 */
static int
serve_requests(int listen_fd, const struct config *cfg, int threads, bool drains)
{
	struct store *st = store_new(cfg);
	struct worker w = { .listen_fd = listen_fd, .cfg = cfg, .drains = drains };
	int wake[2];
	bool ok;

	if (st == NULL || pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		store_free(st);
		return 1;
	}
	if ((w.batch = batch_new(st, BATCH_MAX_COUNT, BATCH_MAX_BYTES, cfg->delivery_budget_ms, metrics)) ==
	    NULL) {
		store_free(st);
		close(wake[0]);
		close(wake[1]);
		return 1;
	}
	w.wake_fd = wake[0];
	stop_fd = wake[1];
	ok = run_threads(&w, threads);
	stop_fd = -1;
	batch_free(w.batch);
	close(wake[0]);
	close(wake[1]);
	return ok ? 0 : 1;
}

static void
worker(int listen_fd, const struct config *cfg)
{
	_exit(serve_requests(listen_fd, cfg, cfg->requests_in_flight, false));
}

struct pool {
	pid_t pids[MAX_WORKERS];
	time_t started[MAX_WORKERS];
	int n;
	int listen_fd;
	struct config *cfg;
};

static void
spawn(struct pool *p, int slot)
{
	pid_t pid = fork();

	if (pid < 0) {
		log_msg(LOG_ERROR, "could not fork worker: %s", strerror(errno));
		p->pids[slot] = 0;
		return;
	}
	if (pid == 0)
		worker(p->listen_fd, p->cfg);
	p->pids[slot] = pid;
	p->started[slot] = time(NULL);
}

static int
slot_of(const struct pool *p, pid_t pid)
{
	int i;

	for (i = 0; i < p->n; i++)
		if (p->pids[i] == pid)
			return i;
	return -1;
}

/* Reaps workers; restarts those that died unless stopping. */
static void
reap(struct pool *p, bool restart)
{
	pid_t pid;
	int status, slot;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((slot = slot_of(p, pid)) < 0)
			continue;
		p->pids[slot] = 0;
		if (WIFSIGNALED(status))
			log_msg(LOG_WARNING, "worker %d was terminated by signal %d", (int)pid,
			    WTERMSIG(status));
		else if (WEXITSTATUS(status) != 0)
			log_msg(LOG_WARNING, "worker %d exited with status %d", (int)pid, WEXITSTATUS(status));
		if (restart) {
			if (time(NULL) - p->started[slot] < 1)
				sleep(1); /* a worker that dies at once must not spin */
			spawn(p, slot);
		}
	}
}

static void
signal_all(const struct pool *p, int sig)
{
	int i;

	for (i = 0; i < p->n; i++)
		if (p->pids[i] > 0)
			kill(p->pids[i], sig);
}

static int
alive(const struct pool *p)
{
	int i, n = 0;

	for (i = 0; i < p->n; i++)
		n += p->pids[i] > 0;
	return n;
}

/* SIGTERM to every worker, repeated so none stays in accept; SIGKILL after the grace period. */
static void
stop_all(struct pool *p)
{
	time_t until = time(NULL) + STOP_GRACE_S;

	while (alive(p) > 0 && time(NULL) < until) {
		signal_all(p, SIGTERM);
		usleep(100 * 1000);
		reap(p, false);
	}
	if (alive(p) > 0) {
		log_msg(LOG_WARNING, "workers still busy after %d s: killing them", STOP_GRACE_S);
		signal_all(p, SIGKILL);
		while (alive(p) > 0 && waitpid(-1, NULL, 0) > 0)
			reap(p, false);
	}
}

/* SIGHUP: a new config that loads cleanly replaces the old one, worker by worker. */
static void
reload(struct pool *p)
{
	struct config *cfg = vendor_bind_sources(config_load(p->cfg->path));
	size_t i;

	if (cfg == NULL || cfg->nproblems > 0) {
		for (i = 0; cfg != NULL && i < cfg->nproblems; i++)
			log_msg(LOG_ERROR, "%s", cfg->problems[i]);
		log_msg(LOG_ERROR, "configuration not reloaded: keeping the old one");
		config_free(cfg);
		return;
	}
	config_free(p->cfg);
	p->cfg = cfg;
	signal_all(p, SIGTERM);
	log_msg(LOG_INFO, "configuration reloaded: restarting workers");
}

/* Blocks the signals serve handles, so that they arrive only where it waits for them; *mask: those. */
static void
block_signals(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGHUP);
	sigaddset(mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, mask, NULL);
}

static int
run_pool(struct pool *p)
{
	struct store *st = NULL;
	sigset_t mask;
	int i, sig;
	bool more;

	block_signals(&mask);
	for (i = 0; i < p->n; i++)
		spawn(p, i);
	while (!got_term) {
		prune_partitions_tick(p->cfg);
		more = drain_spool(p->cfg, &st);
		if ((sig = sigtimedwait(&mask, NULL, &(struct timespec){ .tv_sec = more ? 0 : 1 })) > 0)
			on_signal(sig);
		reap(p, !got_term);
		if (got_hup) {
			got_hup = 0;
			reload(p);
		}
	}
	stop_all(p);
	store_free(st);
	return 0;
}

/*
 * -w 0: this process answers requests itself, for a spawner that starts, counts and retires its
 * processes (Apache's mod_fcgid): no workers, no parent; SIGHUP is ignored (the spawner starts new
 * processes with the new config).
 */
static int
run_single(int listen_fd, const struct config *cfg)
{
	sigset_t mask;

	block_signals(&mask);
	log_msg(LOG_INFO, "serving as a single process, %zu sources", cfg->nsources);
	return serve_requests(listen_fd, cfg, 1, true);
}

/* The listening socket: -s, systemd's LISTEN_FDS, or fd 0 from spawn-fcgi. */
static int
open_listener(const char *spec)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int type = 0, fd;
	socklen_t len = sizeof(type);

	if (spec != NULL) {
		if (!strncmp(spec, "unix:", 5)) {
			unlink(spec + 5);
			fd = FCGX_OpenSocket(spec + 5, 128);
			if (fd >= 0 && chmod(spec + 5, 0660) != 0)
				log_msg(LOG_WARNING, "could not chmod %s: %s", spec + 5, strerror(errno));
		} else
			fd = FCGX_OpenSocket(spec, 128);
		if (fd < 0)
			log_msg(LOG_ERROR, "could not listen on %s: %s", spec, strerror(errno));
		return fd;
	}
	if (pid != NULL && fds != NULL && atoi(pid) == getpid() && atoi(fds) >= 1)
		return 3;
	if (getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &len) == 0)
		return 0;
	log_msg(LOG_ERROR,
	    "no listening socket: use -s unix:PATH or -s HOST:PORT, or start under "
	    "systemd or spawn-fcgi");
	return -1;
}

int
serve(struct config *cfg, const char *listen_spec, int workers)
{
	struct pool p = { .n = workers, .cfg = cfg };
	struct sigaction sa = { .sa_handler = on_signal };
	int rc;

	if (geteuid() == 0) {
		log_msg(LOG_ERROR,
		    "refusing to run as root: start serve as an unprivileged user "
		    "(systemd User=, spawn-fcgi -u)");
		config_free(cfg);
		return 2;
	}
	if (FCGX_Init() != 0 || (p.listen_fd = open_listener(listen_spec)) < 0) {
		config_free(cfg);
		return 1;
	}
	fcntl(p.listen_fd, F_SETFL, fcntl(p.listen_fd, F_GETFL) | O_NONBLOCK);
	fcntl(p.listen_fd, F_SETFD, FD_CLOEXEC);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((metrics = metrics_create()) == NULL)
		log_msg(LOG_WARNING, "could not map shared memory: metrics disabled");
	nworkers = workers > 0 ? workers : 1;
	if (workers == 0)
		rc = run_single(p.listen_fd, cfg);
	else {
		log_msg(LOG_INFO, "serving with %d workers, %zu sources", workers, cfg->nsources);
		rc = run_pool(&p);
	}
	config_free(p.cfg);
	return rc;
}
