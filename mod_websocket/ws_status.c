/*
 * ws_status.c -- the whole server's WebSocket figures: the
 * `websocket-status` handler and mod_status's section (see ws_status.h).
 *
 * One model, built as a JSON object (jansson) from ws_stats and the
 * configuration, is either sent as it is (?json) or rendered as HTML.
 */
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "ap_mpm.h"
#include "apr_strings.h"
#include "apr_time.h"
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_status.h"

#include "ws_private.h"
#include "ws_capacity.h"
#include "ws_config.h"
#include "ws_handoff.h"
#include "ws_location.h"
#include "ws_loop.h"
#include "ws_plugin.h"
#include "ws_redisconf.h"
#include "ws_stats.h"
#include "ws_status.h"

/* A counter as the model names it (and, for the page, says what it is). */
typedef struct {
    const char *key;
    ws_stat_e which;
    const char *what;
} named_t;

/* The counters in the model's "totals", by key. */
static const named_t totals[] = {
    { "open", WS_STAT_OPEN },
    { "in_event_loops", WS_STAT_IN_LOOPS },
    { "accepted", WS_STAT_TOTAL },
    { "messages_in", WS_STAT_MSGS_IN },
    { "messages_out", WS_STAT_MSGS_OUT },
    { "bytes_in", WS_STAT_BYTES_IN },
    { "bytes_out", WS_STAT_BYTES_OUT },
    { "pings_sent", WS_STAT_PINGS },
    { "subscriptions", WS_STAT_SUBSCRIPTIONS },
    { "channel_published", WS_STAT_PUBLISHED },
    { "channel_delivered", WS_STAT_DELIVERED },
};

/* Drops and closes not by code. */
static const named_t drops[] = {
    { "messages_dropped_queue_full", WS_STAT_DROPPED,
      "messages dropped: a client's output queue full" },
    { "closed_queue_overflow", WS_STAT_OVERFLOW_CLOSES,
      "closed 1008: output queue full (WebSocketQueueOverflow Close)" },
    { "channel_messages_dropped", WS_STAT_CHANNEL_DROPPED,
      "channel messages dropped: hub unreachable, or target gone" },
    { "closed_dead_peer", WS_STAT_DEAD_PEERS,
      "closed: no pong in time (dead peer)" },
    { "closed_protocol_violation", WS_STAT_VIOLATIONS,
      "closed: protocol violation" },
    { "closed_by_client", WS_STAT_CLOSED_BY_CLIENT,
      "closes the client started" },
    { "closed_by_server", WS_STAT_CLOSED_BY_SERVER,
      "closes the server started" },
};

static const named_t refusals[] = {
    { "origin", WS_STAT_ORIGIN_REFUSED,
      "403: Origin not allowed (WebSocketAllowedOrigins)" },
    { "handshake", WS_STAT_HANDSHAKE_REFUSED,
      "400/405/426: not a valid upgrade" },
    { "handler", WS_STAT_HANDLER_REFUSED, "the handler's on_open said no" },
    { "per_address", WS_STAT_ADDR_REFUSED,
      "503: WebSocketMaxConnectionsPerAddress" },
    { "capacity", WS_STAT_CAPACITY_REFUSED,
      "503: WebSocketMaxConnections (capacity)" },
};

static const char *const close_names[] = {
    "1000", "1001", "1002", "1003", "1005", "1006", "1007", "1008", "1009",
    "1010", "1011", "other"
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static json_t *num(apr_uint64_t v)
{
    return json_integer((json_int_t)v);
}

/* ISO 8601 in UTC, to the second ("2026-12-05T23:27:21Z"): what
 * monitoring tools parse. */
static json_t *iso_time(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t tm;
    char buf[32];
    apr_size_t len;

    (void)p;
    apr_time_exp_gmt(&tm, t);
    apr_strftime(buf, &len, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

/* The location rows of this configuration, by row; a row that several
 * sections share (the same path in two virtual hosts, or the last row,
 * "(other locations)") has no one handler or limits to show. */
typedef struct {
    const ws_location_t *by_row[WS_STATS_LOCATIONS];
    unsigned char several[WS_STATS_LOCATIONS];
} rows_t;

static void note_row(ws_location_t *loc, void *baton)
{
    rows_t *rows = baton;

    if (loc->stats < 0) {
        return;
    }
    if (!rows->by_row[loc->stats]) {
        rows->by_row[loc->stats] = loc;
    }
    else if (rows->by_row[loc->stats] != loc) {
        rows->several[loc->stats] = 1;
    }
}

static json_t *location_model(const ws_stats_t *f, int i,
                              const ws_location_t *loc, int shared)
{
    json_t *o = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o}",
                          "path", ws_stats_location_name(i),
                          "open", num(f->loc[i][WS_LSTAT_OPEN]),
                          "accepted", num(f->loc[i][WS_LSTAT_TOTAL]),
                          "messages_in", num(f->loc[i][WS_LSTAT_MSGS_IN]),
                          "messages_out", num(f->loc[i][WS_LSTAT_MSGS_OUT]),
                          "bytes_in", num(f->loc[i][WS_LSTAT_BYTES_IN]),
                          "bytes_out", num(f->loc[i][WS_LSTAT_BYTES_OUT]));
    ws_settings_t set;

    if (shared) {
        json_object_set_new(o, "shared", json_true());
    }
    if (!loc || shared) {
        json_object_set_new(o, "handler", json_null());
        return o;
    }
    ws_conf_settings(loc->conf, &set);
    json_object_set_new(o, "handler", json_string(loc->plugin->name));
    json_object_set_new(o, "limits", json_pack(
        "{s:I, s:I, s:i, s:I, s:I, s:b}",
        "max_message_size", (json_int_t)set.max_message,
        "max_queued_output", (json_int_t)set.max_queued,
        "max_connections_per_address", ws_conf_max_per_address(loc->conf),
        "ping_interval_s", (json_int_t)apr_time_sec(set.ping),
        "idle_timeout_s", (json_int_t)apr_time_sec(set.idle),
        "compression", set.compress));
    return o;
}

/* {key: value} of the n counters of table, from f. */
static json_t *named_model(const named_t *table, size_t n,
                           const ws_stats_t *f)
{
    json_t *o = json_object();
    size_t i;

    for (i = 0; i < n; i++) {
        json_object_set_new(o, table[i].key, num(f->c[table[i].which]));
    }
    return o;
}

static json_t *figures_model(const ws_stats_t *f)
{
    json_t *o = named_model(totals, N(totals), f);
    json_t *closes = json_object();
    unsigned i;

    json_object_set_new(o, "in_threads",
                        num(f->c[WS_STAT_OPEN] > f->c[WS_STAT_IN_LOOPS]
                            ? f->c[WS_STAT_OPEN] - f->c[WS_STAT_IN_LOOPS]
                            : 0));
    for (i = 0; i < N(close_names); i++) {
        json_object_set_new(closes, close_names[i],
                            num(f->c[WS_STAT_CLOSE_1000 + i]));
    }
    json_object_set_new(o, "closes_by_code", closes);
    return o;
}

static json_t *config_model(void)
{
    int threads = 0, daemons = 0, hard = 0, limit;
    const char *why = NULL;

    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    ap_mpm_query(AP_MPMQ_MAX_DAEMONS, &daemons);
    ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &hard);
    limit = ws_capacity_limit(&why);
    return json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:s?, s:s}",
                     "mpm", ap_show_mpm(),
                     "io", ws_handoff_loops_allowed()
                           ? "event loops (no httpd thread each)"
                           : "one thread per connection",
                     "event_loops_per_child", ws_loop_count(),
                     "threads_per_child", threads,
                     "max_request_workers", threads * daemons,
                     "server_limit", hard,
                     "max_connections", limit,
                     "max_connections_why", why,
                     "channels", ws_channel_redis
                                 ? ws_channel_redis->display
                                 : "embedded (this server)");
}

static json_t *model(request_rec *r)
{
    ws_stats_t sum;
    ws_stats_hub_t hub;
    ws_stats_child_t *children;
    int nchildren, i, current = 0;
    json_t *o, *arr;
    rows_t rows;
    apr_time_t now = apr_time_now(), started;

    ws_stats_read(r->pool, &sum, &children, &nchildren);
    memset(&rows, 0, sizeof(rows));
    ws_location_each(note_row, &rows);
    started = ws_stats_started();
    ap_mpm_query(AP_MPMQ_GENERATION, &current);

    o = json_object();
    json_object_set_new(o, "server", json_pack(
        "{s:s, s:o, s:I, s:i, s:i}",
        "version", "mod_websocket/" WS_MODULE_VERSION,
        "started", iso_time(r->pool, started),
        "uptime_s", (json_int_t)apr_time_sec(now - started),
        "generation", current,
        "answered_by_pid", (int)getpid()));
    json_object_set_new(o, "config", config_model());
    json_object_set_new(o, "totals", figures_model(&sum));
    ws_stats_hub_read(&hub);
    json_object_set_new(o, "channels", json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:o}",
        "channels", num(hub.channels),
        "subscriptions", num(sum.c[WS_STAT_SUBSCRIPTIONS]),
        "history_messages", num(hub.kept),
        "history_bytes", num(hub.bytes),
        "evicted", num(hub.evicted),
        "as_of", hub.updated ? iso_time(r->pool, hub.updated)
                             : json_null()));

    json_object_set_new(o, "refused",
                        named_model(refusals, N(refusals), &sum));
    json_object_set_new(o, "drops_and_closes",
                        named_model(drops, N(drops), &sum));

    arr = json_array();
    for (i = 0; i < WS_STATS_LOCATIONS; i++) {
        if (ws_stats_location_name(i)) {
            json_array_append_new(arr, location_model(
                &sum, i, rows.by_row[i], rows.several[i]));
        }
    }
    json_object_set_new(o, "locations", arr);

    arr = json_array();
    for (i = 0; i < nchildren; i++) {
        json_t *ch = figures_model(&children[i].figures);

        json_object_set_new(ch, "pid", json_integer(children[i].pid));
        json_object_set_new(ch, "generation",
                            json_integer(children[i].generation));
        json_object_set_new(ch, "old_generation",
                            json_boolean(children[i].generation < current));
        json_object_set_new(ch, "started",
                            iso_time(r->pool, children[i].started));
        json_array_append_new(arr, ch);
    }
    json_object_set_new(o, "children", arr);
    return o;
}

/* --- HTML --- */

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    return json_is_string(v) ? json_string_value(v) : "-";
}

/* (apr_int64_t: httpd's formatter knows APR_INT64_T_FMT, not jansson's
 * "%lld".) */
static apr_int64_t jint(json_t *o, const char *key)
{
    return (apr_int64_t)json_integer_value(json_object_get(o, key));
}

static void row(request_rec *r, const char *name, apr_int64_t v,
                const char *note)
{
    ap_rprintf(r, "<tr><th>%s</th><td class=\"n\">%" APR_INT64_T_FMT
               "</td><td>%s</td></tr>\n", name, v, note ? note : "");
}

/* A limit as the page says it: "none" for 0. */
static const char *limit_text(request_rec *r, apr_int64_t v,
                              const char *unit)
{
    return v ? apr_psprintf(r->pool, "%" APR_INT64_T_FMT "%s", v, unit)
             : "none";
}

static void pair(request_rec *r, const char *name, apr_int64_t a,
                 apr_int64_t b, const char *note)
{
    ap_rprintf(r, "<tr><th>%s</th><td class=\"n\">%" APR_INT64_T_FMT
               " / %" APR_INT64_T_FMT "</td><td>%s</td></tr>\n", name, a, b,
               note ? note : "");
}

static void html(request_rec *r, json_t *m)
{
    json_t *srv = json_object_get(m, "server");
    json_t *cfg = json_object_get(m, "config");
    json_t *tot = json_object_get(m, "totals");
    json_t *v, *ch;
    const char *key;
    size_t i;
    unsigned k;

    ap_rputs(DOCTYPE_HTML_4_01 "<html><head><title>WebSocket status"
             "</title>\n<meta name=\"viewport\" content=\"width=device-"
             "width, initial-scale=1\">\n<style>body{font:15px/1.4 "
             "system-ui,sans-serif;margin:1rem auto;max-width:64rem;"
             "padding:0 1rem}table{border-collapse:collapse;margin:.4rem 0 "
             "1.2rem}th,td{border-bottom:1px solid #ddd;padding:.25rem "
             ".6rem;text-align:left;vertical-align:top}td{font-variant-"
             "numeric:tabular-nums;overflow-wrap:anywhere}td.n,.wide th,"
             ".wide td{white-space:nowrap}.wide td.note{white-space:normal;"
             "min-width:16rem}h2{font-size:1.1rem;margin:1.2rem 0 .2rem}"
             ".wide{overflow-x:auto}@media (max-width:40rem){body{padding:0 "
             ".5rem}th,td{padding:.2rem .35rem}}</style></head><body>\n", r);
    ap_rprintf(r, "<h1>WebSocket status</h1>\n<p>%s on %s, %s. Started %s "
               "(up %" APR_INT64_T_FMT " s), generation %"
               APR_INT64_T_FMT "; the figures cover every child process "
               "and generation. <a href=\"?json\">JSON</a></p>\n",
               jstr(srv, "version"), ap_escape_html(r->pool,
                                                    ap_get_server_name(r)),
               ap_escape_html(r->pool, jstr(cfg, "io")),
               jstr(srv, "started"), jint(srv, "uptime_s"),
               jint(srv, "generation"));

    ap_rputs("<h2>Connections and messages</h2><table>\n", r);
    row(r, "open", jint(tot, "open"), apr_psprintf(
        r->pool, "%" APR_INT64_T_FMT " in event loops (no httpd thread "
        "each), %" APR_INT64_T_FMT " on a thread each",
        jint(tot, "in_event_loops"), jint(tot, "in_threads")));
    row(r, "accepted", jint(tot, "accepted"), "since the server started");
    pair(r, "messages in / out", jint(tot, "messages_in"),
         jint(tot, "messages_out"), NULL);
    pair(r, "bytes in / out", jint(tot, "bytes_in"), jint(tot, "bytes_out"),
         "on the wire");
    row(r, "pings sent", jint(tot, "pings_sent"), NULL);
    v = json_object_get(m, "channels");
    row(r, "channels", jint(v, "channels"), apr_psprintf(
        r->pool, "in the channel hub, with %" APR_INT64_T_FMT " messages "
        "(%" APR_INT64_T_FMT " bytes) of history; %" APR_INT64_T_FMT
        " evicted by WebSocketChannelMemory", jint(v, "history_messages"),
        jint(v, "history_bytes"), jint(v, "evicted")));
    row(r, "channel subscriptions", jint(tot, "subscriptions"), NULL);
    pair(r, "channel messages published / delivered",
         jint(tot, "channel_published"), jint(tot, "channel_delivered"),
         "delivered: to each subscriber here");
    ap_rputs("</table>\n<h2>Drops and closes</h2><table>\n", r);
    v = json_object_get(m, "drops_and_closes");
    for (k = 0; k < N(drops); k++) {
        row(r, drops[k].what, jint(v, drops[k].key), NULL);
    }
    ap_rputs("</table>\n<div class=\"wide\"><table><tr><th>close code"
             "</th>", r);
    v = json_object_get(tot, "closes_by_code");
    json_object_foreach(v, key, ch) {
        ap_rprintf(r, "<th>%s</th>", key);
    }
    ap_rputs("</tr>\n<tr><th>connections</th>", r);
    json_object_foreach(v, key, ch) {
        ap_rprintf(r, "<td>%" APR_INT64_T_FMT "</td>",
                   (apr_int64_t)json_integer_value(ch));
    }
    ap_rputs("</tr></table></div>\n", r);
    ap_rputs("<h2>Refused upgrades</h2><table>\n", r);
    v = json_object_get(m, "refused");
    for (k = 0; k < N(refusals); k++) {
        row(r, refusals[k].key, jint(v, refusals[k].key), refusals[k].what);
    }

    ap_rputs("</table>\n<h2>Locations</h2><div class=\"wide\"><table>\n"
             "<tr><th>path</th><th>handler</th><th>open</th><th>accepted"
             "</th><th>msgs in</th><th>msgs out</th><th>bytes in</th><th>"
             "bytes out</th><th>limits</th></tr>\n", r);
    json_array_foreach(json_object_get(m, "locations"), i, v) {
        json_t *lim = json_object_get(v, "limits");

        ap_rprintf(r, "<tr><td>%s</td><td>%s</td>",
                   ap_escape_html(r->pool, jstr(v, "path")),
                   ap_escape_html(r->pool, jstr(v, "handler")));
        ap_rprintf(r, "<td>%" APR_INT64_T_FMT "</td><td>%"
                   APR_INT64_T_FMT "</td><td>%" APR_INT64_T_FMT
                   "</td><td>%" APR_INT64_T_FMT "</td><td>%"
                   APR_INT64_T_FMT "</td><td>%" APR_INT64_T_FMT
                   "</td>", jint(v, "open"), jint(v, "accepted"),
                   jint(v, "messages_in"), jint(v, "messages_out"),
                   jint(v, "bytes_in"), jint(v, "bytes_out"));
        if (lim) {
            ap_rprintf(r, "<td class=\"note\">message %s, queue %s, per "
                       "address %s, ping %s, idle %s, compression %s</td>"
                       "</tr>\n",
                       limit_text(r, jint(lim, "max_message_size"), " B"),
                       limit_text(r, jint(lim, "max_queued_output"), " B"),
                       limit_text(r, jint(lim, "max_connections_per_address"),
                                  ""),
                       limit_text(r, jint(lim, "ping_interval_s"), " s"),
                       limit_text(r, jint(lim, "idle_timeout_s"), " s"),
                       json_is_true(json_object_get(lim, "compression"))
                       ? "on" : "off");
        }
        else if (json_is_true(json_object_get(v, "shared"))) {
            ap_rputs("<td class=\"note\">(several sections, each with its "
                     "own limits)</td></tr>\n", r);
        }
        else {
            ap_rputs("<td class=\"note\">(not in this configuration)</td>"
                     "</tr>\n", r);
        }
    }

    ap_rputs("</table></div>\n<h2>Child processes</h2><div class=\"wide\">"
             "<table>\n<tr><th>pid</th><th>generation</th><th>open</th>"
             "<th>in loops</th><th>accepted</th><th>msgs in</th><th>msgs "
             "out</th><th>subscriptions</th><th>started</th></tr>\n", r);
    json_array_foreach(json_object_get(m, "children"), i, ch) {
        ap_rprintf(r, "<tr><td>%" APR_INT64_T_FMT "</td><td>%"
                   APR_INT64_T_FMT "%s</td><td>%" APR_INT64_T_FMT
                   "</td><td>%" APR_INT64_T_FMT "</td><td>%"
                   APR_INT64_T_FMT "</td><td>%" APR_INT64_T_FMT
                   "</td><td>%" APR_INT64_T_FMT "</td><td>%"
                   APR_INT64_T_FMT "</td><td>%s</td></tr>\n",
                   jint(ch, "pid"), jint(ch, "generation"),
                   json_is_true(json_object_get(ch, "old_generation"))
                   ? " (old)" : "", jint(ch, "open"),
                   jint(ch, "in_event_loops"), jint(ch, "accepted"),
                   jint(ch, "messages_in"), jint(ch, "messages_out"),
                   jint(ch, "subscriptions"), jstr(ch, "started"));
    }

    ap_rputs("</table></div>\n<h2>Configuration</h2><table>\n", r);
    ap_rprintf(r, "<tr><th>MPM</th><td>%s</td></tr>\n"
               "<tr><th>I/O</th><td>%s; %" APR_INT64_T_FMT " event "
               "loops per child</td></tr>\n"
               "<tr><th>capacity</th><td>%s</td></tr>\n"
               "<tr><th>ThreadsPerChild, MaxRequestWorkers, ServerLimit"
               "</th><td>%" APR_INT64_T_FMT ", %" APR_INT64_T_FMT
               ", %" APR_INT64_T_FMT "</td></tr>\n"
               "<tr><th>channels</th><td>%s</td></tr>\n</table>\n",
               jstr(cfg, "mpm"), jstr(cfg, "io"),
               jint(cfg, "event_loops_per_child"),
               ap_escape_html(r->pool, jstr(cfg, "max_connections_why")),
               jint(cfg, "threads_per_child"),
               jint(cfg, "max_request_workers"), jint(cfg, "server_limit"),
               ap_escape_html(r->pool, jstr(cfg, "channels")));
    ap_rputs("</body></html>\n", r);
}

/* ?refresh=N: N seconds, 1 to 3600; 1 for nothing usable (as
 * mod_status's ?refresh). */
static int refresh_seconds(const char *v)
{
    char *end;
    apr_int64_t n = apr_strtoi64(v, &end, 10);

    if (end == v || n < 1) {
        return 1;
    }
    return n > 3600 ? 3600 : (int)n;
}

int ws_status_handle(request_rec *r)
{
    int as_json = 0, refresh = 0;
    char *args, *tok, *last;
    json_t *m;

    /* Allow: GET, HEAD in the 405 (r->allowed alone is not what httpd's
     * error page reads). */
    ap_allow_methods(r, REPLACE_ALLOW, "GET", NULL);
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    args = r->args ? apr_pstrdup(r->pool, r->args) : NULL;
    for (tok = args ? apr_strtok(args, "&;", &last) : NULL; tok;
         tok = apr_strtok(NULL, "&;", &last)) {
        if (!strcasecmp(tok, "json") || !strncasecmp(tok, "json=", 5)) {
            as_json = 1;
        }
        else if (!strncmp(tok, "refresh=", 8)) {
            refresh = refresh_seconds(tok + 8);
        }
        else if (!strcmp(tok, "refresh")) {
            refresh = 1;
        }
    }
    if (refresh) {
        apr_table_setn(r->headers_out, "Refresh", apr_itoa(r->pool, refresh));
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    m = model(r);
    if (as_json) {
        char *text = json_dumps(m, JSON_INDENT(1));

        ap_set_content_type(r, "application/json");
        if (!r->header_only && text) {
            ap_rputs(text, r);
            ap_rputs("\n", r);
        }
        free(text);
    }
    else {
        ap_set_content_type(r, "text/html; charset=utf-8");
        if (!r->header_only) {
            html(r, m);
        }
    }
    json_decref(m);
    return OK;
}

int ws_status_hook(request_rec *r, int flags)
{
    ws_stats_t sum;
    int i;

    ws_stats_read(r->pool, &sum, NULL, NULL);
    if (flags & AP_STATUS_SHORT) {
        for (i = 0; i < WS_STAT_COUNT; i++) {
            ap_rprintf(r, "%s: %" APR_UINT64_T_FMT "\n", ws_stats_name(i),
                       sum.c[i]);
        }
        return OK;
    }
    ap_rputs("<hr>\n<h2>mod_websocket (the whole server: every child and "
             "generation)</h2>\n<table>\n", r);
    for (i = 0; i < WS_STAT_COUNT; i++) {
        ap_rprintf(r, "<tr><td>%s</td><td>%" APR_UINT64_T_FMT "</td></tr>\n",
                   ws_stats_name(i), sum.c[i]);
    }
    ap_rputs("</table>\n<p>More on a <code>SetHandler websocket-status"
             "</code> page (HTML and JSON).</p>\n", r);
    return OK;
}
