/*
 * ws_session.c -- one WebSocket connection as httpd and handlers see it.
 *
 * Owns the lifetime, the request snapshot, the output queue, the timers and
 * the ws_api_t functions (see ws_session.h for who may touch what).  Must
 * not read from the network: ws_io.c does, and decides when to park.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apr_atomic.h"
#include "apr_strings.h"
#include "apr_lib.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_ssl.h"
#include "util_filter.h"

#include "ws_private.h"
#include "ws_session.h"
#include "ws_addrlimit.h"
#include "ws_capacity.h"
#include "ws_handshake.h"
#include "ws_stats.h"
#include "ws_registry.h"
#include "ws_loop.h"
#include "ws_utf8.h"

/* Output is handed to the filters in slices this big: the core output
 * filter only blocks above FlushMaxThreshold (64 KB by default), so a
 * slice passed while it holds nothing never blocks. */
#define WS_PUSH_SLICE (32 * 1024)

/* Most bytes one push writes: a peer that reads as fast as we write must
 * not keep its event loop to itself (the rest waits for the next turn,
 * which writability brings at once). */
#define WS_PUSH_BUDGET (512 * 1024)

/* Per-child connection numbers. */
static apr_uint32_t next_id;

/* --- a metadata bucket that makes buffering filters pass data on --- */

/*
 * Without a FLUSH, mod_ssl's coalescing filter keeps small writes and the
 * core output filter keeps less than 4 KB.  A FLUSH would make the core
 * block on a slow reader.  Any metadata bucket ends the coalescing run, and
 * the core's own non-blocking write is triggered afterwards (core_push), so
 * this bucket carries no data and means nothing else.
 */
static apr_status_t push_bucket_read(apr_bucket *b, const char **str,
                                     apr_size_t *len, apr_read_type_e block)
{
    (void)b; (void)block;
    *str = NULL;
    *len = 0;
    return APR_SUCCESS;
}

static const apr_bucket_type_t push_bucket_type = {
    "WS_PUSH", 5, APR_BUCKET_METADATA,
    apr_bucket_destroy_noop,
    push_bucket_read,
    apr_bucket_setaside_noop,
    apr_bucket_split_notimpl,
    apr_bucket_simple_copy
};

static apr_bucket *push_bucket_create(apr_bucket_alloc_t *list)
{
    apr_bucket *b = apr_bucket_alloc(sizeof(*b), list);

    APR_BUCKET_INIT(b);
    b->free = apr_bucket_free;
    b->list = list;
    b->length = 0;
    b->start = 0;
    b->data = NULL;
    b->type = &push_bucket_type;
    return b;
}

/* Ask the core output filter to write what it holds, without blocking
 * (what event.c does in write completion). */
static apr_status_t core_push(conn_rec *c)
{
    ap_filter_t *f = c->output_filters;

    while (f->next) {
        f = f->next;
    }
    return f->frec->filter_func.out_func(f, NULL);
}

/* --- the request snapshot --- */

typedef struct {
    char *p;                    /* next free byte */
} arena_t;

static const char *arena_str(arena_t *a, const char *s)
{
    char *out = a->p;
    size_t n = strlen(s) + 1;

    memcpy(out, s, n);
    a->p += n;
    return out;
}

static size_t str_size(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

typedef struct {
    size_t bytes;
    int n;
} tsize_t;

static int size_entry(void *data, const char *key, const char *val)
{
    tsize_t *ts = data;

    ts->bytes += strlen(key) + strlen(val) + 2;
    ts->n++;
    return 1;
}

typedef struct {
    arena_t *a;
    ws_kv_t *kv;
    int n;
} tcopy_t;

static int copy_entry(void *data, const char *key, const char *val)
{
    tcopy_t *tc = data;

    tc->kv[tc->n].key = arena_str(tc->a, key);
    tc->kv[tc->n].val = arena_str(tc->a, val);
    tc->n++;
    return 1;
}

/* Cookie: a=1; b="two" (RFC 6265 section 4.2.1), parsed in pool p. */
static apr_table_t *parse_cookies(apr_pool_t *p, const char *header)
{
    apr_table_t *t = apr_table_make(p, 4);
    char *copy, *pair, *last;

    if (!header) {
        return t;
    }
    copy = apr_pstrdup(p, header);
    for (pair = apr_strtok(copy, ";", &last); pair;
         pair = apr_strtok(NULL, ";", &last)) {
        char *eq, *val;
        size_t vlen;

        while (apr_isspace(*pair)) {
            pair++;
        }
        eq = strchr(pair, '=');
        if (!eq || eq == pair) {
            continue;
        }
        *eq = '\0';
        apr_collapse_spaces(pair, pair);
        val = eq + 1;
        while (apr_isspace(*val)) {
            val++;
        }
        vlen = strlen(val);
        while (vlen && apr_isspace(val[vlen - 1])) {
            val[--vlen] = '\0';
        }
        if (vlen >= 2 && val[0] == '"' && val[vlen - 1] == '"') {
            val[vlen - 1] = '\0';
            val++;
        }
        if (!apr_table_get(t, pair)) {
            apr_table_setn(t, pair, val);
        }
    }
    return t;
}

static const char *kv_get(const ws_kv_t *kv, int n, const char *key)
{
    int i;

    for (i = 0; key && i < n; i++) {
        if (!strcasecmp(kv[i].key, key)) {
            return kv[i].val;
        }
    }
    return NULL;
}

/* The elements of the client's Sec-WebSocket-Protocol list, copied as
 * strings into the arena: *n of them at *out.  Sizing pass when a is
 * NULL: returns the bytes needed. */
static size_t copy_offers(const char *list, arena_t *a, const char ***out,
                          int *n)
{
    const char *elem;
    size_t len, bytes = 0;
    int count = 0;

    while (list && ws_handshake_next_element(&list, &elem, &len)) {
        if (a) {
            char *copy = a->p;

            memcpy(copy, elem, len);
            copy[len] = '\0';
            a->p += len + 1;
            (*out)[count] = copy;
        }
        bytes += len + 1;
        count++;
    }
    *n = count;
    return bytes;
}

ws_session_t *ws_session_create(request_rec *r, const ws_dir_conf_t *conf,
                                ws_plugin_t *plugin)
{
    apr_table_t *cookies = parse_cookies(r->pool,
                                         apr_table_get(r->headers_in,
                                                       "Cookie"));
    const char *offered = apr_table_get(r->headers_in,
                                        "Sec-WebSocket-Protocol");
    const char **offers = NULL;
    size_t offer_bytes;
    int noffers;
    tsize_t hs = { 0, 0 }, cs = { 0, 0 }, os = { 0, 0 };
    tcopy_t tc;
    arena_t a;
    size_t size;
    ws_session_t *ws;

    apr_table_do(size_entry, &hs, r->headers_in, NULL);
    apr_table_do(size_entry, &cs, cookies, NULL);
    if (conf->options) {
        apr_table_do(size_entry, &os, conf->options, NULL);
    }
    offer_bytes = copy_offers(offered, NULL, NULL, &noffers);
    size = APR_ALIGN_DEFAULT(sizeof(*ws))
           + APR_ALIGN_DEFAULT(sizeof(ws_kv_t)
                               * (size_t)(hs.n + cs.n + os.n))
           + APR_ALIGN_DEFAULT(sizeof(const char *) * (size_t)noffers)
           + offer_bytes + hs.bytes + cs.bytes + os.bytes
           + str_size(r->uri) + str_size(r->args)
           + str_size(r->user) + str_size(r->useragent_ip);
    ws = calloc(1, size);
    if (!ws) {
        return NULL;
    }
    a.p = (char *)ws + APR_ALIGN_DEFAULT(sizeof(*ws));
    ws->headers = (ws_kv_t *)a.p;
    ws->cookies = ws->headers + hs.n;
    ws->options = ws->cookies + cs.n;
    a.p += APR_ALIGN_DEFAULT(sizeof(ws_kv_t) * (size_t)(hs.n + cs.n + os.n));
    offers = (const char **)a.p;
    a.p += APR_ALIGN_DEFAULT(sizeof(const char *) * (size_t)noffers);
    copy_offers(offered, &a, &offers, &ws->noffers);
    ws->offers = noffers ? offers : NULL;

    tc.a = &a;
    tc.kv = ws->headers;
    tc.n = 0;
    apr_table_do(copy_entry, &tc, r->headers_in, NULL);
    ws->nheaders = tc.n;
    tc.kv = ws->cookies;
    tc.n = 0;
    apr_table_do(copy_entry, &tc, cookies, NULL);
    ws->ncookies = tc.n;
    tc.kv = ws->options;
    tc.n = 0;
    if (conf->options) {
        apr_table_do(copy_entry, &tc, conf->options, NULL);
    }
    ws->noptions = tc.n;
    ws->path = arena_str(&a, r->uri);
    ws->query = r->args ? arena_str(&a, r->args) : NULL;
    ws->user = r->user ? arena_str(&a, r->user) : NULL;
    ws->remote_addr = arena_str(&a, r->useragent_ip);

    ws->refs = 1;
    pthread_mutex_init(&ws->lock, NULL);
    ws->id = apr_atomic_inc32(&next_id) + 1;
    ws->s = r->server;
    ws->plugin = plugin;
    ws_conf_settings(conf, &ws->set);
    ws->write_status = APR_SUCCESS;
    ws->io_state = WS_IO_HANDOFF;
    ws->addr_token = -1;
    return ws;
}

ws_session_t *ws_session_ref(ws_session_t *ws)
{
    apr_atomic_inc32(&ws->refs);
    return ws;
}

static void free_mail(ws_mail_t *m)
{
    ws_mail_t *next;

    for (; m; m = next) {
        next = m->next;
        free(m);
    }
}

/* The connection no longer counts: for its client address, nor for the
 * server's capacity.  Once, whoever calls first. */
static void release_admission(ws_session_t *ws)
{
    ws_addrlimit_release(__atomic_exchange_n(&ws->addr_token, -1,
                                             __ATOMIC_ACQ_REL));
    if (__atomic_exchange_n(&ws->capacity_held, 0, __ATOMIC_ACQ_REL)) {
        ws_capacity_release(ws->h2);
    }
}

void ws_session_unref(ws_session_t *ws)
{
    if (apr_atomic_dec32(&ws->refs) == 0) {
        release_admission(ws);
        free_mail(ws->mail_head);
        ws_conn_cleanup(&ws->engine);
        pthread_mutex_destroy(&ws->lock);
        free(ws);
    }
}

/* --- ownership --- */

static int is_owner(ws_session_t *ws)
{
    return ws->io_state == WS_IO_ACTIVE
           && apr_os_thread_equal(ws->owner, apr_os_thread_current());
}

ws_io_state_e ws_session_acquire(ws_session_t *ws)
{
    ws_io_state_e was;

    pthread_mutex_lock(&ws->lock);
    was = ws->io_state;
    if (was != WS_IO_DEAD) {
        ws->io_state = WS_IO_ACTIVE;
        ws->owner = apr_os_thread_current();
    }
    pthread_mutex_unlock(&ws->lock);
    return was;
}

/* --- the engine's callbacks --- */

static int engine_message(void *baton, int opcode, const uint8_t *data,
                          size_t len)
{
    ws_session_t *ws = baton;

    ws->last_msg = apr_time_now();
    ws_stats_add(WS_STAT_MSGS_IN, 1);
    return ws->plugin->h->on_message(ws, opcode == WS_OP_TEXT ? WS_MSG_TEXT
                                                               : WS_MSG_BINARY,
                                     (const char *)data, len);
}

/* Frames up to this size are built whole and copied once into a bucket of
 * their exact size (small ones come from the bucket allocator's free list,
 * not from malloc). */
#define WS_SMALL_FRAME 1024

/* From this size on, a message sent back while it is being delivered is
 * not copied (see engine_output). */
#define WS_TAKE_MIN (64 * 1024)

static int engine_output(void *baton, const uint8_t *hdr, size_t hlen,
                         const uint8_t *payload, size_t plen)
{
    ws_session_t *ws = baton;
    apr_bucket_alloc_t *list = ws->c->bucket_alloc;

    if (ws->write_status != APR_SUCCESS) {
        return -1;
    }
    /* Copied, never passed from here: only ws_session_push writes, in
     * slices that cannot block. */
    if (plen >= WS_TAKE_MIN) {
        /* Sending back the message being delivered (echo): take the
         * engine's buffer instead of copying it (and faulting in a fresh
         * copy of a message of megabytes, all in one turn).  Smaller ones
         * are copied: cheaper than a new buffer for the next message. */
        uint8_t *taken = ws_conn_take_message(&ws->engine, payload, plen);

        if (taken) {
            APR_BRIGADE_INSERT_TAIL(ws->obb, apr_bucket_heap_create(
                                                 (const char *)hdr, hlen,
                                                 NULL, list));
            APR_BRIGADE_INSERT_TAIL(ws->obb, apr_bucket_heap_create(
                                                 (const char *)taken, plen,
                                                 free, list));
            __atomic_add_fetch(&ws->obb_bytes, hlen + plen,
                               __ATOMIC_RELAXED);
            return 0;
        }
    }
    if (hlen + plen <= WS_SMALL_FRAME) {
        char frame[WS_SMALL_FRAME];

        memcpy(frame, hdr, hlen);
        if (plen) {
            memcpy(frame + hlen, payload, plen);
        }
        APR_BRIGADE_INSERT_TAIL(ws->obb, apr_bucket_heap_create(
                                             frame, hlen + plen, NULL, list));
    }
    else {
        APR_BRIGADE_INSERT_TAIL(ws->obb, apr_bucket_heap_create(
                                             (const char *)hdr, hlen, NULL,
                                             list));
        APR_BRIGADE_INSERT_TAIL(ws->obb, apr_bucket_heap_create(
                                             (const char *)payload, plen,
                                             NULL, list));
    }
    __atomic_add_fetch(&ws->obb_bytes, hlen + plen, __ATOMIC_RELAXED);
    return 0;
}

static void engine_pong(void *baton, const uint8_t *data, size_t len)
{
    ws_session_t *ws = baton;

    (void)data; (void)len;
    ws->ping_sent = 0;
}

static void engine_violation(void *baton, int code, const char *reason)
{
    ws_session_t *ws = baton;

    /* A client's protocol violation is not a server error: info. */
    ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, ws->c, WSLOGNO(00020)
                  "[ws %lu %s] closing with %d: %s", ws->id, ws->path, code,
                  reason);
    ws_stats_add(WS_STAT_VIOLATIONS, 1);
}

static const ws_conn_ops_t engine_ops = {
    engine_message,
    engine_output,
    engine_pong,
    engine_violation
};

void ws_session_start(ws_session_t *ws, conn_rec *c, int async)
{
    ws_conn_limits_t limits;

    limits.max_message_size = (uint64_t)ws->set.max_message;
    limits.max_frame_size = (uint64_t)ws->set.max_frame;
    limits.max_fragments = (uint32_t)ws->set.max_fragments;
    limits.max_control = (uint32_t)ws->set.max_control;
    ws->c = c;
    ws->async = async;
    /* TLS filters (mod_ssl, mod_tls) and HTTP/2 streams may hold input
     * the socket does not show: ws_io reads those until EAGAIN. */
    ws->tls = ap_ssl_conn_is_ssl(c) || c->master != NULL;
    ws->upgrade_eos = c->master != NULL;
    ws->obb = apr_brigade_create(c->pool, c->bucket_alloc);
    ws->ibb = apr_brigade_create(c->pool, c->bucket_alloc);
    ws->tbb = apr_brigade_create(c->pool, c->bucket_alloc);
    ws->last_rx = ws->last_msg = apr_time_now();
    ws_conn_init(&ws->engine, &limits, &engine_ops, ws);
}

/* --- output --- */

apr_status_t ws_session_push(ws_session_t *ws)
{
    conn_rec *c = ws->c;
    apr_status_t rv = ws->write_status;
    apr_off_t budget = WS_PUSH_BUDGET;

    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (;;) {
        apr_bucket *after;
        apr_off_t len = 0;

        /* Let the core write what it holds first; hand it more only when
         * it holds nothing, so it never has a reason to block. */
        rv = core_push(c);
        if (rv != APR_SUCCESS || c->data_in_output_filters
            || APR_BRIGADE_EMPTY(ws->obb) || budget <= 0) {
            break;
        }
        rv = apr_brigade_partition(ws->obb, WS_PUSH_SLICE, &after);
        if (rv != APR_SUCCESS && rv != APR_INCOMPLETE) {
            break;
        }
        while (APR_BRIGADE_FIRST(ws->obb) != after) {
            apr_bucket *b = APR_BRIGADE_FIRST(ws->obb);

            len += (apr_off_t)b->length;
            APR_BUCKET_REMOVE(b);
            APR_BRIGADE_INSERT_TAIL(ws->tbb, b);
        }
        APR_BRIGADE_INSERT_TAIL(ws->tbb, push_bucket_create(c->bucket_alloc));
        rv = ap_pass_brigade(c->output_filters, ws->tbb);
        apr_brigade_cleanup(ws->tbb);
        __atomic_sub_fetch(&ws->obb_bytes, (apr_size_t)len,
                           __ATOMIC_RELAXED);
        ws_stats_add(WS_STAT_BYTES_OUT, (apr_uint64_t)len);
        budget -= len;
        if (rv != APR_SUCCESS) {
            break;
        }
    }
    if (rv != APR_SUCCESS) {
        ws->write_status = rv;
        ap_log_cerror(APLOG_MARK, APLOG_DEBUG, rv, c, WSLOGNO(00025)
                      "[ws %lu %s] write failed", ws->id, ws->path);
        return rv;
    }
    ws->out_pending = c->data_in_output_filters
                      || !APR_BRIGADE_EMPTY(ws->obb);
    return APR_SUCCESS;
}

/* --- timers --- */

/* Close the connection ourselves (section 7.1.2) and note when. */
static void begin_close(ws_session_t *ws, int code, const char *reason,
                        apr_time_t now)
{
    if (ws_conn_close(&ws->engine, code, reason) == WS_CONN_OK) {
        ws->close_sent = now;
    }
}

/* When the child stops at once, a peer gets this long to answer our
 * close. */
#define WS_STOP_CLOSE_TIMEOUT apr_time_from_msec(500)

int ws_session_tick(ws_session_t *ws, apr_time_t now)
{
    const ws_settings_t *set = &ws->set;
    ws_conn_t *e = &ws->engine;
    apr_interval_time_t ping = set->ping;
    apr_interval_time_t close_timeout = set->close_timeout;
    int stop_now = ws_registry_stopping_now();
    apr_time_t stopping = ws_registry_stopping_since(now);

    /* The window of WebSocketMaxControlRate. */
    if (now - ws->ctl_window >= apr_time_from_sec(1)) {
        ws->ctl_window = now;
        e->ctl_count = 0;
    }
    if (stop_now && close_timeout > WS_STOP_CLOSE_TIMEOUT) {
        close_timeout = WS_STOP_CLOSE_TIMEOUT;
    }

    if (e->state == WS_STATE_CLOSING) {
        if (!ws->close_sent) {
            ws->close_sent = now;
        }
        if (now - ws->close_sent > close_timeout) {
            ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, ws->c, WSLOGNO(00026)
                          "[ws %lu %s] no close frame from the peer in time",
                          ws->id, ws->path);
            ws->end_reason = "close timeout";
            return 1;
        }
        return 0;
    }
    if (e->state != WS_STATE_OPEN) {
        return e->state == WS_STATE_CLOSED;
    }
    if (stop_now || (stopping && now - stopping >= set->graceful)) {
        begin_close(ws, WS_CLOSE_GOING_AWAY, ws_registry_stop_reason(), now);
        return 0;
    }
    if (set->idle > 0
        && now - ws->last_msg > set->idle) {
        ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, ws->c, WSLOGNO(00027)
                      "[ws %lu %s] idle timeout", ws->id, ws->path);
        begin_close(ws, WS_CLOSE_GOING_AWAY, "idle timeout", now);
        return 0;
    }
    if (ws->ping_sent && now - ws->ping_sent > set->ping_timeout) {
        ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, ws->c, WSLOGNO(00028)
                      "[ws %lu %s] no pong within %" APR_TIME_T_FMT " ms: "
                      "closing", ws->id, ws->path,
                      apr_time_as_msec(set->ping_timeout));
        ws_stats_add(WS_STAT_DEAD_PEERS, 1);
        ws->end_reason = "ping timeout";
        return 1;
    }
    if (ping > 0 && !ws->ping_sent && now - ws->last_rx >= ping) {
        if (ws_conn_ping(e, NULL, 0) == WS_CONN_OK) {
            ws->ping_sent = now;
            ws_stats_add(WS_STAT_PINGS, 1);
        }
    }
    return 0;
}

/* --- mail --- */

void ws_session_drain_mail(ws_session_t *ws)
{
    ws_mail_t *m, *next;
    apr_size_t bytes = 0;

    pthread_mutex_lock(&ws->lock);
    m = ws->mail_head;
    ws->mail_head = ws->mail_tail = NULL;
    pthread_mutex_unlock(&ws->lock);

    for (; m; m = next) {
        next = m->next;
        bytes += m->len;
        if (m->opcode == WS_OP_CLOSE) {
            begin_close(ws, m->close_code,
                        m->len ? (const char *)m->data : NULL,
                        apr_time_now());
        }
        else {
            if (ws_conn_send(&ws->engine, m->opcode, m->data, m->len)
                == WS_CONN_OK) {
                ws->last_msg = apr_time_now();
                ws_stats_add(WS_STAT_MSGS_OUT, 1);
            }
        }
        free(m);
    }
    if (bytes) {
        pthread_mutex_lock(&ws->lock);
        ws->queued -= bytes;
        pthread_mutex_unlock(&ws->lock);
    }
}

void ws_session_finish(ws_session_t *ws)
{
    ws_mail_t *mail;
    int code;

    pthread_mutex_lock(&ws->lock);
    ws->io_state = WS_IO_DEAD;
    mail = ws->mail_head;
    ws->mail_head = ws->mail_tail = NULL;
    ws->queued = 0;
    pthread_mutex_unlock(&ws->lock);
    free_mail(mail);
    ws_registry_remove(ws);
    release_admission(ws);

    if (!ws->opened) {
        return;
    }
    ws->opened = 0;
    if (ws->engine.state != WS_STATE_CLOSED) {
        /* No close frame was exchanged.  If the server is stopping, that
         * is why (its MPM may have cut the socket first); else the peer
         * vanished or stopped answering. */
        if (ws_registry_stopping_now()) {
            ws_conn_abort(&ws->engine, WS_CLOSE_GOING_AWAY,
                          ws_registry_stop_reason());
        }
        else {
            ws_conn_abort(&ws->engine, WS_CLOSE_ABNORMAL,
                          ws->end_reason ? ws->end_reason : "");
        }
    }
    code = ws->engine.close_code ? ws->engine.close_code : WS_CLOSE_ABNORMAL;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ws->s, WSLOGNO(00021)
                 "[ws %lu %s] closed with %d (%s), %" APR_UINT64_T_FMT
                 " messages in, %" APR_UINT64_T_FMT " out", ws->id,
                 ws->path, code, ws->engine.close_reason,
                 ws->engine.msgs_in, ws->engine.msgs_out);
    ws_stats_add(WS_STAT_OPEN, (apr_uint64_t)-1);
    if (ws->plugin->h->on_close) {
        ws->plugin->h->on_close(ws, code, ws->engine.close_reason);
    }
}

void ws_session_wake(ws_session_t *ws)
{
    pthread_mutex_lock(&ws->lock);
    if (ws->wakeup) {
        apr_pollset_wakeup(ws->wakeup);
    }
    pthread_mutex_unlock(&ws->lock);
}

void ws_session_kill(ws_session_t *ws)
{
    pthread_mutex_lock(&ws->lock);
    ws->io_state = WS_IO_DEAD;
    ws->wakeup = NULL;
    pthread_mutex_unlock(&ws->lock);
}

/* --- the handler API --- */

/* Called with the lock held: may len more bytes be queued? */
static int reserve_locked(ws_session_t *ws, apr_size_t len)
{
    apr_size_t limit = (apr_size_t)ws->set.max_queued;
    apr_size_t have = ws->queued
                      + __atomic_load_n(&ws->obb_bytes, __ATOMIC_RELAXED);

    if (have + len <= limit || have == 0) {
        return 1;
    }
    ws_stats_add(WS_STAT_DROPPED, 1);
    if (apr_atomic_inc32(&ws->dropped) == 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ws->s, WSLOGNO(00022)
                     "[ws %lu %s] output queue over WebSocketMaxQueuedOutput "
                     "(%" APR_SIZE_T_FMT " bytes): the peer reads too "
                     "slowly; %s", ws->id, ws->path, limit,
                     ws->set.overflow == WS_OVERFLOW_CLOSE
                     ? "closing it with 1008"
                     : "dropping messages (further drops are only counted)");
    }
    return 0;
}

/* Called with the lock held, by a thread that may not touch the engine
 * (HANDOFF, or ACTIVE elsewhere): queue for the owner. */
static int post_mail_locked(ws_session_t *ws, int opcode, int code,
                            const void *data, size_t len)
{
    ws_mail_t *m = malloc(sizeof(*m) + len);

    if (!m) {
        return WS_EQUEUE;
    }
    m->next = NULL;
    m->opcode = opcode;
    m->close_code = code;
    m->len = len;
    if (len) {
        memcpy(m->data, data, len);
    }
    m->data[len] = '\0';
    if (ws->mail_tail) {
        ws->mail_tail->next = m;
    }
    else {
        ws->mail_head = m;
    }
    ws->mail_tail = m;
    ws->queued += len;
    if (ws->wakeup) {
        apr_pollset_wakeup(ws->wakeup);
    }
    return WS_OK;
}

/* The queue is full and the sender is not the owner: apply
 * WebSocketQueueOverflow (lock held).  Returns 1 if the owner must be
 * notified. */
static int overflow_locked(ws_session_t *ws)
{
    if (ws->set.overflow != WS_OVERFLOW_CLOSE || ws->overflowed) {
        return 0;
    }
    ws->overflowed = 1;
    ws_stats_add(WS_STAT_OVERFLOW_CLOSES, 1);
    post_mail_locked(ws, WS_OP_CLOSE, WS_CLOSE_POLICY, "output queue full",
                     17);
    return 1;
}

static int map_conn_rv(int rv)
{
    switch (rv) {
    case WS_CONN_OK:
        return WS_OK;
    case WS_CONN_EINVAL:
        return WS_EINVAL;
    default:
        return WS_ECLOSED;
    }
}

/* After a sender queued mail for ws: make its owner look. */
static void notify(ws_session_t *ws, ws_loop_t *loop)
{
    if (loop) {
        ws_loop_notify(ws);
    }
}

/* The owner sent: make sure the output goes out this round. */
static void owner_sent(ws_session_t *ws)
{
    ws->last_msg = apr_time_now();
    if (ws->loop) {
        ws_loop_dirty(ws);
    }
}

static int api_send(ws_connection_t *ws, ws_msg_type_e type,
                    const void *data, size_t len)
{
    ws_loop_t *loop;
    int rv, wake = 0;

    if ((type != WS_MSG_TEXT && type != WS_MSG_BINARY) || (len && !data)) {
        return WS_EINVAL;
    }
    if (type == WS_MSG_TEXT && !ws_utf8_valid(data, len)) {
        return WS_EINVAL;
    }
    pthread_mutex_lock(&ws->lock);
    loop = ws->loop;
    if (ws->io_state == WS_IO_DEAD) {
        rv = WS_ECLOSED;
    }
    else if (!reserve_locked(ws, len)) {
        if (is_owner(ws)) {
            pthread_mutex_unlock(&ws->lock);
            if (ws->set.overflow == WS_OVERFLOW_CLOSE && !ws->overflowed) {
                ws->overflowed = 1;
                ws_stats_add(WS_STAT_OVERFLOW_CLOSES, 1);
                begin_close(ws, WS_CLOSE_POLICY, "output queue full",
                            apr_time_now());
                owner_sent(ws);
            }
            return WS_EQUEUE;
        }
        wake = overflow_locked(ws);
        rv = WS_EQUEUE;
    }
    else if (is_owner(ws)) {
        /* The connection's own thread: straight into the engine. */
        pthread_mutex_unlock(&ws->lock);
        rv = map_conn_rv(ws_conn_send(&ws->engine, type, data, len));
        if (rv == WS_OK) {
            ws_stats_add(WS_STAT_MSGS_OUT, 1);
            owner_sent(ws);
        }
        return rv;
    }
    else {
        rv = post_mail_locked(ws, type, 0, data, len);
        wake = (rv == WS_OK);
    }
    pthread_mutex_unlock(&ws->lock);
    if (wake) {
        notify(ws, loop);
    }
    return rv;
}

static int api_close(ws_connection_t *ws, int code, const char *reason)
{
    size_t rlen = reason ? strlen(reason) : 0;
    ws_loop_t *loop;
    int rv;

    if (!ws_frame_close_code_valid(code) || rlen > WS_FRAME_MAX_CONTROL - 2
        || !ws_utf8_valid((const uint8_t *)(reason ? reason : ""), rlen)) {
        return WS_EINVAL;
    }
    pthread_mutex_lock(&ws->lock);
    loop = ws->loop;
    if (ws->io_state == WS_IO_DEAD) {
        rv = WS_ECLOSED;
    }
    else if (is_owner(ws)) {
        pthread_mutex_unlock(&ws->lock);
        rv = map_conn_rv(ws_conn_close(&ws->engine, code, reason));
        if (rv == WS_OK) {
            ws->close_sent = apr_time_now();
            owner_sent(ws);
        }
        return rv;
    }
    else {
        rv = post_mail_locked(ws, WS_OP_CLOSE, code, reason ? reason : "",
                              rlen);
    }
    pthread_mutex_unlock(&ws->lock);
    if (rv == WS_OK) {
        notify(ws, loop);
    }
    return rv;
}

static void api_set_data(ws_connection_t *ws, void *data)
{
    ws->user_data = data;
}

static void *api_get_data(ws_connection_t *ws)
{
    return ws->user_data;
}

static ws_connection_t *api_ref(ws_connection_t *ws)
{
    return ws_session_ref(ws);
}

static void api_unref(ws_connection_t *ws)
{
    ws_session_unref(ws);
}

static unsigned long api_id(ws_connection_t *ws)
{
    return ws->id;
}

static const char *api_path(ws_connection_t *ws)
{
    return ws->path;
}

static const char *api_query(ws_connection_t *ws)
{
    return ws->query;
}

static const char *api_header(ws_connection_t *ws, const char *name)
{
    return kv_get(ws->headers, ws->nheaders, name);
}

static const char *api_cookie(ws_connection_t *ws, const char *name)
{
    int i;

    /* Cookie names are case-sensitive (RFC 6265). */
    for (i = 0; name && i < ws->ncookies; i++) {
        if (!strcmp(ws->cookies[i].key, name)) {
            return ws->cookies[i].val;
        }
    }
    return NULL;
}

static const char *api_user(ws_connection_t *ws)
{
    return ws->user;
}

static const char *api_remote_addr(ws_connection_t *ws)
{
    return ws->remote_addr;
}

static const char *api_option(ws_connection_t *ws, const char *name)
{
    return kv_get(ws->options, ws->noptions, name);
}

static const char *api_protocol(ws_connection_t *ws)
{
    return ws->protocol;
}

int ws_session_set_protocol(ws_session_t *ws, const char *name)
{
    int i;

    if (!name) {
        ws->protocol = NULL;
        return 0;
    }
    for (i = 0; i < ws->noffers; i++) {
        if (!strcmp(ws->offers[i], name)) {
            ws->protocol = ws->offers[i];
            return 0;
        }
    }
    return -1;
}

static int api_select_protocol(ws_connection_t *ws, const char *protocol)
{
    if (!ws->in_open) {
        return WS_EINVAL;
    }
    return ws_session_set_protocol(ws, protocol) == 0 ? WS_OK : WS_EINVAL;
}

static void api_log(ws_connection_t *ws, int level, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;

    if (level < APLOG_EMERG || level > APLOG_DEBUG) {
        level = APLOG_ERR;
    }
    va_start(ap, fmt);
    apr_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (ws) {
        ap_log_error(APLOG_MARK, level, 0, ws->s, WSLOGNO(00023)
                     "[ws %lu %s] %s: %s", ws->id, ws->path,
                     ws->plugin->name, buf);
    }
    else {
        ap_log_error(APLOG_MARK, level, 0, NULL, WSLOGNO(00024)
                     "handler: %s", buf);
    }
}

const ws_api_t ws_session_api = {
    WS_PLUGIN_ABI_VERSION,
    sizeof(ws_api_t),
    api_send,
    api_close,
    api_set_data,
    api_get_data,
    api_ref,
    api_unref,
    api_id,
    api_path,
    api_query,
    api_header,
    api_cookie,
    api_user,
    api_remote_addr,
    api_option,
    api_protocol,
    api_select_protocol,
    api_log
};
