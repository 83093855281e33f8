/*
 * ws_session.c -- one WebSocket connection as handlers and the rest of the
 * module see it (see ws_session.h for the states and who may touch what).
 *
 * The lock (ws->lock) guards the state, the owner, the mailbox and the
 * overflow decision; it is never held while calling a handler callback or
 * another session, and an owner's wake (called under it) takes no session
 * lock (docs/INTERNALS.md, "Locks").  The
 * engine, the timers and the sink are the owner's: its thread uses them
 * without the lock, and only while RUNNING.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "apr_atomic.h"
#include "apr_strings.h"
#include "httpd.h"
#include "http_log.h"

#include "ws_private.h"
#include "ws_session.h"
#include "ws_addrlimit.h"
#include "ws_capacity.h"
#include "ws_child.h"
#include "ws_ids.h"
#include "ws_mailbox.h"
#include "ws_outq.h"
#include "ws_stats.h"
#include "ws_utf8.h"

/* The handlers' close codes are the RFC's, as the engine knows them. */
#if WS_CLOSE_NORMAL != WS_CLOSE_CODE_NORMAL \
    || WS_CLOSE_GOING_AWAY != WS_CLOSE_CODE_GOING_AWAY \
    || WS_CLOSE_POLICY != WS_CLOSE_CODE_POLICY \
    || WS_CLOSE_TOO_BIG != WS_CLOSE_CODE_TOO_BIG \
    || WS_CLOSE_INTERNAL != WS_CLOSE_CODE_INTERNAL \
    || WS_CLOSE_ABNORMAL != WS_CLOSE_CODE_ABNORMAL
#error "ws_plugin_api.h close codes differ from ws_frame.h"
#endif

/* From this size on, a message sent back while it is being delivered (an
 * echo) hands over the engine's buffer instead of being copied; smaller
 * ones are cheaper to copy than to give the next message a new buffer. */
#define WS_TAKE_MIN (64 * 1024)

struct ws_connection {
    apr_uint32_t refs;          /* atomic */
    pthread_mutex_t lock;
    unsigned long id;
    ws_connid_t gid;            /* server-wide (ws_ids) */
    server_rec *s;
    ws_location_t *loc;         /* in pconf: lives as long as the child */
    ws_plugin_t *plugin;        /* in pconf: lives as long as the child */
    ws_settings_t set;          /* the location's settings, copied */
    ws_deflate_t *pmd;          /* permessage-deflate agreed, or NULL */
    ws_snapshot_t *snap;        /* read-only after on_open */
    const char *protocol;       /* one of the snapshot's offers, or NULL */
    apr_time_t opened_at;       /* the 101 */
    apr_uint64_t wire_in, wire_out;  /* bytes read and written (frames) */
    void *logline;              /* ws_accesslog's, until written */
    void *user_data;            /* the handler's */

    /* (L) the session lock. */
    ws_session_state_e state;
    ws_owner_t *owner;
    void *owner_slot;
    ws_mailbox_t mail;
    ws_outq_t outq;             /* its net count is atomic */

    /* Admission held (released once, atomic). */
    int addr_token;             /* ws_addrlimit's, -1: none */
    int capacity_held;          /* 1 until capacity is released */
    ws_capacity_hold_t capacity;

    /* The request's worker during OPENING, then the owner's. */
    int in_open;
    int opened;                 /* on_open accepted: on_close is owed */
    ws_conn_t engine;
    ws_timers_t timers;
    const ws_sink_ops_t *sink_ops;
    void *sink;
    const char *end_reason;     /* static text, or NULL */

    /* The containers' records (ws_session_area). */
    void *area[WS_AREA_COUNT][WS_SESSION_AREA / sizeof(void *)];
};

/* Per-child connection numbers. */
static apr_uint32_t next_id;

/* Told when a session ends (ws_session_on_end). */
static void (*end_hook)(ws_session_t *ws);

void ws_session_on_end(void (*fn)(ws_session_t *ws))
{
    end_hook = fn;
}

/* The owner the calling thread runs sessions for, if any. */
static __thread ws_owner_t *current_owner;

/* The session whose callback the calling thread is in. */
static __thread ws_session_t *current_session;

ws_session_t *ws_session_current(void)
{
    return current_session;
}

void ws_owner_enter(ws_owner_t *owner)
{
    current_owner = owner;
}

void ws_owner_leave(void)
{
    current_owner = NULL;
}

void *ws_session_area(ws_session_t *ws, ws_session_area_e which)
{
    return ws->area[which];
}

ws_session_t *ws_session_from_area(void *area, ws_session_area_e which)
{
    return (ws_session_t *)((char *)area
                            - APR_OFFSETOF(ws_session_t, area)
                            - (size_t)which * sizeof(((ws_session_t *)0)
                                                     ->area[0]));
}

/* --- the state machine --- */

static const char *const state_names[WS_SESSION_NSTATES] = {
    "OPENING", "HANDOFF", "RUNNING", "ENDED"
};

/* allowed[from][to] */
static const unsigned char allowed[WS_SESSION_NSTATES][WS_SESSION_NSTATES] = {
    /*               OPENING HANDOFF RUNNING ENDED */
    /* OPENING */  { 0,      1,      0,      1 },
    /* HANDOFF */  { 0,      0,      1,      1 },
    /* RUNNING */  { 0,      0,      0,      1 },
    /* ENDED   */  { 0,      0,      0,      0 },
};

/* Lock held.  Returns 1 if the transition is allowed (and made). */
static int transit(ws_session_t *ws, ws_session_state_e to)
{
    ws_session_state_e from = ws->state;

    if (!allowed[from][to]) {
        WS_SLOG(ws, APLOG_DEBUG, 0, 00074, "no transition from %s to %s",
                state_names[from], state_names[to]);
        return 0;
    }
    ws->state = to;
    return 1;
}

ws_session_state_e ws_session_state(ws_session_t *ws)
{
    return __atomic_load_n(&ws->state, __ATOMIC_RELAXED);
}

const char *ws_session_state_str(ws_session_t *ws)
{
    ws_session_state_e st = ws_session_state(ws);

    if (st == WS_SESSION_RUNNING) {
        return ws->engine.state == WS_STATE_CLOSING ? "CLOSING" : "OPEN";
    }
    return state_names[st];
}

/* Lock held: make ws's owner look at it (mail, or the child stopping).
 * Under the lock, because an owner may cease to exist once the session
 * ended (a connection's own thread keeps its owner on its stack): ending
 * takes the lock too.  An owner's wake takes no session lock. */
static void wake_locked(ws_session_t *ws)
{
    if (ws->state == WS_SESSION_RUNNING && ws->owner) {
        ws->owner->wake(ws->owner, ws, ws->owner_slot);
    }
}

/* Is the calling thread the one that runs ws?  Lock held. */
static int on_owner_thread(const ws_session_t *ws)
{
    return ws->state == WS_SESSION_RUNNING && ws->owner
           && ws->owner == current_owner;
}

/* --- lifetime --- */

ws_session_t *ws_session_create(request_rec *r, const ws_dir_conf_t *conf,
                                ws_plugin_t *plugin)
{
    ws_snapshot_src_t src;
    ws_session_t *ws = calloc(1, sizeof(*ws));

    if (!ws) {
        return NULL;
    }
    src.path = r->uri;
    src.query = r->args;
    src.user = r->user;
    src.remote_addr = r->useragent_ip;
    src.headers = r->headers_in;
    src.options = conf->options;
    ws->snap = ws_snapshot_create(&src, r->pool);
    if (!ws->snap) {
        free(ws);
        return NULL;
    }
    ws->refs = 1;
    pthread_mutex_init(&ws->lock, NULL);
    ws->id = apr_atomic_inc32(&next_id) + 1;
    ws->gid = ws_ids_conn(ws->id);
    ws->s = r->server;
    ws->loc = conf->location;
    ws->plugin = plugin;
    ws_conf_settings(conf, &ws->set);
    ws->state = WS_SESSION_OPENING;
    ws_mailbox_init(&ws->mail);
    ws_outq_init(&ws->outq, (size_t)ws->set.max_queued,
                 ws->set.overflow == WS_OVERFLOW_CLOSE);
    ws->addr_token = -1;
    return ws;
}

ws_session_t *ws_session_ref(ws_session_t *ws)
{
    apr_atomic_inc32(&ws->refs);
    return ws;
}

/* The connection no longer counts: for its client address, nor for the
 * server's capacity.  Once, whoever calls first. */
static void release_admission(ws_session_t *ws)
{
    ws_addrlimit_release(__atomic_exchange_n(&ws->addr_token, -1,
                                             __ATOMIC_ACQ_REL));
    if (__atomic_exchange_n(&ws->capacity_held, 0, __ATOMIC_ACQ_REL)) {
        ws_capacity_release(&ws->capacity);
    }
}

void ws_session_unref(ws_session_t *ws)
{
    if (apr_atomic_dec32(&ws->refs) == 0) {
        release_admission(ws);
        ws_mail_free_all(ws_mailbox_take(&ws->mail, NULL));
        ws_conn_cleanup(&ws->engine);
        ws_deflate_destroy(ws->pmd);
        ws_snapshot_free(ws->snap);
        free(ws->logline);
        pthread_mutex_destroy(&ws->lock);
        free(ws);
    }
}

void ws_session_hold_admission(ws_session_t *ws, int addr_token,
                               const ws_capacity_hold_t *capacity)
{
    ws->addr_token = addr_token;
    ws->capacity = *capacity;
    ws->capacity_held = 1;
}

/* --- the request phase --- */

const char *ws_session_protocol(const ws_session_t *ws)
{
    return ws->protocol;
}

/* Agree on name, which must be one of the client's offers (NULL: none).
 * 0, or -1 if it was not offered. */
static int set_protocol(ws_session_t *ws, const char *name)
{
    int i;

    if (!name) {
        ws->protocol = NULL;
        return 0;
    }
    for (i = 0; i < ws_snapshot_noffers(ws->snap); i++) {
        if (!strcmp(ws_snapshot_offer(ws->snap, i), name)) {
            ws->protocol = ws_snapshot_offer(ws->snap, i);
            return 0;
        }
    }
    return -1;
}

/* The default subprotocol (see ws_session_open). */
static void default_protocol(ws_session_t *ws, const ws_dir_conf_t *conf)
{
    const char *first = ws_snapshot_offer(ws->snap, 0);
    int i;

    for (i = 0; conf->protocols && i < conf->protocols->nelts; i++) {
        const char *p = APR_ARRAY_IDX(conf->protocols, i, const char *);

        if (!strcmp(p, "*") ? first && set_protocol(ws, first) == 0
                            : set_protocol(ws, p) == 0) {
            return;
        }
    }
    if (!conf->protocols && (ws->plugin->h->flags & WS_HANDLER_ANY_PROTOCOL)
        && first) {
        set_protocol(ws, first);
    }
}

int ws_session_open(ws_session_t *ws, request_rec *r,
                    const ws_dir_conf_t *conf)
{
    int status = 0;

    default_protocol(ws, conf);
    if (ws->plugin->h->on_open) {
        ws->in_open = 1;
        current_session = ws;
        status = ws->plugin->h->on_open(ws);
        current_session = NULL;
        ws->in_open = 0;
    }
    if (status != 0) {
        if (status < 400 || status > 599) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, WSLOGNO(00044)
                          "handler %s: on_open returned %d, which is not "
                          "an HTTP error status; answering 500",
                          ws->plugin->name, status);
            status = HTTP_INTERNAL_SERVER_ERROR;
        }
        else {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, WSLOGNO(00045)
                          "handler %s refused the WebSocket for %s with %d",
                          ws->plugin->name, r->uri, status);
        }
        pthread_mutex_lock(&ws->lock);
        transit(ws, WS_SESSION_ENDED);
        pthread_mutex_unlock(&ws->lock);
        return status;
    }
    ws->opened = 1;
    ws_stats_add_at(ws->loc, WS_LSTAT_OPEN, 1);
    ws_stats_add_at(ws->loc, WS_LSTAT_TOTAL, 1);
    ws->opened_at = apr_time_now();
    pthread_mutex_lock(&ws->lock);
    transit(ws, WS_SESSION_HANDOFF);
    pthread_mutex_unlock(&ws->lock);
    return 0;
}

int ws_session_select_protocol(ws_session_t *ws, const char *name)
{
    if (!ws->in_open) {
        return WS_EINVAL;
    }
    return set_protocol(ws, name) == 0 ? WS_OK : WS_EINVAL;
}

/* --- the engine's callbacks (the owner's thread) --- */

static int engine_message(void *baton, int opcode, const uint8_t *data,
                          size_t len)
{
    ws_session_t *ws = baton;
    ws_session_t *outer = current_session;
    int rv;

    ws_timers_message(&ws->timers, apr_time_now());
    ws_stats_add_at(ws->loc, WS_LSTAT_MSGS_IN, 1);
    current_session = ws;
    rv = ws->plugin->h->on_message(ws, opcode == WS_OP_TEXT ? WS_MSG_TEXT
                                                             : WS_MSG_BINARY,
                                   (const char *)data, len);
    current_session = outer;
    return rv;
}

static int engine_output(void *baton, const uint8_t *hdr, size_t hlen,
                         const uint8_t *payload, size_t plen)
{
    ws_session_t *ws = baton;
    uint8_t *taken = NULL;

    if (plen >= WS_TAKE_MIN) {
        taken = ws_conn_take_message(&ws->engine, payload, plen);
    }
    if (ws->sink_ops->frame(ws->sink, hdr, hlen, payload, plen, taken)
        != 0) {
        free(taken);
        return -1;
    }
    ws_outq_net_add(&ws->outq, hlen + plen);
    return 0;
}

static void engine_pong(void *baton, const uint8_t *data, size_t len)
{
    ws_session_t *ws = baton;

    (void)data; (void)len;
    ws_timers_pong(&ws->timers);
}

static void engine_violation(void *baton, int code, const char *reason)
{
    ws_session_t *ws = baton;

    /* A client's protocol violation is not a server error: info. */
    WS_SLOG(ws, APLOG_INFO, 0, 00020, "closing with %d: %s", code, reason);
    ws_stats_add(WS_STAT_VIOLATIONS, 1);
}

static const ws_conn_ops_t engine_ops = {
    engine_message,
    engine_output,
    engine_pong,
    engine_violation
};

/* --- the owner --- */

void ws_session_attach(ws_session_t *ws, const ws_sink_ops_t *ops,
                       void *sink, apr_time_t now)
{
    ws_conn_limits_t limits;

    limits.max_message_size = (uint64_t)ws->set.max_message;
    limits.max_frame_size = (uint64_t)ws->set.max_frame;
    limits.max_fragments = (uint32_t)ws->set.max_fragments;
    limits.max_control = (uint32_t)ws->set.max_control;
    ws->sink_ops = ops;
    ws->sink = sink;
    ws_timers_init(&ws->timers, now);
    ws_conn_init(&ws->engine, &limits, &engine_ops, ws);
    ws_conn_set_deflate(&ws->engine, ws->pmd);
}

const char *ws_session_negotiate_deflate(ws_session_t *ws,
                                         const char *offers, apr_pool_t *p)
{
    char resp[WS_PMD_RESPONSE_MAX];
    ws_deflate_conf_t dc;

    if (!ws->set.compress || !offers
        || !ws_pmd_negotiate(offers, &ws->set.pmd, &dc.params, resp)) {
        return NULL;
    }
    dc.level = ws->set.compress_level;
    dc.mem_level = ws->set.compress_mem;
    dc.min_size = ws->set.compress_min;
    if (!(ws->pmd = ws_deflate_create(&dc))) {
        return NULL;            /* no memory: answered without it */
    }
    return apr_pstrdup(p, resp);
}

int ws_session_run(ws_session_t *ws, ws_owner_t *owner, void *slot)
{
    int ok;

    pthread_mutex_lock(&ws->lock);
    ok = ws->state == WS_SESSION_HANDOFF && transit(ws, WS_SESSION_RUNNING);
    if (ok) {
        ws->owner = owner;
        ws->owner_slot = slot;
    }
    pthread_mutex_unlock(&ws->lock);
    return ok ? 0 : -1;
}

ws_state_e ws_session_feed(ws_session_t *ws, uint8_t *buf, size_t len,
                           apr_time_t now)
{
    ws_timers_rx(&ws->timers, now);
    ws->wire_in += len;
    ws_stats_add_at(ws->loc, WS_LSTAT_BYTES_IN, (apr_uint64_t)len);
    return ws_conn_feed(&ws->engine, buf, len);
}

/* Close ourselves (section 7.1.2), noting when for the close timeout. */
static void begin_close(ws_session_t *ws, int code, const char *reason,
                        apr_time_t now)
{
    if (ws_conn_close(&ws->engine, code, reason) == WS_CONN_OK) {
        ws_timers_close_sent(&ws->timers, now);
    }
}

/* A shared payload compressed for this connection's settings: once for
 * every connection with the same ones (server_no_context_takeover makes
 * the bytes the same), kept with the payload. */
typedef struct {
    uint32_t key;               /* ws_deflate_key */
    size_t len;
    uint8_t data[1];
} deflated_t;

static const deflated_t *shared_deflated(ws_shared_t *sh, ws_deflate_t *d)
{
    uint32_t key = ws_deflate_key(d);
    deflated_t *z = __atomic_load_n((deflated_t **)&sh->deflated,
                                    __ATOMIC_ACQUIRE);
    deflated_t *mine, *none = NULL;
    uint8_t *out;
    size_t olen;

    if (!key || !ws_deflate_wanted(d, sh->len)) {
        return NULL;
    }
    if (z) {
        return z->key == key ? z : NULL;
    }
    if (ws_deflate_compress(d, sh->data, sh->len, &out, &olen)
        != WS_DEFLATE_OK) {
        return NULL;
    }
    mine = malloc(sizeof(*mine) + olen);
    if (!mine) {
        free(out);
        return NULL;
    }
    mine->key = key;
    mine->len = olen;
    memcpy(mine->data, out, olen);
    free(out);
    if (!__atomic_compare_exchange_n((deflated_t **)&sh->deflated, &none,
                                     mine, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        free(mine);             /* another thread was first */
        return none->key == key ? none : NULL;
    }
    return mine;
}

/* Send mail m's message: a shared payload compressed once for all. */
static int send_mail(ws_session_t *ws, ws_mail_t *m)
{
    const deflated_t *z;

    if (m->shared && ws->pmd && (z = shared_deflated(m->shared, ws->pmd))) {
        return ws_conn_send_deflated(&ws->engine, m->opcode, z->data,
                                     z->len);
    }
    return ws_conn_send(&ws->engine, m->opcode, WS_MAIL_DATA(m), m->len);
}

void ws_session_take_mail(ws_session_t *ws, apr_time_t now)
{
    ws_mail_t *m, *next;

    pthread_mutex_lock(&ws->lock);
    m = ws_mailbox_take(&ws->mail, NULL);
    pthread_mutex_unlock(&ws->lock);

    for (; m; m = next) {
        next = m->next;
        if (m->opcode == WS_OP_CLOSE) {
            begin_close(ws, m->close_code,
                        m->len ? (const char *)m->data : NULL, now);
        }
        else if (m->opcode == WS_MAIL_CALL) {
            ws_session_t *outer = current_session;

            current_session = ws;
            m->call(ws, m->arg);
            current_session = outer;
        }
        else if (send_mail(ws, m) == WS_CONN_OK) {
            ws_timers_message(&ws->timers, now);
            ws_stats_add_at(ws->loc, WS_LSTAT_MSGS_OUT, 1);
        }
        ws_mail_free(m);
    }
}

/* What the timer rules of ws go by at now: its settings, the child's
 * stop; returns where its closing handshake stands. */
static ws_timer_phase_e timer_inputs(const ws_session_t *ws,
                                     ws_timer_settings_t *set,
                                     ws_timer_stop_t *stop, apr_time_t now)
{
    set->ping = ws->set.ping;
    set->ping_timeout = ws->set.ping_timeout;
    set->idle = ws->set.idle;
    set->close_timeout = ws->set.close_timeout;
    set->graceful = ws->set.graceful;
    ws_child_stop_state(stop, now);
    return ws->engine.state == WS_STATE_CLOSING ? WS_TIMER_CLOSING
                                                : WS_TIMER_OPEN;
}

apr_time_t ws_session_timers_next(const ws_session_t *ws, apr_time_t now)
{
    ws_timer_settings_t set;
    ws_timer_stop_t stop;
    ws_timer_phase_e phase = timer_inputs(ws, &set, &stop, now);

    if (ws->engine.state == WS_STATE_CLOSED) {
        return 0;
    }
    return ws_timers_next(&ws->timers, &set, phase, &stop);
}

int ws_session_timers(ws_session_t *ws, apr_time_t now)
{
    ws_conn_t *e = &ws->engine;
    ws_timer_settings_t set;
    ws_timer_stop_t stop;
    ws_timer_due_t due;
    ws_timer_phase_e phase;

    if (ws_timers_new_control_window(&ws->timers, now)) {
        ws_conn_new_control_window(e);
    }
    if (e->state == WS_STATE_CLOSED) {
        return 1;
    }
    phase = timer_inputs(ws, &set, &stop, now);
    due = ws_timers_due(&ws->timers, &set, phase, &stop, now);
    switch (due.action) {
    case WS_TIMER_PING:
        if (ws_conn_ping(e, NULL, 0) == WS_CONN_OK) {
            ws_timers_pinged(&ws->timers, now);
            ws_stats_add(WS_STAT_PINGS, 1);
        }
        return 0;
    case WS_TIMER_CLOSE:
        WS_SLOG(ws, APLOG_DEBUG, 0, 00027, "closing with %d: %s", due.code,
                due.reason);
        begin_close(ws, due.code, due.reason, now);
        return 0;
    case WS_TIMER_DROP:
        if (!strcmp(due.reason, "ping timeout")) {
            WS_SLOG(ws, APLOG_INFO, 0, 00028, "no pong within %"
                    APR_TIME_T_FMT " ms: closing",
                    apr_time_as_msec(set.ping_timeout));
            ws_stats_add(WS_STAT_DEAD_PEERS, 1);
        }
        else {
            WS_SLOG(ws, APLOG_DEBUG, 0, 00026, "no close frame from the "
                    "peer in time");
        }
        ws_session_note_end(ws, due.reason);
        return 1;
    default:
        return 0;
    }
}

void ws_session_goodbye(ws_session_t *ws)
{
    begin_close(ws, WS_CLOSE_CODE_GOING_AWAY, ws_child_stop_reason(),
                apr_time_now());
}

void ws_session_written(ws_session_t *ws, size_t n)
{
    ws_outq_net_done(&ws->outq, n);
    ws->wire_out += n;
    ws_stats_add_at(ws->loc, WS_LSTAT_BYTES_OUT, (apr_uint64_t)n);
}

ws_state_e ws_session_engine_state(const ws_session_t *ws)
{
    return ws->engine.state;
}

int ws_session_quiet(const ws_session_t *ws, apr_time_t now,
                     apr_interval_time_t quiet)
{
    return ws_timers_quiet(&ws->timers, now, quiet);
}

void ws_session_trim(ws_session_t *ws)
{
    ws_conn_trim(&ws->engine);
}

apr_uint64_t ws_session_messages(const ws_session_t *ws)
{
    return ws->engine.msgs_in + ws->engine.msgs_out;
}

void ws_session_note_end(ws_session_t *ws, const char *reason)
{
    if (!ws->end_reason) {
        ws->end_reason = reason;
    }
}

/* Who started the closing handshake: 'c' the client, 's' us, 0 nobody
 * (the connection ended without one). */
static int closed_by(const ws_session_t *ws)
{
    return ws->engine.peer_closed_first ? 'c'
           : ws->engine.close_sent ? 's' : 0;
}

void ws_session_end(ws_session_t *ws)
{
    ws_mail_t *mail;
    int code;

    pthread_mutex_lock(&ws->lock);
    if (ws->state == WS_SESSION_ENDED) {
        pthread_mutex_unlock(&ws->lock);
        return;
    }
    transit(ws, WS_SESSION_ENDED);
    ws->owner = NULL;
    mail = ws_mailbox_take(&ws->mail, NULL);
    pthread_mutex_unlock(&ws->lock);
    ws_mail_free_all(mail);
    release_admission(ws);
    if (end_hook) {
        end_hook(ws);
    }

    if (!ws->opened) {
        return;
    }
    ws->opened = 0;
    if (ws->engine.state != WS_STATE_CLOSED) {
        /* No close frame was exchanged.  If the server is stopping, that
         * is why (its MPM may have cut the socket first); else the peer
         * vanished or stopped answering. */
        if (ws_child_stopping_now()) {
            ws_conn_abort(&ws->engine, WS_CLOSE_CODE_GOING_AWAY,
                          ws_child_stop_reason());
        }
        else {
            ws_conn_abort(&ws->engine, WS_CLOSE_CODE_ABNORMAL,
                          ws->end_reason ? ws->end_reason : "");
        }
    }
    code = ws_session_close_code(ws);
    WS_SLOG(ws, APLOG_DEBUG, 0, 00021, "closed with %d (%s), %"
            APR_UINT64_T_FMT " messages in, %" APR_UINT64_T_FMT " out",
            code, ws->engine.close_reason, ws->engine.msgs_in,
            ws->engine.msgs_out);
    ws_stats_add_at(ws->loc, WS_LSTAT_OPEN, (apr_uint64_t)-1);
    ws_stats_closed(code, closed_by(ws));
    if (ws->plugin->h->on_close) {
        ws_session_t *outer = current_session;

        current_session = ws;
        ws->plugin->h->on_close(ws, code, ws->engine.close_reason);
        current_session = outer;
    }
}

void ws_session_kill(ws_session_t *ws)
{
    pthread_mutex_lock(&ws->lock);
    transit(ws, WS_SESSION_ENDED);
    ws->owner = NULL;
    pthread_mutex_unlock(&ws->lock);
}

void ws_session_wake(ws_session_t *ws)
{
    pthread_mutex_lock(&ws->lock);
    wake_locked(ws);
    pthread_mutex_unlock(&ws->lock);
}

/* --- what others may read --- */

unsigned long ws_session_id(const ws_session_t *ws)
{
    return ws->id;
}

ws_connid_t ws_session_gid(const ws_session_t *ws)
{
    return ws->gid;
}

ws_location_t *ws_session_location(const ws_session_t *ws)
{
    return ws->loc;
}

const ws_snapshot_t *ws_session_snapshot(const ws_session_t *ws)
{
    return ws->snap;
}

server_rec *ws_session_server(const ws_session_t *ws)
{
    return ws->s;
}

ws_plugin_t *ws_session_plugin(const ws_session_t *ws)
{
    return ws->plugin;
}

int ws_session_close_code(const ws_session_t *ws)
{
    return ws->engine.close_code ? ws->engine.close_code
                                 : WS_CLOSE_CODE_ABNORMAL;
}

void ws_session_outcome(const ws_session_t *ws, ws_session_outcome_t *out)
{
    out->close_code = ws_session_close_code(ws);
    out->close_reason = ws->engine.close_reason;
    out->closed_by = closed_by(ws);
    out->msgs_in = ws->engine.msgs_in;
    out->msgs_out = ws->engine.msgs_out;
    out->bytes_in = ws->wire_in;
    out->bytes_out = ws->wire_out;
    out->opened_at = ws->opened_at;
}

void ws_session_set_logline(ws_session_t *ws, void *block)
{
    free(__atomic_exchange_n(&ws->logline, block, __ATOMIC_ACQ_REL));
}

void *ws_session_take_logline(ws_session_t *ws)
{
    return __atomic_exchange_n(&ws->logline, NULL, __ATOMIC_ACQ_REL);
}


/* --- the handler API --- */

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

/* The owner's thread sent on ws: its output goes out this round. */
static void owner_sent(ws_session_t *ws)
{
    ws_timers_message(&ws->timers, apr_time_now());
    if (ws->owner && ws->owner->dirty) {
        ws->owner->dirty(ws->owner, ws, ws->owner_slot);
    }
}

/* A message over the output limit (lock held): counted, logged once;
 * what the policy says to do next is returned. */
static ws_outq_verdict_e admit(ws_session_t *ws, size_t len)
{
    int first;
    ws_outq_verdict_e v = ws_outq_admit(&ws->outq, ws->mail.bytes, len,
                                        &first);

    if (v == WS_OUTQ_OK) {
        return v;
    }
    ws_stats_add(WS_STAT_DROPPED, 1);
    if (v == WS_OUTQ_DROP_CLOSE) {
        ws_stats_add(WS_STAT_OVERFLOW_CLOSES, 1);
    }
    if (first) {
        WS_SLOG(ws, APLOG_WARNING, 0, 00022, "output queue over "
                "WebSocketMaxQueuedOutput (%" APR_SIZE_T_FMT " bytes): the "
                "peer reads too slowly; %s", ws->outq.limit,
                ws->outq.close_on_overflow
                ? "closing it with 1008"
                : "dropping messages (further drops are only counted)");
    }
    return v;
}

/* What a send or close does, decided under the lock. */
typedef enum {
    SEND_CLOSED,                /* ENDED: WS_ECLOSED */
    SEND_DIRECT,                /* the owner's thread: into the engine */
    SEND_MAILED,                /* mail queued: wake the owner */
    SEND_DROPPED,               /* over the limit: WS_EQUEUE */
    SEND_DROPPED_CLOSE,         /* ... and the owner's thread closes it */
    SEND_NOMEM                  /* mail could not be allocated */
} send_path_e;

/* A send of len bytes at data, or of sh's payload if sh is set. */
static int send_message(ws_session_t *ws, ws_msg_type_e type,
                        const void *data, size_t len, ws_shared_t *sh)
{
    ws_outq_verdict_e v;
    send_path_e path;
    int rv, posted;

    pthread_mutex_lock(&ws->lock);
    if (ws->state == WS_SESSION_ENDED) {
        path = SEND_CLOSED;
    }
    else if ((v = admit(ws, len)) != WS_OUTQ_OK) {
        path = SEND_DROPPED;
        if (v == WS_OUTQ_DROP_CLOSE) {
            if (on_owner_thread(ws)) {
                path = SEND_DROPPED_CLOSE;
            }
            else {
                /* The owner closes it when it reads its mail. */
                ws_mailbox_post(&ws->mail, WS_OP_CLOSE, WS_CLOSE_CODE_POLICY,
                                "output queue full", 17);
                wake_locked(ws);
            }
        }
    }
    else if (on_owner_thread(ws)) {
        path = SEND_DIRECT;
    }
    else {
        posted = sh ? ws_mailbox_post_shared(&ws->mail, type, sh)
                    : ws_mailbox_post(&ws->mail, type, 0, data, len);
        if (posted == 0) {
            path = SEND_MAILED;
            wake_locked(ws);
        }
        else {
            path = SEND_NOMEM;
        }
    }
    pthread_mutex_unlock(&ws->lock);

    switch (path) {
    case SEND_CLOSED:
        return WS_ECLOSED;
    case SEND_MAILED:
        return WS_OK;
    case SEND_DROPPED_CLOSE:
        begin_close(ws, WS_CLOSE_CODE_POLICY, "output queue full",
                    apr_time_now());
        owner_sent(ws);
        return WS_EQUEUE;
    case SEND_DIRECT:
        rv = map_conn_rv(ws_conn_send(&ws->engine, type, data, len));
        if (rv == WS_OK) {
            ws_stats_add_at(ws->loc, WS_LSTAT_MSGS_OUT, 1);
            owner_sent(ws);
        }
        return rv;
    default:                    /* dropped, or no memory for the mail */
        return WS_EQUEUE;
    }
}

int ws_session_send(ws_session_t *ws, ws_msg_type_e type, const void *data,
                    size_t len)
{
    if ((type != WS_MSG_TEXT && type != WS_MSG_BINARY) || (len && !data)) {
        return WS_EINVAL;
    }
    if (type == WS_MSG_TEXT && !ws_utf8_valid(data, len)) {
        return WS_EINVAL;
    }
    return send_message(ws, type, data, len, NULL);
}

int ws_session_send_shared(ws_session_t *ws, ws_msg_type_e type,
                           ws_shared_t *sh)
{
    return send_message(ws, type, sh->data, sh->len, sh);
}

int ws_session_post_call(ws_session_t *ws, ws_mail_call_fn call,
                         ws_mail_drop_fn drop, void *arg)
{
    int rv = WS_ECLOSED;

    pthread_mutex_lock(&ws->lock);
    if (ws->state != WS_SESSION_ENDED) {
        rv = ws_mailbox_post_call(&ws->mail, call, NULL, arg) == 0
             ? WS_OK : WS_EQUEUE;
        if (rv == WS_OK) {
            ws->mail.tail->drop = drop;
            wake_locked(ws);
        }
    }
    pthread_mutex_unlock(&ws->lock);
    if (rv != WS_OK && drop) {
        drop(arg);
    }
    return rv;
}

int ws_session_close(ws_session_t *ws, int code, const char *reason)
{
    size_t rlen = reason ? strlen(reason) : 0;
    send_path_e path;
    int rv;

    if (!ws_frame_close_code_valid(code) || rlen > WS_FRAME_MAX_CONTROL - 2
        || !ws_utf8_valid((const uint8_t *)(reason ? reason : ""), rlen)) {
        return WS_EINVAL;
    }
    pthread_mutex_lock(&ws->lock);
    if (ws->state == WS_SESSION_ENDED) {
        path = SEND_CLOSED;
    }
    else if (on_owner_thread(ws)) {
        path = SEND_DIRECT;
    }
    else if (ws_mailbox_post(&ws->mail, WS_OP_CLOSE, code,
                             reason ? reason : "", rlen) == 0) {
        path = SEND_MAILED;
        wake_locked(ws);
    }
    else {
        path = SEND_NOMEM;
    }
    pthread_mutex_unlock(&ws->lock);

    switch (path) {
    case SEND_CLOSED:
        return WS_ECLOSED;
    case SEND_MAILED:
        return WS_OK;
    case SEND_DIRECT:
        rv = map_conn_rv(ws_conn_close(&ws->engine, code, reason));
        if (rv == WS_OK) {
            ws_timers_close_sent(&ws->timers, apr_time_now());
            owner_sent(ws);
        }
        return rv;
    default:
        return WS_EQUEUE;
    }
}

void ws_session_set_user_data(ws_session_t *ws, void *data)
{
    ws->user_data = data;
}

void *ws_session_user_data(const ws_session_t *ws)
{
    return ws->user_data;
}
