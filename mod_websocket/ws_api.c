/*
 * ws_api.c -- the ws_api_t table handed to handlers (ws_plugin_api.h).
 *
 * Owns: nothing but the table: each function is what its documentation in
 * ws_plugin_api.h says, done by the session (ws_session.c), the channels
 * (ws_channels.c) or a location (ws_location.h), or read from the request
 * snapshot (ws_snapshot.c).  Every function may be called
 * from any thread.  Must not keep state.
 */
#include <stdarg.h>

#include "apr_strings.h"
#include "httpd.h"
#include "http_log.h"

#include "ws_private.h"
#include "ws_api.h"
#include "ws_channels.h"
#include "ws_location.h"
#include "ws_session.h"
#include "ws_snapshot.h"

static int api_send(ws_connection_t *ws, ws_msg_type_e type,
                    const void *data, size_t len)
{
    return ws_session_send(ws, type, data, len);
}

static int api_close(ws_connection_t *ws, int code, const char *reason)
{
    return ws_session_close(ws, code, reason);
}

static void api_set_data(ws_connection_t *ws, void *data)
{
    ws_session_set_user_data(ws, data);
}

static void *api_get_data(ws_connection_t *ws)
{
    return ws_session_user_data(ws);
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
    return ws_session_id(ws);
}

static const char *api_path(ws_connection_t *ws)
{
    return ws_snapshot_path(ws_session_snapshot(ws));
}

static const char *api_query(ws_connection_t *ws)
{
    return ws_snapshot_query(ws_session_snapshot(ws));
}

static const char *api_header(ws_connection_t *ws, const char *name)
{
    return ws_snapshot_header(ws_session_snapshot(ws), name);
}

static const char *api_cookie(ws_connection_t *ws, const char *name)
{
    return ws_snapshot_cookie(ws_session_snapshot(ws), name);
}

static const char *api_user(ws_connection_t *ws)
{
    return ws_snapshot_user(ws_session_snapshot(ws));
}

static const char *api_remote_addr(ws_connection_t *ws)
{
    return ws_snapshot_remote_addr(ws_session_snapshot(ws));
}

static const char *api_option(ws_connection_t *ws, const char *name)
{
    return ws_snapshot_option(ws_session_snapshot(ws), name);
}

static const char *api_protocol(ws_connection_t *ws)
{
    return ws_session_protocol(ws);
}

static int api_select_protocol(ws_connection_t *ws, const char *protocol)
{
    return ws_session_select_protocol(ws, protocol);
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
        WS_SLOG(ws, level, 0, 00023, "%s: %s", ws_session_plugin(ws)->name,
                buf);
    }
    else {
        ap_log_error(APLOG_MARK, level, 0, NULL, WSLOGNO(00024)
                     "handler: %s", buf);
    }
}

static ws_connid_t api_conn_id(ws_connection_t *ws)
{
    return ws_session_gid(ws);
}

static ws_location_t *api_location(ws_connection_t *ws)
{
    return ws_session_location(ws);
}

static void api_set_location_data(ws_location_t *loc, void *data)
{
    if (loc) {
        loc->data = data;
    }
}

static void *api_location_data(ws_location_t *loc)
{
    return loc ? loc->data : NULL;
}

static const char *api_location_option(ws_location_t *loc, const char *name)
{
    return loc && loc->conf->options && name
           ? apr_table_get(loc->conf->options, name) : NULL;
}

static const char *api_location_namespace(ws_location_t *loc)
{
    return loc ? loc->ns : NULL;
}

const ws_api_t ws_api = {
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
    api_log,
    api_conn_id,
    api_location,
    api_set_location_data,
    api_location_data,
    api_location_option,
    api_location_namespace,
    ws_channels_subscribe,
    ws_channels_unsubscribe,
    ws_channels_publish,
    ws_channels_send_to,
    ws_channels_deliver
};
