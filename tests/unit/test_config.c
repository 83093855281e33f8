/*
 * test_config.c -- unit tests for ws_config.c: directive parsing through
 * the real command table, and mechanical merging of nested locations
 * (what httpd's own mod_proxy_wstunnel gets wrong for its idle timeout).
 *
 * The few httpd/plugin symbols ws_config.c calls are stubbed here, so the
 * test needs APR but no running httpd.
 */
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "apr_general.h"
#include "ws_config.h"
#include "ws_location.h"

/* --- stubs --- */

static ws_handler_t fake_handler = { WS_HANDLER_HEADER("fake") };
static ws_plugin_t fake_plugin = { .name = "echo", .path = "/x/echo.so",
                                   .h = &fake_handler, .ready = 1 };

ws_plugin_t *ws_plugin_find(const char *name)
{
    return strcmp(name, "echo") == 0 ? &fake_plugin : NULL;
}

const char *ws_plugin_load(apr_pool_t *p, const char *name, const char *path)
{
    (void)p; (void)name; (void)path;
    return NULL;
}

static int addrlimit_wanted;

void ws_addrlimit_wanted(void)
{
    addrlimit_wanted = 1;
}

const char *ap_check_cmd_context(cmd_parms *cmd, unsigned forbidden)
{
    (void)cmd; (void)forbidden;
    return NULL;
}

/* The module itself and httpd's logger, for ws_conf_check_config (which
 * the integration tests run in httpd). */
module websocket_module;

void ap_log_error_(const char *file, int line, int module_index, int level,
                   apr_status_t status, const server_rec *s,
                   const char *fmt, ...)
{
    (void)file; (void)line; (void)module_index; (void)level;
    (void)status; (void)s; (void)fmt;
}

/* httpd's time parser (server/util.c), reduced to what the tests use:
 * plain seconds or an "ms"/"s" suffix. */
apr_status_t ap_timeout_parameter_parse(const char *timeout_parameter,
                                        apr_interval_time_t *timeout,
                                        const char *default_time_unit)
{
    char *end;
    long v = strtol(timeout_parameter, &end, 10);

    (void)default_time_unit;
    if (end == timeout_parameter) {
        return APR_EGENERAL;
    }
    if (!strcmp(end, "ms")) {
        *timeout = apr_time_from_msec(v);
    }
    else if (!*end || !strcmp(end, "s")) {
        *timeout = apr_time_from_sec(v);
    }
    else {
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* --- helpers --- */

static apr_pool_t *pool;

static void setup(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    /* What pre_config does at each configuration read. */
    ws_location_reset();
    ws_conf_reset_globals();
}

static void teardown(void)
{
    apr_pool_destroy(pool);
    apr_terminate();
}

static const command_rec *find_cmd(const char *name)
{
    const command_rec *c;

    for (c = ws_cmds; c->name; c++) {
        if (!strcmp(c->name, name)) {
            return c;
        }
    }
    ck_abort_msg("no directive %s", name);
    return NULL;
}

/* Run one directive on conf as httpd would; returns its error or NULL. */
static const char *run(ws_dir_conf_t *conf, const char *name,
                       const char *a1, const char *a2)
{
    const command_rec *c = find_cmd(name);
    cmd_parms cmd;

    memset(&cmd, 0, sizeof(cmd));
    cmd.pool = pool;
    cmd.temp_pool = pool;
    cmd.cmd = c;
    cmd.info = c->cmd_data;
    switch (c->args_how) {
    case TAKE1:
    case ITERATE:
        return c->AP_TAKE1(&cmd, conf, a1);
    case TAKE2:
        return c->AP_TAKE2(&cmd, conf, a1, a2);
    default:
        ck_abort_msg("unexpected args_how for %s", name);
        return NULL;
    }
}

static ws_dir_conf_t *fresh(void)
{
    return ws_create_dir_conf(pool, NULL);
}

/* Run a directive as written in a section at path (NULL: the server
 * config), of a virtual host or not. */
static const char *run_in(ws_dir_conf_t *conf, const char *path,
                          int virtual_host, const char *name,
                          const char *a1, const char *a2)
{
    const command_rec *c = find_cmd(name);
    server_rec server;
    cmd_parms cmd;

    memset(&cmd, 0, sizeof(cmd));
    memset(&server, 0, sizeof(server));
    server.is_virtual = virtual_host;
    cmd.pool = pool;
    cmd.temp_pool = pool;
    cmd.cmd = c;
    cmd.info = c->cmd_data;
    cmd.path = (char *)path;
    cmd.server = &server;
    switch (c->args_how) {
    case TAKE1:
        return c->AP_TAKE1(&cmd, conf, a1);
    case TAKE12:
    case TAKE2:
        return c->AP_TAKE2(&cmd, conf, a1, a2);
    default:
        ck_abort_msg("unexpected args_how for %s", name);
        return NULL;
    }
}

/* --- tests --- */

START_TEST(unset_values_fall_back_to_the_defaults)
{
    ws_dir_conf_t *c = fresh();

    ck_assert_int_eq(ws_conf_max_message(c), WS_DEFAULT_MAX_MESSAGE);
    ck_assert_int_eq(ws_conf_max_frame(c), WS_DEFAULT_MAX_FRAME);
    ck_assert_int_eq(ws_conf_plain(c), WS_PLAIN_REFUSE);
    ck_assert_ptr_null(c->handler);
}
END_TEST

START_TEST(sizes_accept_units_and_reject_nonsense)
{
    ws_dir_conf_t *c = fresh();

    ck_assert_ptr_null(run(c, "WebSocketMaxMessageSize", "64K", NULL));
    ck_assert_int_eq(c->max_message, 65536);
    ck_assert_ptr_null(run(c, "WebSocketMaxFrameSize", "2M", NULL));
    ck_assert_int_eq(c->max_frame, 2 * 1024 * 1024);
    ck_assert_ptr_null(run(c, "WebSocketMaxMessageSize", "1G", NULL));
    ck_assert_int_eq(c->max_message, 1024 * 1024 * 1024);
    ck_assert_ptr_nonnull(run(c, "WebSocketMaxMessageSize", "0", NULL));
    ck_assert_ptr_nonnull(run(c, "WebSocketMaxMessageSize", "-5", NULL));
    ck_assert_ptr_nonnull(run(c, "WebSocketMaxMessageSize", "abc", NULL));
    ck_assert_ptr_nonnull(run(c, "WebSocketMaxMessageSize", "5X", NULL));
    ck_assert_ptr_nonnull(strstr(run(c, "WebSocketMaxFrameSize", "0", NULL),
                                 "WebSocketMaxFrameSize"));
}
END_TEST

START_TEST(origins_need_a_scheme_and_no_path)
{
    ws_dir_conf_t *c = fresh();

    ck_assert_ptr_null(run(c, "WebSocketAllowedOrigins",
                           "https://app.example.com", NULL));
    ck_assert_ptr_null(run(c, "WebSocketAllowedOrigins", "*", NULL));
    ck_assert_int_eq(c->origins->nelts, 2);
    ck_assert_ptr_nonnull(run(c, "WebSocketAllowedOrigins", "example.com",
                              NULL));
    ck_assert_ptr_nonnull(run(c, "WebSocketAllowedOrigins",
                              "https://example.com/app", NULL));
}
END_TEST

START_TEST(protocols_must_be_tokens)
{
    ws_dir_conf_t *c = fresh();

    ck_assert_ptr_null(run(c, "WebSocketProtocols", "chat.v2", NULL));
    ck_assert_ptr_nonnull(run(c, "WebSocketProtocols", "a,b", NULL));
    ck_assert_ptr_nonnull(run(c, "WebSocketProtocols", "a/b", NULL));
}
END_TEST

START_TEST(unknown_handler_is_refused_with_advice)
{
    ws_dir_conf_t *c = fresh();
    const char *err = run(c, "WebSocketHandler", "nope", NULL);

    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "WebSocketLoadHandler"));
    ck_assert_ptr_null(run(c, "WebSocketHandler", "echo", NULL));
    ck_assert_ptr_eq(c->handler, &fake_plugin);
}
END_TEST

START_TEST(plain_requests_take_refuse_or_serve)
{
    ws_dir_conf_t *c = fresh();

    ck_assert_ptr_null(run(c, "WebSocketPlainRequests", "serve", NULL));
    ck_assert_int_eq(ws_conf_plain(c), WS_PLAIN_SERVE);
    ck_assert_ptr_nonnull(run(c, "WebSocketPlainRequests", "maybe", NULL));
}
END_TEST

START_TEST(nested_locations_inherit_what_they_do_not_set)
{
    ws_dir_conf_t *outer = fresh(), *inner = fresh(), *m;

    run(outer, "WebSocketHandler", "echo", NULL);
    run(outer, "WebSocketMaxMessageSize", "1K", NULL);
    run(outer, "WebSocketHandlerOption", "room", "lobby");
    run(outer, "WebSocketProtocols", "chat", NULL);
    run(inner, "WebSocketHandlerOption", "greeting", "hi");
    run(inner, "WebSocketMaxFrameSize", "512", NULL);

    m = ws_merge_dir_conf(pool, outer, inner);
    ck_assert_ptr_eq(m->handler, &fake_plugin);
    ck_assert_int_eq(ws_conf_max_message(m), 1024);
    ck_assert_int_eq(ws_conf_max_frame(m), 512);
    ck_assert_str_eq(apr_table_get(m->options, "room"), "lobby");
    ck_assert_str_eq(apr_table_get(m->options, "greeting"), "hi");
    ck_assert_int_eq(m->protocols->nelts, 1);
}
END_TEST

START_TEST(inner_settings_override_outer_ones)
{
    ws_dir_conf_t *outer = fresh(), *inner = fresh(), *deeper = fresh();
    ws_dir_conf_t *m;

    run(outer, "WebSocketMaxMessageSize", "1K", NULL);
    run(outer, "WebSocketHandlerOption", "room", "lobby");
    run(outer, "WebSocketAllowedOrigins", "https://a.example", NULL);
    run(inner, "WebSocketMaxMessageSize", "4K", NULL);
    run(inner, "WebSocketHandlerOption", "room", "vip");
    run(deeper, "WebSocketPlainRequests", "Serve", NULL);

    /* Three levels: outer <- inner <- deeper, as httpd merges them. */
    m = ws_merge_dir_conf(pool, ws_merge_dir_conf(pool, outer, inner),
                          deeper);
    ck_assert_int_eq(ws_conf_max_message(m), 4096);
    ck_assert_str_eq(apr_table_get(m->options, "room"), "vip");
    ck_assert_int_eq(m->origins->nelts, 1);
    ck_assert_int_eq(ws_conf_plain(m), WS_PLAIN_SERVE);
    /* The outer config itself is untouched by merging. */
    ck_assert_str_eq(apr_table_get(outer->options, "room"), "lobby");
}
END_TEST

START_TEST(times_parse_and_zero_means_off_only_where_allowed)
{
    ws_dir_conf_t *c = fresh();

    ck_assert_ptr_null(run(c, "WebSocketPingInterval", "500ms", NULL));
    ck_assert_int_eq(ws_conf_ping_interval(c), apr_time_from_msec(500));
    ck_assert_ptr_null(run(c, "WebSocketPingInterval", "0", NULL));
    ck_assert_int_eq(ws_conf_ping_interval(c), 0);
    ck_assert_ptr_null(run(c, "WebSocketIdleTimeout", "0", NULL));
    ck_assert_ptr_nonnull(run(c, "WebSocketCloseTimeout", "0", NULL));
    ck_assert_ptr_nonnull(run(c, "WebSocketPingTimeout", "soon", NULL));
    ck_assert_int_eq(ws_conf_close_timeout(c), WS_DEFAULT_CLOSE);
    ck_assert_ptr_null(run(c, "WebSocketQueueOverflow", "drop", NULL));
    ck_assert_int_eq(ws_conf_overflow(c), WS_OVERFLOW_DROP);
    ck_assert_ptr_nonnull(run(c, "WebSocketQueueOverflow", "block", NULL));
}
END_TEST

START_TEST(max_fragments_takes_a_count_and_zero_for_no_limit)
{
    ws_dir_conf_t *c = fresh();

    ck_assert_int_eq(ws_conf_max_fragments(c), WS_DEFAULT_MAX_FRAGMENTS);
    ck_assert_ptr_null(run(c, "WebSocketMaxFragments", "0", NULL));
    ck_assert_int_eq(ws_conf_max_fragments(c), 0);
    ck_assert_ptr_null(run(c, "WebSocketMaxFragments", "64", NULL));
    ck_assert_int_eq(ws_conf_max_fragments(c), 64);
    ck_assert_ptr_nonnull(run(c, "WebSocketMaxFragments", "-1", NULL));
    ck_assert_ptr_nonnull(run(c, "WebSocketMaxFragments", "many", NULL));
}
END_TEST

START_TEST(max_per_address_is_off_by_default_and_asks_for_the_table)
{
    ws_dir_conf_t *c = fresh();

    addrlimit_wanted = 0;
    ck_assert_int_eq(ws_conf_max_per_address(c), 0);
    ck_assert_ptr_null(run(c, "WebSocketMaxConnectionsPerAddress", "0",
                           NULL));
    ck_assert_int_eq(addrlimit_wanted, 0);
    ck_assert_ptr_null(run(c, "WebSocketMaxConnectionsPerAddress", "20",
                           NULL));
    ck_assert_int_eq(ws_conf_max_per_address(c), 20);
    ck_assert_int_eq(addrlimit_wanted, 1);
    ck_assert_ptr_nonnull(run(c, "WebSocketMaxConnectionsPerAddress", "-2",
                              NULL));
}
END_TEST

START_TEST(namespaces_and_channel_settings)
{
    ws_dir_conf_t *c = ws_create_dir_conf(pool, "/chat");
    ws_dir_conf_t *inner = ws_create_dir_conf(pool, "/chat/x");
    ws_dir_conf_t *m;

    ck_assert_str_eq(c->path, "/chat");
    ck_assert_ptr_null(run_in(c, "/chat", 0, "WebSocketNamespace", "/news",
                              NULL));
    ck_assert_str_eq(c->ns, "/news");
    ck_assert_ptr_nonnull(run_in(c, "/chat", 0, "WebSocketNamespace",
                                 "a\tb", NULL));
    ck_assert_ptr_nonnull(run_in(c, "/chat", 0, "WebSocketNamespace",
                                 "bad\001", NULL));
    /* History in a location: count and age; defaults otherwise. */
    ck_assert_int_eq(ws_conf_history_count(c), WS_DEFAULT_HISTORY_COUNT);
    ck_assert_ptr_null(run_in(c, "/chat", 0, "WebSocketChannelHistory",
                              "10", "30s"));
    ck_assert_int_eq(ws_conf_history_count(c), 10);
    ck_assert_int_eq(ws_conf_history_age(c), apr_time_from_sec(30));
    ck_assert_ptr_nonnull(run_in(c, "/chat", 0, "WebSocketChannelHistory",
                                 "-1", NULL));
    ck_assert_ptr_nonnull(run_in(c, "/chat", 0, "WebSocketChannelHistory",
                                 "5", "0"));
    ck_assert_ptr_nonnull(run_in(c, "/chat", 0, "WebSocketChannelHistory",
                                 "5", "soon"));
    /* Nested sections inherit the namespace and history. */
    m = ws_merge_dir_conf(pool, c, inner);
    ck_assert_str_eq(m->ns, "/news");
    ck_assert_int_eq(ws_conf_history_count(m), 10);
    ck_assert_str_eq(m->path, "/chat/x");
    /* In the main server: the default of every location; not in a
     * virtual host. */
    ck_assert_ptr_null(run_in(fresh(), NULL, 0, "WebSocketChannelHistory",
                              "7", NULL));
    ck_assert_int_eq(ws_conf_history_count(fresh()), 7);
    ck_assert_ptr_nonnull(run_in(fresh(), NULL, 1, "WebSocketChannelHistory",
                                 "7", NULL));
    ck_assert_ptr_null(run_in(fresh(), NULL, 0, "WebSocketChannelMemory",
                              "1M", NULL));
    ck_assert_int_eq(ws_channel_memory, 1024 * 1024);
    ck_assert_ptr_nonnull(run_in(fresh(), NULL, 0, "WebSocketChannelMemory",
                                 "lots", NULL));
    ws_conf_reset_globals();
    ck_assert_int_eq(ws_conf_history_count(fresh()),
                     WS_DEFAULT_HISTORY_COUNT);
}
END_TEST

START_TEST(a_handler_section_makes_its_location)
{
    ws_dir_conf_t *outer = ws_create_dir_conf(pool, "/a");
    ws_dir_conf_t *inner = ws_create_dir_conf(pool, "/a/b");
    ws_dir_conf_t *m;

    ck_assert_ptr_null(run_in(outer, "/a", 0, "WebSocketHandler", "echo",
                              NULL));
    ck_assert_ptr_nonnull(outer->location);
    ck_assert_str_eq(outer->location->path, "/a");
    ck_assert_ptr_eq(outer->location->conf, outer);
    /* An inner section without a handler runs the outer's location. */
    m = ws_merge_dir_conf(pool, outer, inner);
    ck_assert_ptr_eq(m->location, outer->location);
}
END_TEST

Suite *ws_config_suite(void)
{
    Suite *s = suite_create("ws_config");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, unset_values_fall_back_to_the_defaults);
    tcase_add_test(tc, sizes_accept_units_and_reject_nonsense);
    tcase_add_test(tc, origins_need_a_scheme_and_no_path);
    tcase_add_test(tc, protocols_must_be_tokens);
    tcase_add_test(tc, unknown_handler_is_refused_with_advice);
    tcase_add_test(tc, plain_requests_take_refuse_or_serve);
    tcase_add_test(tc, nested_locations_inherit_what_they_do_not_set);
    tcase_add_test(tc, inner_settings_override_outer_ones);
    tcase_add_test(tc, times_parse_and_zero_means_off_only_where_allowed);
    tcase_add_test(tc, max_fragments_takes_a_count_and_zero_for_no_limit);
    tcase_add_test(tc,
                   max_per_address_is_off_by_default_and_asks_for_the_table);
    tcase_add_test(tc, namespaces_and_channel_settings);
    tcase_add_test(tc, a_handler_section_makes_its_location);
    suite_add_tcase(s, tc);
    return s;
}
