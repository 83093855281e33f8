/*
 * ws_stats.h -- the server's WebSocket counters, in shared memory: every
 * child process and generation adds to its own region (ws_slots), and any
 * process reads the whole server's figures (the status page, mod_status's
 * section).
 *
 * Owns: the counters (server-wide and per location), the table of
 * location names they are kept under, and summing them.  Counters that
 * only grow (messages, bytes, closes, refusals) keep counting what
 * children that exited or crashed had counted; gauges (open connections,
 * subscriptions) cover live children only, so a killed child's sockets do
 * not stay "open" on the page.  "Nothing is lost silently": every dropped
 * message and every queue-overflow close is counted here.
 *
 * Threads: ws_stats_add/ws_stats_add_at from any thread of a child
 * (relaxed atomic 64-bit adds to the child's own region; nothing blocks);
 * reading from any thread of any process.  Until a child has its region
 * (and in processes that have none: the parent, the channel hub) adds go
 * to a process-local array nobody reads.
 */
#ifndef WS_STATS_H
#define WS_STATS_H

#include "apr.h"
#include "httpd.h"

#include "ws_plugin_api.h"

typedef enum {
    WS_STAT_OPEN = 0,           /* gauge: connections open now */
    WS_STAT_TOTAL,              /* connections accepted (101 sent) */
    WS_STAT_IN_LOOPS,           /* gauge: open and run by event loops */
    WS_STAT_MSGS_IN,
    WS_STAT_MSGS_OUT,
    WS_STAT_BYTES_IN,           /* bytes read from sockets (frames) */
    WS_STAT_BYTES_OUT,          /* bytes written to sockets (frames) */
    WS_STAT_DROPPED,            /* messages refused: output queue full */
    WS_STAT_OVERFLOW_CLOSES,    /* connections closed 1008: queue full */
    WS_STAT_PINGS,
    WS_STAT_DEAD_PEERS,         /* closed: no pong in time */
    WS_STAT_VIOLATIONS,         /* closed: protocol violation */
    WS_STAT_ADDR_REFUSED,       /* 503: WebSocketMaxConnectionsPerAddress */
    WS_STAT_CAPACITY_REFUSED,   /* 503: WebSocketMaxConnections */
    WS_STAT_SUBSCRIPTIONS,      /* gauge: channel subscriptions now */
    WS_STAT_PUBLISHED,          /* channel messages published from here */
    WS_STAT_DELIVERED,          /* channel messages to local subscribers */
    WS_STAT_CHANNEL_DROPPED,    /* publishes and sends dropped: the hub
                                 * unreachable with a full backlog, or the
                                 * target connection gone */
    WS_STAT_ORIGIN_REFUSED,     /* 403: Origin not allowed */
    WS_STAT_HANDSHAKE_REFUSED,  /* 400/405/426: not a valid upgrade */
    WS_STAT_HANDLER_REFUSED,    /* the handler's on_open said no */
    WS_STAT_CLOSED_BY_CLIENT,   /* the client's close frame came first */
    WS_STAT_CLOSED_BY_SERVER,   /* ours came first */
    /* Connections ended, by close code (RFC 6455 section 7.4.1); 1005 is
     * a close frame without a code, 1006 no closing handshake at all. */
    WS_STAT_CLOSE_1000, WS_STAT_CLOSE_1001, WS_STAT_CLOSE_1002,
    WS_STAT_CLOSE_1003, WS_STAT_CLOSE_1005, WS_STAT_CLOSE_1006,
    WS_STAT_CLOSE_1007, WS_STAT_CLOSE_1008, WS_STAT_CLOSE_1009,
    WS_STAT_CLOSE_1010, WS_STAT_CLOSE_1011, WS_STAT_CLOSE_OTHER,
    WS_STAT_COUNT
} ws_stat_e;

/* Per location (ws_location_t.stats). */
typedef enum {
    WS_LSTAT_OPEN = 0,          /* gauge */
    WS_LSTAT_TOTAL,
    WS_LSTAT_MSGS_IN,
    WS_LSTAT_MSGS_OUT,
    WS_LSTAT_BYTES_IN,
    WS_LSTAT_BYTES_OUT,
    WS_LSTAT_COUNT
} ws_lstat_e;

/* Locations with counters of their own; the ones beyond share the last
 * row ("other locations"). */
#define WS_STATS_LOCATIONS 32
#define WS_STATS_NAME_MAX  120

/* The whole server's figures, or one child's (ws_stats_read). */
typedef struct {
    apr_uint64_t c[WS_STAT_COUNT];
    apr_uint64_t loc[WS_STATS_LOCATIONS][WS_LSTAT_COUNT];
} ws_stats_t;

/* One live child, as the page lists it. */
typedef struct {
    pid_t pid;
    int generation;             /* ap_my_generation of that child */
    apr_time_t started;
    ws_stats_t figures;
} ws_stats_child_t;

/* post_config: attach the shared table (made once for the server's life;
 * it survives restarts) and give each configured location its row
 * (by path; a path seen in an earlier generation keeps its row).  Returns
 * APR_SUCCESS or the shared-memory error. */
apr_status_t ws_stats_post_config(server_rec *s);

/* child_init: remember this child's generation for its region. */
void ws_stats_child_init(void);

void ws_stats_add(ws_stat_e which, apr_uint64_t n);
/* Add n to loc's counter and to the server-wide one it is a share of
 * (WS_LSTAT_MSGS_IN: WS_STAT_MSGS_IN, ...); loc may be NULL. */
void ws_stats_add_at(const ws_location_t *loc, ws_lstat_e which,
                     apr_uint64_t n);

/* Count a connection's end: its close code and who closed first
 * (closed_by: 'c' client, 's' server, 0 neither). */
void ws_stats_closed(int code, int closed_by);

/* The whole server: *out gets the sums (gauges over live children,
 * counters over every child that ever had a region); *children (if not
 * NULL) an array of the live children, in p, *nchildren their number. */
void ws_stats_read(apr_pool_t *p, ws_stats_t *out,
                   ws_stats_child_t **children, int *nchildren);

/* The channel hub's figures (ws_hub, once a second): channels it holds,
 * history messages and bytes kept, messages evicted by the memory limit.
 * ws_stats_hub_read gives them with when they were written (0: never). */
typedef struct {
    apr_uint64_t channels, kept, bytes, evicted;
    apr_time_t updated;
} ws_stats_hub_t;
void ws_stats_hub_write(const ws_stats_hub_t *h);
void ws_stats_hub_read(ws_stats_hub_t *out);

/* Row i's location path, or NULL for an unused row. */
const char *ws_stats_location_name(int i);

/* When the server started (the table was made), and the generation of
 * its newest children. */
apr_time_t ws_stats_started(void);

/* A counter's name as mod_status's ?auto page shows it
 * ("WebSocketsOpen"), and whether it is a gauge. */
const char *ws_stats_name(ws_stat_e which);
int ws_stats_is_gauge(ws_stat_e which);

#endif /* WS_STATS_H */
