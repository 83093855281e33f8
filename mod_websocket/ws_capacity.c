/*
 * ws_capacity.c -- how many WebSockets the server may hold (see
 * ws_capacity.h).
 *
 * What a WebSocket costs depends on where it runs, and the default limit
 * follows from the MPM's own settings, keeping a quarter of the capacity
 * for everything else the site serves:
 *
 *   thread per connection (prefork, worker, WebSocketIOMode Thread): one
 *     of MaxRequestWorkers' threads (prefork: processes) for the
 *     connection's whole life; past MaxRequestWorkers, every page waits.
 *   event loops (mpm_event): no thread, but mpm_event admits at most
 *     ThreadsPerChild + idle threads x AsyncRequestWorkerFactor
 *     connections per child (connections_above_limit() in event.c), and a
 *     WebSocket is one; WebSockets leave the threads idle, so a child
 *     holds ThreadsPerChild x (1 + AsyncRequestWorkerFactor), and the
 *     server MaxRequestWorkers / ThreadsPerChild children of those.
 *   over HTTP/2: one of mod_http2's workers of the child for the stream's
 *     life (H2MaxWorkers, by default 3/2 ThreadsPerChild); past them every
 *     HTTP/2 request of that child waits.  At most half of them.
 *
 * AsyncRequestWorkerFactor and H2MaxWorkers are not exposed by any API:
 * they are read from the configuration tree (ap_conftree), where the
 * MPM's and mod_http2's own parsers read them.
 */
#include <pthread.h>
#include <stdlib.h>

#include "apr_strings.h"
#include "ap_mpm.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"

#include "ws_private.h"
#include "ws_capacity.h"
#include "ws_slots.h"
#include "ws_stats.h"

/* The share of the capacity kept for pages: a quarter. */
#define WS_RESERVE_DIVISOR 4

/* How often, at most, the limit being reached is logged at warn. */
#define WS_WARN_EVERY apr_time_from_sec(60)

typedef struct {
    apr_uint32_t open;          /* this child's WebSockets (atomic) */
} region_t;

typedef struct {
    apr_time_t last_warn;       /* atomic */
} header_t;

#define SLOTS_KEY "mod_websocket:capacity"

static ws_slots_t *table;
static int limit;               /* server-wide; 0: none */
static const char *limit_why;   /* how it was reached, for the log */
static const char *raise_hint;  /* what an admin raises */
static int h2_limit;            /* WebSockets over HTTP/2 per child */
static const char *h2_why;
static apr_uint32_t h2_open;    /* this child's (atomic) */

/* The last argument of a directive anywhere in the configuration read
 * (<IfModule> contents that applied are in the tree, the others not). */
static const char *directive_arg(const ap_directive_t *d, const char *name)
{
    const char *found = NULL;

    for (; d; d = d->next) {
        if (!strcasecmp(d->directive, name)) {
            found = d->args;
        }
        if (d->first_child) {
            const char *inner = directive_arg(d->first_child, name);

            if (inner) {
                found = inner;
            }
        }
    }
    return found;
}

/* A directive's number (what its own parser takes: the integer part), or
 * dflt if it is not set. */
static int directive_number(const char *name, int dflt)
{
    const char *arg = directive_arg(ap_conftree, name);
    double v;

    if (!arg) {
        return dflt;
    }
    v = strtod(arg, NULL);
    return v >= 1 ? (int)v : dflt;
}

apr_status_t ws_capacity_post_config(apr_pool_t *ptemp, server_rec *s,
                                     int loops)
{
    int threads = 0, daemons = 0, capacity, factor = 0, reserve, h2max;
    apr_status_t rv;

    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    ap_mpm_query(AP_MPMQ_MAX_DAEMONS, &daemons);
    threads = threads < 1 ? 1 : threads;
    daemons = daemons < 1 ? 1 : daemons;
    if (loops) {
        /* mpm_event's default factor is 2. */
        factor = directive_number("AsyncRequestWorkerFactor", 2);
        capacity = daemons * threads * (1 + factor);
        limit_why = apr_psprintf(s->process->pool,
                                 "mpm_event admits %d connections: "
                                 "ThreadsPerChild %d x (1 + "
                                 "AsyncRequestWorkerFactor %d) in each of "
                                 "%d children", capacity, threads, factor,
                                 daemons);
        raise_hint = "AsyncRequestWorkerFactor or MaxRequestWorkers";
    }
    else {
        capacity = daemons * threads;
        limit_why = apr_psprintf(s->process->pool,
                                 "one thread per WebSocket, of "
                                 "MaxRequestWorkers %d", capacity);
        raise_hint = "MaxRequestWorkers";
    }
    reserve = capacity / WS_RESERVE_DIVISOR;
    reserve = reserve < 1 ? 1 : reserve;
    if (ws_max_connections == WS_CAPACITY_AUTO) {
        limit = capacity > reserve ? capacity - reserve : 1;
        limit_why = apr_psprintf(s->process->pool, "WebSocketMaxConnections "
                                 "auto: %d, keeping %d of the %d for pages "
                                 "(%s)", limit, reserve, capacity, limit_why);
    }
    else {
        limit = ws_max_connections;
        limit_why = apr_psprintf(s->process->pool,
                                 "WebSocketMaxConnections %d (%s)", limit,
                                 limit_why);
    }

    h2_limit = 0;
    if (ap_find_linked_module("mod_http2.c")) {
        h2max = directive_number("H2MaxWorkers", threads * 3 / 2);
        h2_limit = h2max / 2 < 1 ? 1 : h2max / 2;
        h2_why = apr_psprintf(s->process->pool, "half of H2MaxWorkers %d: "
                              "a WebSocket over HTTP/2 keeps a worker",
                              h2max);
    }

    rv = ws_slots_attach(s, SLOTS_KEY, sizeof(header_t), sizeof(region_t),
                         &table);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, WSLOGNO(00070)
                     "cannot create the shared count of WebSockets");
        return rv;
    }
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, WSLOGNO(00071)
                     "this configuration holds %s WebSockets: %s%s%s%s",
                     limit ? apr_itoa(ptemp, limit) : "any number of",
                     limit ? limit_why : "WebSocketMaxConnections 0",
                     h2_limit ? "; over HTTP/2, " : "",
                     h2_limit ? apr_itoa(ptemp, h2_limit) : "",
                     h2_limit ? apr_psprintf(ptemp, " per child (%s)",
                                             h2_why) : "");
    }
    return APR_SUCCESS;
}

int ws_capacity_limit(const char **why)
{
    *why = limit_why;
    return limit;
}

static void sum_open(void *region, void *baton)
{
    *(int *)baton += (int)__atomic_load_n(&((region_t *)region)->open,
                                          __ATOMIC_RELAXED);
}

/* Log a refusal at warn, at most once a minute for the whole server. */
static void warn_full(request_rec *r, const char *what)
{
    header_t *h = ws_slots_header(table);
    apr_time_t now = apr_time_now();
    apr_time_t last = __atomic_load_n(&h->last_warn, __ATOMIC_RELAXED);

    if (now - last < WS_WARN_EVERY
        || !__atomic_compare_exchange_n(&h->last_warn, &last, now, 0,
                                        __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED)) {
        return;
    }
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, WSLOGNO(00072)
                  "WebSocket capacity reached: %s; new upgrades get 503 "
                  "(with Retry-After) until some close, so that the site's "
                  "pages keep being served (logged at most once a minute; "
                  "see WebSocketsRefusedCapacity on the server-status "
                  "page)", what);
}

/* --- WebSockets per HTTP/2 connection (this child's) --- */

typedef struct h2conn {
    struct h2conn *next;
    const void *c1;
    int open;
} h2conn_t;

static pthread_mutex_t h2_lock = PTHREAD_MUTEX_INITIALIZER;
static h2conn_t *h2_conns;      /* (h2_lock) those holding WebSockets */

/* One more WebSocket on the HTTP/2 connection c1, if it has room. */
static int h2_conn_acquire(const void *c1)
{
    h2conn_t *e;
    int ok = 1;

    pthread_mutex_lock(&h2_lock);
    for (e = h2_conns; e && e->c1 != c1; e = e->next) {
        continue;
    }
    if (!e && (e = calloc(1, sizeof(*e))) != NULL) {
        e->c1 = c1;
        e->next = h2_conns;
        h2_conns = e;
    }
    if (e && e->open < WS_CAPACITY_H2_PER_CONNECTION) {
        e->open++;
    }
    else {
        ok = 0;
    }
    pthread_mutex_unlock(&h2_lock);
    return ok;
}

static void h2_conn_release(const void *c1)
{
    h2conn_t **pe, *e;

    pthread_mutex_lock(&h2_lock);
    for (pe = &h2_conns; (e = *pe) != NULL; pe = &e->next) {
        if (e->c1 == c1) {
            if (--e->open == 0) {
                *pe = e->next;
                free(e);
            }
            break;
        }
    }
    pthread_mutex_unlock(&h2_lock);
}

/* --- acquire, release --- */

static void release_h2(const void *c1)
{
    if (h2_limit) {
        __atomic_sub_fetch(&h2_open, 1, __ATOMIC_RELAXED);
    }
    h2_conn_release(c1);
}

ws_capacity_e ws_capacity_acquire(request_rec *r, ws_capacity_hold_t *hold)
{
    region_t *mine = table ? ws_slots_mine(table) : NULL;
    const void *c1 = r->connection->master;
    int open = 0;

    hold->counted = 0;
    hold->h2_conn = NULL;
    if (c1) {
        if (!h2_conn_acquire(c1)) {
            ws_stats_add(WS_STAT_CAPACITY_REFUSED, 1);
            warn_full(r, apr_psprintf(r->pool, "%d WebSockets on one HTTP/2 "
                                      "connection: mod_http2 runs few of a "
                                      "connection's streams at once, and "
                                      "each WebSocket keeps one running",
                                      WS_CAPACITY_H2_PER_CONNECTION));
            return WS_CAPACITY_H2_CONN_FULL;
        }
        if (h2_limit
            && (int)__atomic_add_fetch(&h2_open, 1, __ATOMIC_RELAXED)
               > h2_limit) {
            __atomic_sub_fetch(&h2_open, 1, __ATOMIC_RELAXED);
            h2_conn_release(c1);
            ws_stats_add(WS_STAT_CAPACITY_REFUSED, 1);
            warn_full(r, apr_psprintf(r->pool, "%d WebSockets over HTTP/2 "
                                      "in this child, %s (raise "
                                      "H2MaxWorkers)", h2_limit, h2_why));
            return WS_CAPACITY_H2_FULL;
        }
        hold->h2_conn = c1;
    }
    if (mine) {
        __atomic_add_fetch(&mine->open, 1, __ATOMIC_RELAXED);
        if (limit > 0) {
            ws_slots_each(table, sum_open, &open);
        }
        if (limit > 0 && open > limit) {
            __atomic_sub_fetch(&mine->open, 1, __ATOMIC_RELAXED);
            if (c1) {
                release_h2(c1);
                hold->h2_conn = NULL;
            }
            ws_stats_add(WS_STAT_CAPACITY_REFUSED, 1);
            warn_full(r, apr_psprintf(r->pool, "%d open server-wide, %s; "
                                      "raise %s, or set "
                                      "WebSocketMaxConnections",
                                      open - 1, limit_why, raise_hint));
            return WS_CAPACITY_FULL;
        }
        hold->counted = 1;
    }
    return WS_CAPACITY_OK;
}

void ws_capacity_release(const ws_capacity_hold_t *hold)
{
    region_t *mine = table ? ws_slots_mine(table) : NULL;

    if (hold->h2_conn) {
        release_h2(hold->h2_conn);
    }
    if (hold->counted && mine) {
        __atomic_sub_fetch(&mine->open, 1, __ATOMIC_RELAXED);
    }
}
