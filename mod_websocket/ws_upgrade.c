/*
 * ws_upgrade.c -- turning an HTTP request into a WebSocket connection.
 *
 * Owns the content-handler side: it runs after httpd's own access checks
 * (Require, authentication, mod_ssl), so those apply before any upgrade.  It
 * answers a bad handshake with the precise status (ws_handshake decides
 * which), checks Origin, lets the handler accept or refuse, sends the 101,
 * and hands the connection to ws_io.  Must not parse frames.
 */
#include "apr_strings.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_core.h"             /* ap_response_code_string */
#include "util_filter.h"

#include "ws_private.h"
#include "ws_upgrade.h"
#include "ws_handshake.h"
#include "ws_session.h"
#include "ws_io.h"
#include "ws_handoff.h"
#include "ws_registry.h"
#include "ws_accesslog.h"
#include "ws_addrlimit.h"
#include "ws_capacity.h"
#include "ws_stats.h"

/* The pages a 426 gets, unless the admin set an ErrorDocument for 426
 * (httpd's stock page would tell the visitor to switch to TLS, which is
 * wrong here).  ap_custom_response takes text as is. */
#define WS_426_PLAIN_PAGE \
    "<!DOCTYPE html>\n<html><head><title>426 Upgrade Required</title>" \
    "</head><body>\n<h1>Upgrade Required</h1>\n<p>This URL is a " \
    "WebSocket endpoint: connect to it with a WebSocket client " \
    "(<code>new WebSocket(\"ws://...\")</code> in a page), not as a " \
    "page.</p>\n</body></html>\n"
#define WS_426_VERSION_PAGE \
    "<!DOCTYPE html>\n<html><head><title>426 Upgrade Required</title>" \
    "</head><body>\n<h1>Upgrade Required</h1>\n<p>This WebSocket " \
    "endpoint speaks version 13 of the WebSocket protocol (RFC 6455), " \
    "as the Sec-WebSocket-Version header of this answer says.</p>\n" \
    "</body></html>\n"

/* A 426 with its page (see above). */
static void page_426(request_rec *r, const char *page)
{
    if (!ap_response_code_string(r, ap_index_of_response(
                                        HTTP_UPGRADE_REQUIRED))) {
        ap_custom_response(r, HTTP_UPGRADE_REQUIRED, page);
    }
}

/* 426 for a plain request: say which protocol would be understood. */
static int refuse_plain(request_rec *r)
{
    apr_table_setn(r->err_headers_out, "Upgrade", "websocket");
    apr_table_setn(r->err_headers_out, "Connection", "Upgrade");
    page_426(r, WS_426_PLAIN_PAGE);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, WSLOGNO(00040)
                  "%s %s: not a WebSocket upgrade; answering 426 (use "
                  "WebSocketPlainRequests Serve to serve content here)",
                  r->method, r->uri);
    return HTTP_UPGRADE_REQUIRED;
}

/* Section 10.2: refuse cross-site WebSocket hijacking. */
static int origin_allowed(request_rec *r, const ws_dir_conf_t *conf,
                          const char *origin)
{
    const char *host = apr_table_get(r->headers_in, "Host");
    int i;

    if (!origin) {
        /* Non-browser clients send none; Origin protects browsers. */
        return 1;
    }
    if (ws_handshake_origin_same(origin, ap_http_scheme(r), host)) {
        return 1;
    }
    for (i = 0; conf->origins && i < conf->origins->nelts; i++) {
        if (ws_handshake_origin_match(origin, APR_ARRAY_IDX(conf->origins, i,
                                                           const char *))) {
            return 1;
        }
    }
    return 0;
}

/* The client offered subprotocols and none was agreed: RFC 6455 lets the
 * server answer without one, but browsers then fail the connection. */
static void note_no_protocol(request_rec *r, const ws_session_t *ws)
{
    if (ws_snapshot_noffers(ws_session_snapshot(ws)) > 0
        && !ws_session_protocol(ws)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, WSLOGNO(00068)
                      "%s: the client offered subprotocols (%s) and none "
                      "was agreed; browsers fail such a WebSocket (1006): "
                      "list the ones this endpoint speaks in "
                      "WebSocketProtocols, or * for any",
                      r->uri, apr_table_get(r->headers_in,
                                            "Sec-WebSocket-Protocol"));
    }
}

static int send_101(request_rec *r, ws_session_t *ws, const char *key)
{
    const char *protocol = ws_session_protocol(ws);
    const char *ext;
    char accept[WS_ACCEPT_LEN + 1];

    ws_handshake_accept(key, accept);
    apr_table_clear(r->headers_out);
    apr_table_setn(r->headers_out, "Upgrade", "websocket");
    apr_table_setn(r->headers_out, "Connection", "Upgrade");
    apr_table_setn(r->headers_out, "Sec-WebSocket-Accept",
                   apr_pstrdup(r->pool, accept));
    if (protocol) {
        apr_table_setn(r->headers_out, "Sec-WebSocket-Protocol", protocol);
    }
    /* httpd joined repeated headers with ", ": every offer is here. */
    if ((ext = ws_session_negotiate_deflate(
             ws, apr_table_get(r->headers_in, "Sec-WebSocket-Extensions"),
             r->pool))) {
        apr_table_setn(r->headers_out, "Sec-WebSocket-Extensions", ext);
    }
    r->status = HTTP_SWITCHING_PROTOCOLS;
    r->status_line = "101 Switching Protocols";
    /* Now: sending the headers clears them. */
    ws_accesslog_prepare(ws, r);
    ap_send_interim_response(r, 1);
    return OK;
}

/*
 * After the 101 this connection is no longer HTTP: stop httpd from
 * sending a response of its own at the end of the request, and stop
 * mod_reqtimeout from applying request deadlines to the WebSocket.
 */
static void leave_http(request_rec *r)
{
    conn_rec *c = r->connection;

    ap_remove_output_filter_byhandle(r->output_filters, "HTTP_HEADER");
    ap_remove_input_filter_byhandle(c->input_filters, "reqtimeout");
    ap_remove_output_filter_byhandle(c->output_filters, "reqtimeout");
    c->keepalive = AP_CONN_CLOSE;
}

static int upgrade(request_rec *r, const ws_dir_conf_t *conf);

int ws_upgrade_handle(request_rec *r, const ws_dir_conf_t *conf)
{
    int status;

    /* Under prefork, a stop signal must not run httpd's child cleanups
     * while a handler callback or a WebSocket runs on this thread. */
    ws_io_stop_signals_catch();
    status = upgrade(r, conf);
    ws_io_stop_signals_release();
    return status;
}

static int upgrade(request_rec *r, const ws_dir_conf_t *conf)
{
    ws_handshake_req_t hr;
    ws_hs_result_e res;
    const char *why, *origin, *key;
    ws_session_t *ws;
    ws_io_t *io;
    ws_capacity_hold_t hold;
    ws_capacity_e cap;
    int status, limit, held, token = -1;

    hr.method = r->method;
    hr.proto_num = r->proto_num;
    hr.host = apr_table_get(r->headers_in, "Host");
    hr.upgrade = apr_table_get(r->headers_in, "Upgrade");
    hr.connection = apr_table_get(r->headers_in, "Connection");
    hr.key = key = apr_table_get(r->headers_in, "Sec-WebSocket-Key");
    hr.version = apr_table_get(r->headers_in, "Sec-WebSocket-Version");
    hr.protocols = apr_table_get(r->headers_in, "Sec-WebSocket-Protocol");
    /* Over HTTP/2 (RFC 8441) the stream's DATA frames are the WebSocket,
     * and mod_http2 presents them as a chunked request body: only an
     * HTTP/1.1 upgrade has a body to refuse. */
    if (!r->connection->master) {
        hr.content_length = apr_table_get(r->headers_in, "Content-Length");
        hr.transfer_encoding = apr_table_get(r->headers_in,
                                             "Transfer-Encoding");
    }
    else {
        hr.content_length = hr.transfer_encoding = NULL;
    }

    res = ws_handshake_check(&hr, &why);
    switch (res) {
    case WS_HS_OK:
        break;
    case WS_HS_NOT_WEBSOCKET:
        if (ws_conf_plain(conf) == WS_PLAIN_SERVE) {
            return DECLINED;
        }
        return refuse_plain(r);
    case WS_HS_BAD_METHOD:
        /* httpd builds a 405's Allow from the request's method list. */
        ap_allow_methods(r, REPLACE_ALLOW, "GET", NULL);
        /* fall through */
    default:
        if (res == WS_HS_BAD_VERSION) {
            apr_table_setn(r->err_headers_out, "Sec-WebSocket-Version", "13");
            page_426(r, WS_426_VERSION_PAGE);
        }
        status = ws_handshake_status(res);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, WSLOGNO(00041)
                      "bad WebSocket handshake for %s: %s; answering %d",
                      r->uri, why, status);
        ws_stats_add(WS_STAT_HANDSHAKE_REFUSED, 1);
        return status;
    }

    origin = apr_table_get(r->headers_in, "Origin");
    if (!origin_allowed(r, conf, origin)) {
        /* At warn, httpd's default level: a page of another site opening
         * a socket here is what an admin must be able to see (and a site
         * that forgot WebSocketAllowedOrigins shows up the same way). */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, WSLOGNO(00042)
                      "WebSocket upgrade for %s from origin '%s' refused "
                      "with 403: not this site (%s://%s); see "
                      "WebSocketAllowedOrigins", r->uri, origin,
                      ap_http_scheme(r),
                      apr_table_get(r->headers_in, "Host"));
        ws_stats_add(WS_STAT_ORIGIN_REFUSED, 1);
        return HTTP_FORBIDDEN;
    }
    if (!conf->handler->ready) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, WSLOGNO(00043)
                      "WebSocket handler %s is not available in this process "
                      "(its init failed)", conf->handler->name);
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    limit = ws_conf_max_per_address(conf);
    if (limit > 0 && !ws_addrlimit_acquire(r->useragent_addr, limit, &token,
                                            &held)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, WSLOGNO(00067)
                      "WebSocket upgrade for %s refused: %s already holds "
                      "%d WebSocket connections "
                      "(WebSocketMaxConnectionsPerAddress %d); answering 503",
                      r->uri, r->useragent_ip, held, limit);
        ws_stats_add(WS_STAT_ADDR_REFUSED, 1);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    cap = ws_capacity_acquire(r, &hold);
    if (cap != WS_CAPACITY_OK) {
        ws_addrlimit_release(token);
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, WSLOGNO(00073)
                      "WebSocket upgrade for %s refused: %s; answering 503",
                      r->uri, cap == WS_CAPACITY_H2_CONN_FULL
                              ? "its HTTP/2 connection carries as many "
                                "WebSockets as it can"
                              : cap == WS_CAPACITY_H2_FULL
                              ? "this child's HTTP/2 workers are taken"
                              : "the server holds as many WebSockets as "
                                "it may");
        apr_table_setn(r->err_headers_out, "Retry-After",
                       WS_CAPACITY_RETRY_AFTER);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    ws = ws_session_create(r, conf, conf->handler);
    if (!ws) {
        ws_addrlimit_release(token);
        ws_capacity_release(&hold);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ws_session_hold_admission(ws, token, &hold);
    status = ws_session_open(ws, r, conf);
    if (status != 0) {
        ws_stats_add(WS_STAT_HANDLER_REFUSED, 1);
        ws_session_unref(ws);
        return status;
    }
    note_no_protocol(r, ws);

    send_101(r, ws, key);
    leave_http(r);
    WS_SLOG(ws, APLOG_DEBUG, 0, 00046, "open, handler %s, subprotocol %s",
            conf->handler->name, ws_session_protocol(ws)
                                 ? ws_session_protocol(ws) : "(none)");
    io = ws_io_create(ws, r->connection);
    ws_registry_add(ws);
    if (ws_handoff_prepare(io)) {
        /* An event loop takes it: the request ends here and is logged
         * with 101. */
        ws_session_unref(ws);
        return OK;
    }
    /* It runs on this thread; its session line (ws_accesslog) is written
     * at its end, then httpd logs this request's 101 line. */
    ws_io_run_thread(io);
    ws_session_unref(ws);
    return OK;
}
