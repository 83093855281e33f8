/*
 * ws_redisconf.h -- WebSocketChannels redis://...: the Redis server that
 * several httpd servers share for channels (ws_hubredis.h uses it).
 *
 * Owns: parsing and copying the setting.  Pure (APR pools only); called
 * while httpd reads its configuration.
 */
#ifndef WS_REDISCONF_H
#define WS_REDISCONF_H

#include "apr_pools.h"
#include "apr_time.h"

/* WebSocketChannels redis://... as parsed (ws_redis_conf_parse). */
typedef struct ws_redis_conf {
    const char *display;        /* the URL without its password, for logs */
    const char *host;           /* NULL with socket_path */
    int port;
    const char *socket_path;    /* unix:// */
    const char *user;           /* NULL: AUTH <password> */
    const char *password;       /* NULL: no AUTH */
    int db;
    const char *prefix;         /* of every key and channel; "ws:" */
    apr_interval_time_t timeout;/* an answer takes longer: outage; 2 s */
    const char *canonical;      /* all of the above, to compare configs */
} ws_redis_conf_t;

/*
 * Parse the arguments of WebSocketChannels after the URL's scheme check:
 * argv[0] is redis://[[user]:password@]host[:port][/db] or
 * unix:///path[?db=N]; then prefix=STRING, timeout=SECONDS, db=N.
 * Returns NULL (c filled, strings in p) or the error text.  rediss:// is
 * refused: Debian's hiredis 0.14 has no TLS.
 */
const char *ws_redis_conf_parse(apr_pool_t *p, int argc, char *const argv[],
                                ws_redis_conf_t *c);

/* A deep copy in p (the hub's configuration outlives generations). */
ws_redis_conf_t *ws_redis_conf_copy(apr_pool_t *p, const ws_redis_conf_t *c);

#endif /* WS_REDISCONF_H */
