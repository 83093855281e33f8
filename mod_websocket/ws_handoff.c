/*
 * ws_handoff.c -- handing an upgraded connection from mpm_event to an
 * event loop (see ws_handoff.h).
 *
 * The upgrade request returns right after the 101.  The "kick" input
 * filter answers httpd's pipelining check (a SPECULATIVE read) with one
 * fake byte, so mpm_event's write completion goes straight back into
 * process_connection on the same worker instead of waiting in keep-alive.
 * Our process_connection hook returns CONN_STATE_SUSPENDED; mpm_event may
 * still close the connection then (c->aborted), so the loop adopts it only
 * in the suspend_connection hook, once mpm_event has let go.
 */
#include "ap_mpm.h"
#include "mpm_common.h"            /* suspend_connection */
#include "http_connection.h"
#include "http_core.h"
#include "util_filter.h"

#include "ws_private.h"
#include "ws_handoff.h"
#include "ws_config.h"
#include "ws_loop.h"

/* What a connection being handed off carries (in c->conn_config). */
typedef struct {
    ws_io_t *io;
    int suspending;             /* our hook returned SUSPENDED */
    int adopted;                /* a loop took it */
} handoff_t;

static ap_filter_rec_t *kick_filter_handle;
static int mpm_can_suspend = -1;

/*
 * For a SPECULATIVE read (httpd's pipelining check after the upgrade
 * request), pretend a byte is waiting, so that mpm_event goes straight
 * back into process_connection instead of keep-alive.  Our hook removes
 * the filter before anything else reads.
 */
static apr_status_t kick_filter(ap_filter_t *f, apr_bucket_brigade *bb,
                                ap_input_mode_t mode, apr_read_type_e block,
                                apr_off_t readbytes)
{
    if (mode == AP_MODE_SPECULATIVE) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_immortal_create(
                                        "K", 1, f->c->bucket_alloc));
        return APR_SUCCESS;
    }
    return ap_get_brigade(f->next, bb, mode, block, readbytes);
}

int ws_handoff_loops_allowed(void)
{
    if (mpm_can_suspend < 0) {
        int async = 0, waitio = 0;

        /* CONN_STATE_SUSPENDED exists since 2.4.0, but only mpm_event
         * (async) supports it; WAITIO (2.4.63) marks an mpm_event recent
         * enough to account suspended connections the way we rely on. */
        ap_mpm_query(AP_MPMQ_IS_ASYNC, &async);
#ifdef AP_MPMQ_CAN_WAITIO
        ap_mpm_query(AP_MPMQ_CAN_WAITIO, &waitio);
#endif
        mpm_can_suspend = async && waitio;
    }
    return mpm_can_suspend && ws_io_mode == WS_IO_AUTO;
}

int ws_handoff_prepare(ws_io_t *io)
{
    conn_rec *c = ws_io_conn(io);
    handoff_t *h;

    /* HTTP/2 streams (c->master) are not sockets a loop can poll. */
    if (!ws_handoff_loops_allowed() || !ws_loop_available() || c->master
        || !c->cs) {
        return 0;
    }
    h = apr_pcalloc(c->pool, sizeof(*h));
    h->io = io;
    ap_add_input_filter_handle(kick_filter_handle, NULL, NULL, c);
    ap_set_module_config(c->conn_config, &websocket_module, h);
    c->keepalive = AP_CONN_KEEPALIVE;
    return 1;
}

static int process_connection(conn_rec *c)
{
    handoff_t *h = ap_get_module_config(c->conn_config, &websocket_module);

    if (!h || !c->cs) {
        return DECLINED;
    }
    ap_remove_input_filter_byhandle(c->input_filters, "WS_KICK");
    if (h->suspending || h->adopted || !ws_loop_available()) {
        /* No loop can take it (or mpm_event came back to it): serve it on
         * this worker until it ends. */
        ws_io_run_thread(h->io);
        c->cs->state = CONN_STATE_LINGER;
        return OK;
    }
    h->suspending = 1;
    c->cs->state = CONN_STATE_SUSPENDED;
    return OK;
}

static void suspend_connection(conn_rec *c, request_rec *r)
{
    handoff_t *h = ap_get_module_config(c->conn_config, &websocket_module);

    (void)r;
    /* mpm_event also calls this hook when it parks a connection in one of
     * its own queues (write completion, keep-alive): only a connection we
     * suspended ourselves is ours to take. */
    if (!h || !h->suspending || h->adopted || !c->cs
        || c->cs->state != CONN_STATE_SUSPENDED) {
        return;
    }
    h->adopted = 1;
    /* After this call nothing here may touch c or the session: the loop
     * owns them (see ws_io.c, release_safe, for what mpm_event still
     * writes). */
    if (ws_loop_adopt(h->io) != 0) {
        ap_log_cerror(APLOG_MARK, APLOG_ERR, 0, c, WSLOGNO(00065)
                      "no event loop took the WebSocket connection");
    }
}

void ws_handoff_register_hooks(void)
{
    kick_filter_handle = ap_register_input_filter("WS_KICK", kick_filter,
                                                  NULL, AP_FTYPE_CONNECTION);
    /* First: before mod_http2's (which would read the WebSocket bytes as
     * an h2 preface) and http's. */
    ap_hook_process_connection(process_connection, NULL, NULL,
                               APR_HOOK_FIRST);
    ap_hook_suspend_connection(suspend_connection, NULL, NULL,
                               APR_HOOK_MIDDLE);
}
