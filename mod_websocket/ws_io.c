/*
 * ws_io.c -- how bytes move between the network and a session.
 *
 * One loop per connection, on its owner thread:
 *   read everything available (non-blocking, until EAGAIN) -> engine
 *   move mail from other threads -> engine
 *   flush what the engine produced
 *   wait in a pollset for the socket or a wake-up from another thread
 * Must not interpret WebSocket bytes (ws_conn does) nor touch handler state.
 */
#include <string.h>

#include "apr_poll.h"
#include "http_core.h"
#include "http_connection.h"
#include "util_filter.h"

#include "ws_private.h"
#include "ws_io.h"

/* Bytes read per ap_get_brigade call. */
#define WS_READ_CHUNK 65536

typedef enum {
    WS_IO_AGAIN,                /* nothing more to read now */
    WS_IO_EOF,                  /* the peer closed or the read failed */
    WS_IO_DONE                  /* the engine reached CLOSED */
} ws_io_result_e;

/* Read until EAGAIN, feeding the engine. */
static ws_io_result_e read_input(ws_session_t *ws, apr_bucket_brigade *ibb,
                                 uint8_t *buf)
{
    conn_rec *c = ws->c;

    for (;;) {
        apr_size_t len = WS_READ_CHUNK;
        apr_status_t rv;

        apr_brigade_cleanup(ibb);
        rv = ap_get_brigade(c->input_filters, ibb, AP_MODE_READBYTES,
                            APR_NONBLOCK_READ, WS_READ_CHUNK);
        if (APR_STATUS_IS_EAGAIN(rv)) {
            return WS_IO_AGAIN;
        }
        if (rv != APR_SUCCESS) {
            ap_log_cerror(APLOG_MARK, APLOG_TRACE1, rv, c,
                          "[ws %lu] read ended", ws->id);
            return WS_IO_EOF;
        }
        if (APR_BRIGADE_EMPTY(ibb)) {
            return WS_IO_AGAIN;
        }
        if (APR_BUCKET_IS_EOS(APR_BRIGADE_FIRST(ibb))) {
            return WS_IO_EOF;
        }
        rv = apr_brigade_flatten(ibb, (char *)buf, &len);
        if (rv != APR_SUCCESS) {
            return WS_IO_EOF;
        }
        if (len == 0) {
            return WS_IO_AGAIN;
        }
        if (ws_conn_feed(&ws->engine, buf, len) == WS_STATE_CLOSED) {
            return WS_IO_DONE;
        }
    }
}

/* Pass what the engine produced down the connection filters, flushed. */
static apr_status_t flush_output(ws_session_t *ws)
{
    conn_rec *c = ws->c;
    apr_status_t rv;

    if (ws->write_status != APR_SUCCESS) {
        return ws->write_status;
    }
    if (APR_BRIGADE_EMPTY(ws->obb)) {
        return APR_SUCCESS;
    }
    APR_BRIGADE_INSERT_TAIL(ws->obb,
                            apr_bucket_flush_create(c->bucket_alloc));
    rv = ap_pass_brigade(c->output_filters, ws->obb);
    apr_brigade_cleanup(ws->obb);
    if (rv != APR_SUCCESS) {
        ws->write_status = rv;
        ap_log_cerror(APLOG_MARK, APLOG_DEBUG, rv, c, WSLOGNO(00030)
                      "[ws %lu %s] write failed", ws->id, ws->path);
    }
    return rv;
}

void ws_io_run(ws_session_t *ws)
{
    conn_rec *c = ws->c;
    apr_pool_t *p;
    apr_pollset_t *ps = NULL;
    apr_pollfd_t pfd;
    apr_bucket_brigade *ibb;
    uint8_t *buf;
    apr_time_t close_deadline = 0;
    apr_status_t rv;

    apr_pool_create(&p, c->pool);
    apr_pool_tag(p, "ws_io");
    ibb = apr_brigade_create(p, c->bucket_alloc);
    /* One spare byte: ws_conn_feed NUL-terminates messages in place. */
    buf = apr_palloc(p, WS_READ_CHUNK + 1);

    rv = apr_pollset_create(&ps, 1, p, APR_POLLSET_WAKEABLE);
    if (rv == APR_SUCCESS) {
        memset(&pfd, 0, sizeof(pfd));
        pfd.p = p;
        pfd.desc_type = APR_POLL_SOCKET;
        pfd.desc.s = ap_get_conn_socket(c);
        pfd.reqevents = APR_POLLIN;
        rv = apr_pollset_add(ps, &pfd);
    }
    if (rv != APR_SUCCESS) {
        ap_log_cerror(APLOG_MARK, APLOG_ERR, rv, c, WSLOGNO(00031)
                      "[ws %lu %s] cannot create a pollset", ws->id,
                      ws->path);
        ws_conn_abort(&ws->engine);
        ws_session_finish(ws);
        apr_pool_destroy(p);
        return;
    }
    apr_thread_mutex_lock(ws->lock);
    ws->wakeup = ps;
    apr_thread_mutex_unlock(ws->lock);

    ws_session_own(ws);
    for (;;) {
        ws_io_result_e res;
        apr_interval_time_t wait = -1;
        const apr_pollfd_t *out;
        apr_int32_t n;

        res = read_input(ws, ibb, buf);
        ws_session_drain_mail(ws);
        flush_output(ws);
        if (res != WS_IO_AGAIN || ws->write_status != APR_SUCCESS
            || ws->engine.state == WS_STATE_CLOSED) {
            break;
        }
        if (ws->engine.state == WS_STATE_CLOSING) {
            /* Section 7.1.1: wait for the peer's close, but not forever. */
            apr_time_t now = apr_time_now();

            if (!close_deadline) {
                close_deadline = now + WS_CLOSE_TIMEOUT;
            }
            if (now >= close_deadline) {
                ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c, WSLOGNO(00032)
                              "[ws %lu %s] no close frame from the peer "
                              "in time", ws->id, ws->path);
                break;
            }
            wait = close_deadline - now;
        }
        rv = apr_pollset_poll(ps, wait, &n, &out);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EINTR(rv)
            && !APR_STATUS_IS_TIMEUP(rv)) {
            ap_log_cerror(APLOG_MARK, APLOG_ERR, rv, c, WSLOGNO(00033)
                          "[ws %lu %s] poll failed", ws->id, ws->path);
            break;
        }
    }
    apr_thread_mutex_lock(ws->lock);
    ws->wakeup = NULL;
    apr_thread_mutex_unlock(ws->lock);
    apr_pollset_remove(ps, &pfd);
    ws_session_finish(ws);
    flush_output(ws);
    ws_session_disown(ws);
    apr_pool_destroy(p);
}
