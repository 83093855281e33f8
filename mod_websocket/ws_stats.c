/*
 * ws_stats.c -- the server's WebSocket counters, in shared memory (see
 * ws_stats.h).
 *
 * A ws_slots table: its header holds when the server started, the
 * location rows' names and what children gone had counted ("retired"),
 * folded in when a new child claims their region; each region holds one
 * child's generation, start time and figures.
 */
#include <string.h>
#include <unistd.h>

#include "apr_strings.h"
#include "ap_mpm.h"
#include "http_log.h"

#include "ws_private.h"
#include "ws_location.h"
#include "ws_slots.h"
#include "ws_stats.h"

#define SLOTS_KEY "mod_websocket:stats"

typedef struct {
    apr_time_t started;
    int nnames;
    char names[WS_STATS_LOCATIONS][WS_STATS_NAME_MAX];
    ws_stats_t retired;         /* counters of children gone (atomic) */
    ws_stats_hub_t hub;         /* written by the hub only (atomic) */
} header_t;

typedef struct {
    pid_t pid;                  /* the child's (set with started) */
    int generation;
    apr_time_t started;         /* 0 until the child's first add */
    ws_stats_t figures;         /* atomic */
} region_t;

static ws_slots_t *table;
static int my_generation;
/* Adds made before this child has its region, or in a process that has
 * none: nobody reads them. */
static ws_stats_t local;

static const char *const names[WS_STAT_COUNT] = {
    "WebSocketsOpen", "WebSocketsTotal", "WebSocketsInEventLoops",
    "WebSocketMessagesIn", "WebSocketMessagesOut", "WebSocketBytesIn",
    "WebSocketBytesOut", "WebSocketMessagesDropped",
    "WebSocketQueueOverflowCloses", "WebSocketPingsSent",
    "WebSocketDeadPeers", "WebSocketViolations",
    "WebSocketsRefusedPerAddress", "WebSocketsRefusedCapacity",
    "WebSocketSubscriptions", "WebSocketChannelPublished",
    "WebSocketChannelDelivered", "WebSocketChannelDropped",
    "WebSocketsRefusedOrigin", "WebSocketsRefusedHandshake",
    "WebSocketsRefusedHandler", "WebSocketsClosedByClient",
    "WebSocketsClosedByServer",
    "WebSocketsClosed1000", "WebSocketsClosed1001", "WebSocketsClosed1002",
    "WebSocketsClosed1003", "WebSocketsClosed1005", "WebSocketsClosed1006",
    "WebSocketsClosed1007", "WebSocketsClosed1008", "WebSocketsClosed1009",
    "WebSocketsClosed1010", "WebSocketsClosed1011",
    "WebSocketsClosedOther"
};

const char *ws_stats_name(ws_stat_e which)
{
    return names[which];
}

int ws_stats_is_gauge(ws_stat_e which)
{
    return which == WS_STAT_OPEN || which == WS_STAT_IN_LOOPS
           || which == WS_STAT_SUBSCRIPTIONS;
}

/* Add f's gauges, counters or both to *to (atomically: *to may be shared
 * memory). */
static void add_figures(ws_stats_t *to, const ws_stats_t *f, int gauges,
                        int counters)
{
    int i, j;

    for (i = 0; i < WS_STAT_COUNT; i++) {
        if (ws_stats_is_gauge(i) ? gauges : counters) {
            __atomic_add_fetch(&to->c[i], __atomic_load_n(&f->c[i],
                                                          __ATOMIC_RELAXED),
                               __ATOMIC_RELAXED);
        }
    }
    for (i = 0; i < WS_STATS_LOCATIONS; i++) {
        for (j = 0; j < WS_LSTAT_COUNT; j++) {
            if (j == WS_LSTAT_OPEN ? gauges : counters) {
                __atomic_add_fetch(&to->loc[i][j],
                                   __atomic_load_n(&f->loc[i][j],
                                                   __ATOMIC_RELAXED),
                                   __ATOMIC_RELAXED);
            }
        }
    }
}

/* A region a gone child left: what only grows is kept in the header. */
static void reclaim(const void *region, void *header)
{
    add_figures(&((header_t *)header)->retired,
                &((const region_t *)region)->figures, 0, 1);
}

/* The location's row: its path's, given at the first configuration that
 * had it; the last row when every row is taken. */
static void give_row(ws_location_t *loc, void *baton)
{
    header_t *h = baton;
    int i;

    for (i = 0; i < h->nnames; i++) {
        if (!strcmp(h->names[i], loc->path)) {
            loc->stats = i;
            return;
        }
    }
    if (h->nnames < WS_STATS_LOCATIONS - 1) {
        apr_cpystrn(h->names[h->nnames], loc->path, WS_STATS_NAME_MAX);
        loc->stats = h->nnames++;
        return;
    }
    apr_cpystrn(h->names[WS_STATS_LOCATIONS - 1], "(other locations)",
                WS_STATS_NAME_MAX);
    h->nnames = WS_STATS_LOCATIONS;
    loc->stats = WS_STATS_LOCATIONS - 1;
}

apr_status_t ws_stats_post_config(server_rec *s)
{
    apr_status_t rv;
    header_t *h;

    rv = ws_slots_attach(s, SLOTS_KEY, sizeof(header_t), sizeof(region_t),
                         &table);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, WSLOGNO(00102)
                     "cannot create the shared WebSocket counters");
        return rv;
    }
    ws_slots_on_reclaim(table, reclaim);
    h = ws_slots_header(table);
    if (!h->started) {
        h->started = apr_time_now();
    }
    ws_location_each(give_row, h);
    return APR_SUCCESS;
}

static ws_stats_t *mine(void);

void ws_stats_child_init(void)
{
    ap_mpm_query(AP_MPMQ_GENERATION, &my_generation);
    /* Listed on the page from now on, if the parent has already written
     * our pid in the scoreboard (else at the first add). */
    mine();
}

/* This child's figures: its region, claimed on first use (then one load
 * per call: counters are added per message). */
static ws_stats_t *mine(void)
{
    static ws_stats_t *claimed;
    ws_stats_t *f = __atomic_load_n(&claimed, __ATOMIC_ACQUIRE);
    region_t *rg;

    if (f) {
        return f;
    }
    rg = table ? ws_slots_mine(table) : NULL;
    if (!rg) {
        return &local;
    }
    if (!__atomic_load_n(&rg->started, __ATOMIC_RELAXED)) {
        rg->pid = getpid();
        rg->generation = my_generation;
        __atomic_store_n(&rg->started, apr_time_now(), __ATOMIC_RELAXED);
    }
    __atomic_store_n(&claimed, &rg->figures, __ATOMIC_RELEASE);
    return &rg->figures;
}

void ws_stats_add(ws_stat_e which, apr_uint64_t n)
{
    __atomic_add_fetch(&mine()->c[which], n, __ATOMIC_RELAXED);
}

void ws_stats_add_at(const ws_location_t *loc, ws_lstat_e which,
                     apr_uint64_t n)
{
    /* The server-wide counter each location counter is a share of. */
    static const ws_stat_e total[WS_LSTAT_COUNT] = {
        WS_STAT_OPEN, WS_STAT_TOTAL, WS_STAT_MSGS_IN, WS_STAT_MSGS_OUT,
        WS_STAT_BYTES_IN, WS_STAT_BYTES_OUT
    };
    ws_stats_t *f = mine();

    __atomic_add_fetch(&f->c[total[which]], n, __ATOMIC_RELAXED);
    if (loc && loc->stats >= 0) {
        __atomic_add_fetch(&f->loc[loc->stats][which], n, __ATOMIC_RELAXED);
    }
}

void ws_stats_closed(int code, int closed_by)
{
    static const int codes[] = { 1000, 1001, 1002, 1003, 1005, 1006, 1007,
                                 1008, 1009, 1010, 1011 };
    ws_stat_e which = WS_STAT_CLOSE_OTHER;
    unsigned i;

    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        if (codes[i] == code) {
            which = WS_STAT_CLOSE_1000 + i;
        }
    }
    ws_stats_add(which, 1);
    if (closed_by) {
        ws_stats_add(closed_by == 'c' ? WS_STAT_CLOSED_BY_CLIENT
                                      : WS_STAT_CLOSED_BY_SERVER, 1);
    }
}

/* --- reading --- */

typedef struct {
    ws_stats_t *sum;
    ws_stats_child_t *children;
    int n, max;
} read_t;

static void read_region(void *region, int live, void *baton)
{
    region_t *rg = region;
    read_t *rd = baton;

    add_figures(rd->sum, &rg->figures, live, 1);
    if (live && rd->children && rd->n < rd->max) {
        ws_stats_child_t *ch = &rd->children[rd->n++];

        memset(ch, 0, sizeof(*ch));
        ch->pid = rg->pid;
        ch->generation = rg->generation;
        ch->started = __atomic_load_n(&rg->started, __ATOMIC_RELAXED);
        add_figures(&ch->figures, &rg->figures, 1, 1);
    }
}

void ws_stats_read(apr_pool_t *p, ws_stats_t *out,
                   ws_stats_child_t **children, int *nchildren)
{
    read_t rd;
    int max = 0;

    memset(out, 0, sizeof(*out));
    memset(&rd, 0, sizeof(rd));
    rd.sum = out;
    if (children) {
        /* At most one live child per region. */
        max = table ? ws_slots_count(table) : 1;
        rd.children = apr_pcalloc(p, sizeof(*rd.children) * (apr_size_t)max);
        rd.max = max;
    }
    if (table) {
        add_figures(out, &((header_t *)ws_slots_header(table))->retired, 0,
                    1);
        ws_slots_each_claimed(table, read_region, &rd);
    }
    if (children) {
        *children = rd.children;
        *nchildren = rd.n;
    }
}

const char *ws_stats_location_name(int i)
{
    header_t *h = table ? ws_slots_header(table) : NULL;

    return h && i >= 0 && i < h->nnames ? h->names[i] : NULL;
}

apr_time_t ws_stats_started(void)
{
    return table ? ((header_t *)ws_slots_header(table))->started : 0;
}

void ws_stats_hub_write(const ws_stats_hub_t *in)
{
    ws_stats_hub_t *h;

    if (!table) {
        return;
    }
    h = &((header_t *)ws_slots_header(table))->hub;
    __atomic_store_n(&h->channels, in->channels, __ATOMIC_RELAXED);
    __atomic_store_n(&h->kept, in->kept, __ATOMIC_RELAXED);
    __atomic_store_n(&h->bytes, in->bytes, __ATOMIC_RELAXED);
    __atomic_store_n(&h->evicted, in->evicted, __ATOMIC_RELAXED);
    __atomic_store_n(&h->updated, in->updated, __ATOMIC_RELEASE);
}

void ws_stats_hub_read(ws_stats_hub_t *out)
{
    ws_stats_hub_t *h;

    memset(out, 0, sizeof(*out));
    if (!table) {
        return;
    }
    h = &((header_t *)ws_slots_header(table))->hub;
    out->updated = __atomic_load_n(&h->updated, __ATOMIC_ACQUIRE);
    out->channels = __atomic_load_n(&h->channels, __ATOMIC_RELAXED);
    out->kept = __atomic_load_n(&h->kept, __ATOMIC_RELAXED);
    out->bytes = __atomic_load_n(&h->bytes, __ATOMIC_RELAXED);
    out->evicted = __atomic_load_n(&h->evicted, __ATOMIC_RELAXED);
}
