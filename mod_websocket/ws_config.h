/*
 * ws_config.h -- mod_websocket's configuration: the per-directory struct,
 * its create/merge, and the directive table.
 *
 * Merging is mechanical (as in mod_h2 and mod_reqtimeout): create sets every
 * field to UNSET, merge takes the inner value where it was set.  The
 * defaults are applied by the ws_conf_*() getters, not stored, so that an
 * unset value in an inner <Location> still inherits an outer setting.
 */
#ifndef WS_CONFIG_H
#define WS_CONFIG_H

#include "httpd.h"
#include "http_config.h"
#include "apr_tables.h"

#include "ws_plugin.h"
#include "ws_pmd.h"

#define WS_UNSET (-1)

/* Defaults, in one place (README "Directives" documents each). */
#define WS_DEFAULT_MAX_MESSAGE  (16 * 1024 * 1024)
#define WS_DEFAULT_MAX_FRAME    (16 * 1024 * 1024)
#define WS_DEFAULT_MAX_QUEUED   (64 * 1024 * 1024)
#define WS_DEFAULT_MAX_FRAGMENTS 100000
#define WS_DEFAULT_MAX_CONTROL  1000        /* per second */
#define WS_DEFAULT_MAX_PER_ADDRESS 0        /* off */
#define WS_DEFAULT_PING         apr_time_from_sec(30)
#define WS_DEFAULT_PING_TIMEOUT apr_time_from_sec(20)
#define WS_DEFAULT_IDLE         0           /* off */
#define WS_DEFAULT_CLOSE        apr_time_from_sec(5)
#define WS_DEFAULT_GRACEFUL     apr_time_from_sec(5)
#define WS_DEFAULT_HISTORY_COUNT 100
#define WS_DEFAULT_HISTORY_AGE  apr_time_from_sec(3600)
#define WS_DEFAULT_CHANNEL_MEMORY (64 * 1024 * 1024)
/* permessage-deflate (RFC 7692): see README "WebSocketCompression". */
#define WS_DEFAULT_COMPRESSION  1
#define WS_DEFAULT_COMPRESS_LEVEL 3
#define WS_DEFAULT_SERVER_WINDOW 15
#define WS_DEFAULT_CLIENT_WINDOW 12
#define WS_DEFAULT_COMPRESS_MEM 8
#define WS_DEFAULT_COMPRESS_MIN 64
#define WS_TAKEOVER_SERVER 1    /* WebSocketCompressionContextTakeover */
#define WS_TAKEOVER_CLIENT 2
#define WS_DEFAULT_TAKEOVER WS_TAKEOVER_CLIENT

typedef enum {
    WS_PLAIN_REFUSE = 0,        /* non-upgrade requests get 426 */
    WS_PLAIN_SERVE = 1          /* ...are served as normal content */
} ws_plain_e;

typedef enum {
    WS_OVERFLOW_CLOSE = 0,      /* close the slow peer with 1008 */
    WS_OVERFLOW_DROP = 1        /* drop the message, count it */
} ws_overflow_e;

typedef enum {
    WS_IO_AUTO = 0,             /* park under mpm_event, else a thread */
    WS_IO_THREAD = 1            /* always a thread per connection */
} ws_io_mode_e;

typedef struct ws_dir_conf {
    const char *path;           /* the section's path (NULL: none) */
    ws_plugin_t *handler;       /* NULL: unset */
    ws_location_t *location;    /* the handler's section (with handler) */
    const char *ns;             /* WebSocketNamespace; NULL: unset */
    int history_count;          /* WebSocketChannelHistory; WS_UNSET */
    apr_interval_time_t history_age;
    apr_table_t *options;       /* WebSocketHandlerOption; overlaid */
    apr_array_header_t *option_src; /* ws_option_src_t: this section's own
                                     * options, where they were written */
    apr_off_t max_message;      /* WS_UNSET or bytes */
    apr_off_t max_frame;        /* WS_UNSET or bytes */
    apr_array_header_t *origins;    /* const char *; NULL: unset */
    apr_array_header_t *protocols;  /* const char *; NULL: unset */
    int plain;                  /* WS_UNSET or ws_plain_e */
    apr_off_t max_queued;       /* WS_UNSET or bytes */
    int max_fragments;          /* WS_UNSET or count; 0 = no limit */
    int max_control;            /* WS_UNSET or per second; 0 = no limit */
    int max_per_address;        /* WS_UNSET or count; 0 = no limit */
    int overflow;               /* WS_UNSET or ws_overflow_e */
    apr_interval_time_t ping;   /* WS_UNSET or time; 0 = no pings */
    apr_interval_time_t ping_timeout;
    apr_interval_time_t idle;   /* WS_UNSET or time; 0 = none */
    apr_interval_time_t close_timeout;
    apr_interval_time_t graceful;
    int compress;               /* WS_UNSET, 0, 1 */
    int compress_level;         /* WS_UNSET or 1-9 */
    int server_window;          /* WS_UNSET or 9-15 */
    int client_window;          /* WS_UNSET or 9-15 */
    int compress_mem;           /* WS_UNSET or 1-9 */
    apr_off_t compress_min;     /* WS_UNSET or bytes */
    int takeover;               /* WS_UNSET or WS_TAKEOVER_* bits */
} ws_dir_conf_t;

/* Server-wide settings (server config only), back to their defaults at
 * each configuration read (ws_conf_reset_globals, from pre_config). */

/* WebSocketIOMode. */
extern int ws_io_mode;

/* WebSocketEventLoops: loops per child (0: one per CPU, up to 8). */
extern int ws_event_loops;

/* WebSocketMaxConnections: WS_CAPACITY_AUTO, 0 (no limit) or a number
 * (see ws_capacity.h). */
#define WS_CAPACITY_AUTO (-1)
extern int ws_max_connections;

/* WebSocketChannelHistory in the main server: the default of every
 * location (count of messages, age). */
extern int ws_history_count;
extern apr_interval_time_t ws_history_age;

/* WebSocketChannelMemory: bytes of channel history the server keeps. */
extern apr_off_t ws_channel_memory;

/* WebSocketChannels: NULL (embedded, the default) or the Redis server
 * shared with other httpd servers (ws_hubredis.h). */
struct ws_redis_conf;
extern const struct ws_redis_conf *ws_channel_redis;

void ws_conf_reset_globals(void);

typedef struct {
    const char *key;
    const char *val;
    const char *file;
    int line;
} ws_option_src_t;

extern const command_rec ws_cmds[];



void *ws_create_dir_conf(apr_pool_t *p, char *dir);
void *ws_merge_dir_conf(apr_pool_t *p, void *basev, void *addv);

/* Effective values, defaults applied. */
apr_off_t ws_conf_max_message(const ws_dir_conf_t *conf);
apr_off_t ws_conf_max_frame(const ws_dir_conf_t *conf);
int ws_conf_plain(const ws_dir_conf_t *conf);
apr_off_t ws_conf_max_queued(const ws_dir_conf_t *conf);
int ws_conf_max_fragments(const ws_dir_conf_t *conf);
int ws_conf_max_control(const ws_dir_conf_t *conf);
int ws_conf_max_per_address(const ws_dir_conf_t *conf);
int ws_conf_overflow(const ws_dir_conf_t *conf);
apr_interval_time_t ws_conf_ping_interval(const ws_dir_conf_t *conf);
apr_interval_time_t ws_conf_ping_timeout(const ws_dir_conf_t *conf);
apr_interval_time_t ws_conf_idle_timeout(const ws_dir_conf_t *conf);
apr_interval_time_t ws_conf_close_timeout(const ws_dir_conf_t *conf);
apr_interval_time_t ws_conf_graceful_timeout(const ws_dir_conf_t *conf);
/* The channel history kept for messages published from here. */
int ws_conf_history_count(const ws_dir_conf_t *conf);
apr_interval_time_t ws_conf_history_age(const ws_dir_conf_t *conf);

/* A location's effective settings, defaults applied.  A session copies
 * them: the merged config lives in the request's pool, which a parked
 * connection outlives. */
typedef struct {
    apr_off_t max_message;
    apr_off_t max_frame;
    apr_off_t max_queued;
    int max_fragments;
    int max_control;
    int overflow;
    apr_interval_time_t ping;
    apr_interval_time_t ping_timeout;
    apr_interval_time_t idle;
    apr_interval_time_t close_timeout;
    apr_interval_time_t graceful;
    int compress;               /* offer permessage-deflate answers */
    ws_pmd_policy_t pmd;
    int compress_level;
    int compress_mem;
    size_t compress_min;
} ws_settings_t;

void ws_conf_settings(const ws_dir_conf_t *conf, ws_settings_t *out);

/* check_config hook: WebSocketHandlerOption lines in a <Location> without
 * its own WebSocketHandler are checked by the handler of every enclosing
 * <Location> (at path segment boundaries, as httpd matches them), so they
 * too fail configtest. */
int ws_conf_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                         apr_pool_t *ptemp, server_rec *s);

/* Names of namespaces and channels: 1 to WS_NAME_MAX bytes, no control
 * characters. */
#define WS_NAME_MAX 255
int ws_conf_name_valid(const char *name, size_t len);

/* Parse a byte size ("1048576", "64K", "16M", "1G"); NULL or an error. */
const char *ws_parse_size(apr_pool_t *p, const char *arg, apr_off_t *out);

#endif /* WS_CONFIG_H */
