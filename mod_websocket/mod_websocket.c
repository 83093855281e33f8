/*
 * mod_websocket.c -- glue between httpd and the WebSocket engine.
 *
 * Only the module declaration and hooks live here; each hook hands off to
 * the file that owns the work (see docs/INTERNALS.md for the file map):
 *   pre_config   ws_plugin_reset     a new configuration generation
 *   post_config  ws_addrlimit_post_config, ws_capacity_post_config
 *                the shared tables, the capacity
 *   child_init   ws_plugin_child_init handlers' per-process init/fini
 *   child_stopping  ws_registry_child_stopping  graceful or immediate
 *   handler      ws_upgrade_handle   the opening handshake and the session
 *   process_connection  ws_io_process_connection  suspend in mpm_event
 *   suspend_connection  ws_io_suspend_connection  adopt into an event loop
 *   status_hook  ws_stats_status_hook  counters on mod_status's page
 */
#define WS_MAIN_FILE

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_mpm.h"
#include "http_connection.h"
#include "mpm_common.h"

#include "ws_private.h"
#include "ws_config.h"
#include "ws_plugin.h"
#include "ws_session.h"
#include "ws_upgrade.h"
#include "ws_io.h"
#include "ws_stats.h"
#include "ws_registry.h"
#include "ws_loop.h"
#include "ws_addrlimit.h"
#include "ws_capacity.h"
#include "mod_status.h"

#define WS_MODULE_VERSION "0.1.0"

static int ws_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                         apr_pool_t *ptemp)
{
    (void)pconf; (void)plog; (void)ptemp;
    ws_plugin_reset();
    ws_addrlimit_reset();
    ws_conf_reset_globals();
    return OK;
}

static int ws_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s)
{
    (void)pconf; (void)plog;
    if (ws_addrlimit_post_config(s) != APR_SUCCESS
        || ws_capacity_post_config(ptemp, s, ws_io_loops_allowed())
           != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, WSLOGNO(00002)
                     "mod_websocket/" WS_MODULE_VERSION " (handler ABI %d): "
                     "%s", WS_PLUGIN_ABI_VERSION,
                     ws_io_loops_allowed()
                     ? "WebSocket connections run in event loops (no httpd "
                       "thread each)"
                     : "one thread per WebSocket connection (the MPM cannot "
                       "hand connections over, or WebSocketIOMode Thread)");
    }
    return OK;
}

static void ws_child_init(apr_pool_t *pchild, server_rec *s)
{
    ws_plugin_child_init(pchild, s, &ws_session_api);
    ws_registry_child_init(pchild, s);
    ws_addrlimit_child_init(pchild);
    ws_io_child_init(pchild);
    if (ws_io_loops_allowed()) {
        ws_loop_child_init(pchild, s);
    }
}

static int ws_handler(request_rec *r)
{
    ws_dir_conf_t *conf;

    if (r->main) {
        return DECLINED;
    }
    conf = ap_get_module_config(r->per_dir_config, &websocket_module);
    if (!conf || !conf->handler) {
        return DECLINED;
    }
    return ws_upgrade_handle(r, conf);
}

static void ws_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_pre_config(ws_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(ws_plugin_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(ws_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(ws_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_stopping(ws_registry_child_stopping, NULL, NULL,
                           APR_HOOK_MIDDLE);
    /* First: a WebSocket location answers upgrades whatever SetHandler
     * says; plain requests fall through when configured to. */
    ap_hook_handler(ws_handler, NULL, NULL, APR_HOOK_FIRST);
    /* First: before mod_http2's (which would read the WebSocket bytes as
     * an h2 preface) and http's. */
    ap_hook_process_connection(ws_io_process_connection, NULL, NULL,
                               APR_HOOK_FIRST);
    ap_hook_suspend_connection(ws_io_suspend_connection, NULL, NULL,
                               APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, ws_stats_status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
    ws_io_register_hooks();
}

AP_DECLARE_MODULE(websocket) = {
    STANDARD20_MODULE_STUFF,
    ws_create_dir_conf,         /* create per-directory config */
    ws_merge_dir_conf,          /* merge per-directory config */
    NULL,                       /* create per-server config */
    NULL,                       /* merge per-server config */
    ws_cmds,                    /* command table */
    ws_register_hooks           /* register hooks */
};
