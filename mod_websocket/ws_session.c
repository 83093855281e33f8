/*
 * ws_session.c -- one WebSocket connection as httpd and handlers see it.
 *
 * Owns the lifetime, the request snapshot, the cross-thread mailbox and the
 * ws_api_t functions (see ws_session.h for the thread and memory rules).
 * Must not do socket I/O: ws_io.c moves bytes; here output only goes into
 * the owner's brigade.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apr_atomic.h"
#include "apr_strings.h"
#include "apr_lib.h"
#include "http_core.h"
#include "http_protocol.h"
#include "util_filter.h"

#include "ws_private.h"
#include "ws_session.h"
#include "ws_utf8.h"
#include "ws_handshake.h"

/* Per-child connection numbers. */
static apr_uint32_t next_id;

/* Output queued by other threads beyond this is dropped (WS_EQUEUE). */
#define WS_MAIL_LIMIT (64 * 1024 * 1024)

static int copy_entry(void *data, const char *key, const char *val)
{
    apr_table_add(data, key, val);
    return 1;
}

/* A deep copy: apr_table_copy would keep pointers into r->pool. */
static apr_table_t *table_deep_copy(apr_pool_t *p, const apr_table_t *t)
{
    apr_table_t *out = apr_table_make(p, 16);

    if (t) {
        apr_table_do(copy_entry, out, t, NULL);
    }
    return out;
}

/* Cookie: a=1; b="two" (RFC 6265 section 4.2.1). */
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
        char *eq, *name, *val;
        size_t vlen;

        while (apr_isspace(*pair)) {
            pair++;
        }
        eq = strchr(pair, '=');
        if (!eq || eq == pair) {
            continue;
        }
        *eq = '\0';
        name = pair;
        apr_collapse_spaces(name, name);
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
        if (!apr_table_get(t, name)) {
            apr_table_setn(t, name, val);
        }
    }
    return t;
}

ws_session_t *ws_session_create(request_rec *r, const ws_dir_conf_t *conf,
                                ws_plugin_t *plugin)
{
    apr_pool_t *pool;
    ws_session_t *ws;

    apr_pool_create_unmanaged_ex(&pool, NULL, NULL);
    apr_pool_tag(pool, "ws_session");
    ws = apr_pcalloc(pool, sizeof(*ws));
    ws->pool = pool;
    ws->refs = 1;
    ws->id = apr_atomic_inc32(&next_id) + 1;
    apr_thread_mutex_create(&ws->lock, APR_THREAD_MUTEX_DEFAULT, pool);

    ws->s = r->server;
    ws->path = apr_pstrdup(pool, r->uri);
    ws->query = r->args ? apr_pstrdup(pool, r->args) : NULL;
    ws->user = r->user ? apr_pstrdup(pool, r->user) : NULL;
    ws->remote_addr = apr_pstrdup(pool, r->useragent_ip);
    ws->headers = table_deep_copy(pool, r->headers_in);
    ws->cookies = parse_cookies(pool, apr_table_get(ws->headers, "Cookie"));
    ws->options = table_deep_copy(pool, conf->options);
    ws->offered = apr_table_get(ws->headers, "Sec-WebSocket-Protocol");
    ws->plugin = plugin;
    ws->conf = conf;
    ws->write_status = APR_SUCCESS;
    return ws;
}

ws_session_t *ws_session_ref(ws_session_t *ws)
{
    apr_atomic_inc32(&ws->refs);
    return ws;
}

static void free_mail(ws_session_t *ws)
{
    ws_mail_t *m = ws->mail_head, *next;

    for (; m; m = next) {
        next = m->next;
        free(m);
    }
    ws->mail_head = ws->mail_tail = NULL;
    ws->mail_bytes = 0;
}

void ws_session_unref(ws_session_t *ws)
{
    if (apr_atomic_dec32(&ws->refs) == 0) {
        free_mail(ws);
        ws_conn_cleanup(&ws->engine);
        apr_pool_destroy(ws->pool);
    }
}

void ws_session_own(ws_session_t *ws)
{
    apr_thread_mutex_lock(ws->lock);
    ws->owner = apr_os_thread_current();
    ws->has_owner = 1;
    apr_thread_mutex_unlock(ws->lock);
}

void ws_session_disown(ws_session_t *ws)
{
    apr_thread_mutex_lock(ws->lock);
    ws->has_owner = 0;
    apr_thread_mutex_unlock(ws->lock);
}

/* Called with the lock held. */
static int is_owner(ws_session_t *ws)
{
    return ws->has_owner
           && apr_os_thread_equal(ws->owner, apr_os_thread_current());
}

/* --- the engine's callbacks (owner thread) --- */

static int engine_message(void *baton, int opcode, const uint8_t *data,
                          size_t len)
{
    ws_session_t *ws = baton;

    return ws->plugin->h->on_message(ws, opcode == WS_OP_TEXT ? WS_MSG_TEXT
                                                               : WS_MSG_BINARY,
                                     (const char *)data, len);
}

static int engine_output(void *baton, const uint8_t *hdr, size_t hlen,
                         const uint8_t *payload, size_t plen)
{
    ws_session_t *ws = baton;
    apr_status_t rv;

    if (ws->write_status != APR_SUCCESS) {
        return -1;
    }
    /* Small writes are copied into heap buckets; large ones make the
     * brigade pass down the filters (ap_filter_flush) first. */
    rv = apr_brigade_write(ws->obb, ap_filter_flush, ws->c->output_filters,
                           (const char *)hdr, hlen);
    if (rv == APR_SUCCESS && plen) {
        rv = apr_brigade_write(ws->obb, ap_filter_flush,
                               ws->c->output_filters,
                               (const char *)payload, plen);
    }
    if (rv != APR_SUCCESS) {
        ws->write_status = rv;
        return -1;
    }
    return 0;
}

static void engine_violation(void *baton, int code, const char *reason)
{
    ws_session_t *ws = baton;

    /* A client's protocol violation is not a server error: info. */
    ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, ws->c, WSLOGNO(00020)
                  "[ws %lu %s] closing with %d: %s", ws->id, ws->path, code,
                  reason);
}

static const ws_conn_ops_t engine_ops = {
    engine_message,
    engine_output,
    NULL,
    engine_violation
};

void ws_session_start(ws_session_t *ws, conn_rec *c)
{
    ws_conn_limits_t limits;

    limits.max_message_size = (uint64_t)ws_conf_max_message(ws->conf);
    limits.max_frame_size = (uint64_t)ws_conf_max_frame(ws->conf);
    ws->c = c;
    ws->obb = apr_brigade_create(c->pool, c->bucket_alloc);
    ws_conn_init(&ws->engine, &limits, &engine_ops, ws);
}

void ws_session_drain_mail(ws_session_t *ws)
{
    ws_mail_t *m, *next;

    apr_thread_mutex_lock(ws->lock);
    m = ws->mail_head;
    ws->mail_head = ws->mail_tail = NULL;
    ws->mail_bytes = 0;
    apr_thread_mutex_unlock(ws->lock);

    for (; m; m = next) {
        next = m->next;
        if (m->opcode == WS_OP_CLOSE) {
            ws_conn_close(&ws->engine, m->close_code,
                          m->len ? (const char *)m->data : NULL);
        }
        else {
            ws_conn_send(&ws->engine, m->opcode, m->data, m->len);
        }
        free(m);
    }
}

void ws_session_finish(ws_session_t *ws)
{
    int code;

    apr_thread_mutex_lock(ws->lock);
    ws->closed = 1;
    apr_thread_mutex_unlock(ws->lock);
    free_mail(ws);

    if (ws->engine.state != WS_STATE_CLOSED) {
        ws_conn_abort(&ws->engine);
    }
    code = ws->engine.close_code ? ws->engine.close_code : WS_CLOSE_ABNORMAL;
    ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, ws->c, WSLOGNO(00021)
                  "[ws %lu %s] closed with %d, %" APR_UINT64_T_FMT
                  " messages in, %" APR_UINT64_T_FMT " out", ws->id,
                  ws->path, code, ws->engine.msgs_in, ws->engine.msgs_out);
    if (ws->opened && ws->plugin->h->on_close) {
        ws->plugin->h->on_close(ws, code, ws->engine.close_reason);
    }
    ws->opened = 0;
}

/* --- the handler API --- */

/* Queue for the owner, from another thread. */
static int post_mail(ws_session_t *ws, int opcode, int code,
                     const void *data, size_t len)
{
    ws_mail_t *m;
    int rv = WS_OK;

    m = malloc(sizeof(*m) + len);
    if (!m) {
        return WS_EQUEUE;
    }
    m->next = NULL;
    m->opcode = opcode;
    m->close_code = code;
    m->len = len;
    memcpy(m->data, data, len);
    m->data[len] = '\0';

    apr_thread_mutex_lock(ws->lock);
    if (ws->closed) {
        rv = WS_ECLOSED;
    }
    else if (opcode != WS_OP_CLOSE && ws->mail_bytes + len > WS_MAIL_LIMIT) {
        rv = WS_EQUEUE;
    }
    else {
        if (ws->mail_tail) {
            ws->mail_tail->next = m;
        }
        else {
            ws->mail_head = m;
        }
        ws->mail_tail = m;
        ws->mail_bytes += len;
        if (ws->wakeup) {
            apr_pollset_wakeup(ws->wakeup);
        }
        m = NULL;
    }
    apr_thread_mutex_unlock(ws->lock);

    if (rv == WS_EQUEUE && apr_atomic_inc32(&ws->dropped) == 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ws->s, WSLOGNO(00022)
                     "[ws %lu %s] output queue over %d bytes: message "
                     "dropped (further drops on this connection are only "
                     "counted)", ws->id, ws->path, WS_MAIL_LIMIT);
    }
    free(m);
    return rv;
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

static int api_send(ws_connection_t *ws, ws_msg_type_e type,
                    const void *data, size_t len)
{
    int owner;

    if ((type != WS_MSG_TEXT && type != WS_MSG_BINARY)
        || (len && !data)) {
        return WS_EINVAL;
    }
    if (type == WS_MSG_TEXT && !ws_utf8_valid(data, len)) {
        return WS_EINVAL;
    }
    apr_thread_mutex_lock(ws->lock);
    owner = is_owner(ws) && !ws->closed;
    apr_thread_mutex_unlock(ws->lock);
    if (owner) {
        return map_conn_rv(ws_conn_send(&ws->engine, type, data, len));
    }
    return post_mail(ws, type, 0, data, len);
}

static int api_close(ws_connection_t *ws, int code, const char *reason)
{
    size_t rlen = reason ? strlen(reason) : 0;
    int owner;

    if (!ws_frame_close_code_valid(code) || rlen > WS_FRAME_MAX_CONTROL - 2
        || !ws_utf8_valid((const uint8_t *)(reason ? reason : ""), rlen)) {
        return WS_EINVAL;
    }
    apr_thread_mutex_lock(ws->lock);
    owner = is_owner(ws) && !ws->closed;
    apr_thread_mutex_unlock(ws->lock);
    if (owner) {
        return map_conn_rv(ws_conn_close(&ws->engine, code, reason));
    }
    return post_mail(ws, WS_OP_CLOSE, code, reason ? reason : "", rlen);
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
    return name ? apr_table_get(ws->headers, name) : NULL;
}

static const char *api_cookie(ws_connection_t *ws, const char *name)
{
    return name ? apr_table_get(ws->cookies, name) : NULL;
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
    return name ? apr_table_get(ws->options, name) : NULL;
}

static const char *api_protocol(ws_connection_t *ws)
{
    return ws->protocol;
}

static int api_select_protocol(ws_connection_t *ws, const char *protocol)
{
    const char *list = ws->offered;
    char tok[64];

    if (!ws->in_open) {
        return WS_EINVAL;
    }
    if (!protocol) {
        ws->protocol = NULL;
        return WS_OK;
    }
    while (list && ws_handshake_next_token(&list, tok, sizeof(tok)) > 0) {
        if (!strcmp(tok, protocol)) {
            ws->protocol = apr_pstrdup(ws->pool, tok);
            return WS_OK;
        }
    }
    return WS_EINVAL;
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
