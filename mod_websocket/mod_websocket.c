/*
 * mod_websocket.c -- glue between httpd and the WebSocket module: the
 * composition root.
 *
 * Only the module declaration and hooks live here; each hook hands off to
 * the file that owns the work (see docs/INTERNALS.md for the file map):
 *   pre_config   ws_plugin_reset, ws_addrlimit_reset, ws_conf_reset_globals
 *   check_config ws_conf_check_config: options of inner locations
 *   post_config  ws_addrlimit_post_config, ws_capacity_post_config,
 *                ws_ids_post_config, ws_stats_post_config (the shared
 *                counters), the channel hub (ws_hub), mod_logio's count
 *                (ws_io_post_config)
 *   child_init   this child's id number (ws_ids), its counters
 *                (ws_stats), handlers' init
 *                (ws_plugin), the locations' init (ws_location), the
 *                channels (ws_channels), the registry, the shared tables,
 *                prefork's stop signals (ws_io), the event loops
 *   child_stopping  ws_child_stopping; an immediate stop also closes the
 *                loops' sessions now (ws_loop_stop_sessions)
 *   handler      ws_upgrade_handle: the opening handshake and the session;
 *                ws_publish_handle: websocket-publish (HTTP publishing);
 *                ws_status_handle: websocket-status (the figures)
 *   process_connection, suspend_connection  the hand-off to an event
 *                loop (ws_handoff)
 *   status_hook  ws_status_hook: the server's totals on mod_status's page
 */
#define WS_MAIN_FILE

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "ap_mpm.h"
#include "mpm_common.h"
#include "mod_status.h"

#include "ws_private.h"
#include "ws_addrlimit.h"
#include "ws_api.h"
#include "ws_capacity.h"
#include "ws_channels.h"
#include "ws_child.h"
#include "ws_config.h"
#include "ws_handoff.h"
#include "ws_hub.h"
#include "ws_ids.h"
#include "ws_io.h"
#include "ws_location.h"
#include "ws_loop.h"
#include "ws_plugin.h"
#include "ws_publish.h"
#include "ws_registry.h"
#include "ws_stats.h"
#include "ws_status.h"
#include "ws_upgrade.h"

static int ws_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                         apr_pool_t *ptemp)
{
    (void)pconf; (void)plog; (void)ptemp;
    ws_plugin_reset();
    ws_location_reset();
    ws_addrlimit_reset();
    ws_conf_reset_globals();
    return OK;
}

static int ws_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s)
{
    int loops = ws_handoff_loops_allowed();

    (void)plog;
    if (ws_addrlimit_post_config(s) != APR_SUCCESS
        || ws_capacity_post_config(ptemp, s, loops) != APR_SUCCESS
        || ws_ids_post_config(s) != APR_SUCCESS
        || ws_stats_post_config(s) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* Without the hub, channels still work within each child. */
    ws_hub_post_config(pconf, s);
    ws_io_post_config();
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, WSLOGNO(00002)
                     "mod_websocket/" WS_MODULE_VERSION " (handler ABI %d): "
                     "%s", WS_PLUGIN_ABI_VERSION,
                     loops ? "WebSocket connections run in event loops (no "
                             "httpd thread each)"
                           : "one thread per WebSocket connection (the MPM "
                             "cannot hand connections over, or "
                             "WebSocketIOMode Thread)");
    }
    return OK;
}

static void ws_child_init(apr_pool_t *pchild, server_rec *s)
{
    ws_ids_child_init();
    ws_stats_child_init();
    ws_plugin_child_init(pchild, s, &ws_api);
    ws_location_child_init(pchild, s);
    ws_channels_child_init(pchild, s);
    ws_registry_child_init(pchild, s);
    ws_addrlimit_child_init(pchild);
    ws_io_child_init(pchild);
    if (ws_handoff_loops_allowed()) {
        ws_loop_child_init(pchild, s);
    }
}

static void ws_child_stopping_hook(apr_pool_t *pchild, int graceful)
{
    ws_child_stopping(pchild, graceful);
    if (!graceful) {
        ws_loop_stop_sessions();
    }
}

static int ws_handler(request_rec *r)
{
    ws_dir_conf_t *conf;

    if (r->main) {
        return DECLINED;
    }
    conf = ap_get_module_config(r->per_dir_config, &websocket_module);
    if (r->handler && !strcmp(r->handler, WS_PUBLISH_HANDLER)) {
        return ws_publish_handle(r, conf);
    }
    if (r->handler && !strcmp(r->handler, WS_STATUS_HANDLER)) {
        return ws_status_handle(r);
    }
    if (!conf || !conf->handler) {
        return DECLINED;
    }
    return ws_upgrade_handle(r, conf);
}

static void ws_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_pre_config(ws_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(ws_conf_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(ws_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(ws_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_stopping(ws_child_stopping_hook, NULL, NULL,
                           APR_HOOK_MIDDLE);
    /* First: a WebSocket location answers upgrades whatever SetHandler
     * says; plain requests fall through when configured to. */
    ap_hook_handler(ws_handler, NULL, NULL, APR_HOOK_FIRST);
    ws_handoff_register_hooks();
    APR_OPTIONAL_HOOK(ap, status_hook, ws_status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
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
