/*
 * ws_hubredis.c -- channels over Redis (see ws_hubredis.h).
 *
 * Two hiredis async contexts on the hub's epoll (our adapter below): cmd
 * (scripts, heartbeats) and sub (one PSUBSCRIBE).  Every command on cmd
 * goes through cmd_send, which keeps it in a FIFO with its send time:
 * Redis answers in order, so the FIFO's head is the oldest unanswered one
 * and the timeout is checked on it alone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "apr_general.h"
#include "apr_strings.h"
#include "httpd.h"
#include "http_log.h"

#include "ws_private.h"
#include "ws_hubredis.h"

#define BACKOFF_MIN apr_time_from_msec(100)
#define BACKOFF_MAX apr_time_from_sec(1)
#define BEAT_EVERY apr_time_from_sec(1)
#define SERVER_TTL_MS 10000
#define PRESENCE_TTL_MS 30000
#define REFRESH_EVERY apr_time_from_sec(10)
#define MAX_MEMBERS 1000
#define MAX_REPLAY (32u * 1024 * 1024)
#define MAX_INFLIGHT (64u * 1024 * 1024)

/* --- the scripts --- */

/* Subscribers of a channel on live servers (dead ones' counts go). */
#define LUA_SUBS \
    "local function subs(nkey, sp)\n" \
    "  local n, h = 0, redis.call('HGETALL', nkey)\n" \
    "  for i = 1, #h, 2 do\n" \
    "    if redis.call('EXISTS', sp .. h[i]) == 1 then\n" \
    "      n = n + tonumber(h[i + 1])\n" \
    "    else redis.call('HDEL', nkey, h[i]) end\n" \
    "  end\n" \
    "  return n\n" \
    "end\n" \
    "local t = redis.call('TIME')\n" \
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n" \
    "local nowms = math.floor(now / 1000)\n" \
    "local function num(x) return string.format('%.0f', x) end\n"

/* KEYS i h n; ARGV channel type conn exclude count age origin seq data
 * server-prefix.  Returns {id, subscribers}. */
static const char lua_publish[] = LUA_SUBS
    "local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')\n"
    "local id = now\n"
    "if id <= last then id = last + 1 end\n"
    "local count, age = tonumber(ARGV[5]), tonumber(ARGV[6])\n"
    "redis.call('HSET', KEYS[1], 'last', num(id), 'age', ARGV[6])\n"
    "if count > 0 and age > 0 then\n"
    "  local n = redis.call('RPUSH', KEYS[2], num(id) .. '|' .. num(now)\n"
    "    .. '|' .. ARGV[2] .. '|' .. ARGV[3] .. '|' .. ARGV[9])\n"
    "  if n > count then\n"
    "    local gone = redis.call('LRANGE', KEYS[2], n - count - 1,\n"
    "                            n - count - 1)\n"
    "    redis.call('LTRIM', KEYS[2], n - count, -1)\n"
    "    redis.call('HSET', KEYS[1], 'lost',\n"
    "               string.match(gone[1], '^(%d+)'))\n"
    "  end\n"
    "  redis.call('PEXPIRE', KEYS[2], math.ceil(age / 1000))\n"
    "else\n"
    "  redis.call('DEL', KEYS[2])\n"
    "  redis.call('HSET', KEYS[1], 'lost', num(id))\n"
    "end\n"
    "redis.call('PEXPIRE', KEYS[1], math.max(math.ceil(age / 1000),\n"
    "                                        86400000))\n"
    "local s = subs(KEYS[3], ARGV[10])\n"
    "redis.call('PUBLISH', ARGV[1], '1|' .. num(id) .. '|' .. num(now)\n"
    "  .. '|' .. ARGV[2] .. '|' .. ARGV[3] .. '|' .. ARGV[4] .. '|'\n"
    "  .. num(s) .. '|' .. ARGV[7] .. '|' .. ARGV[8] .. '|' .. ARGV[9])\n"
    "return {num(id), s}\n";

/* KEYS i h n p; ARGV since last presence server conn label channel
 * server-prefix presence-ttl max-members.  Returns {last, gap,
 * subscribers, {history}, {members}}. */
static const char lua_join[] = LUA_SUBS
    "redis.call('HINCRBY', KEYS[3], ARGV[4], 1)\n"
    "redis.call('PEXPIRE', KEYS[3], 60000)\n"
    "local f = redis.call('HMGET', KEYS[1], 'last', 'lost', 'age')\n"
    "local last = tonumber(f[1] or '0')\n"
    "local lost = tonumber(f[2] or '0')\n"
    "local age = tonumber(f[3] or '0')\n"
    "local all = redis.call('LRANGE', KEYS[2], 0, -1)\n"
    "if #all == 0 then lost = last end\n"
    "local kept = {}\n"
    "for _, e in ipairs(all) do\n"
    "  local id, tm = string.match(e, '^(%d+)|(%d+)|')\n"
    "  id, tm = tonumber(id), tonumber(tm)\n"
    "  if age > 0 and tm + age < now then\n"
    "    if id > lost then lost = id end\n"
    "  else kept[#kept + 1] = e end\n"
    "end\n"
    "local since, want = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
    "local out, gap = {}, 0\n"
    "if since > 0 then\n"
    "  if since < lost or since > last then gap = 1 end\n"
    "  for _, e in ipairs(kept) do\n"
    "    if tonumber(string.match(e, '^(%d+)')) > since then\n"
    "      out[#out + 1] = e\n"
    "    end\n"
    "  end\n"
    "elseif want > 0 then\n"
    "  for i = math.max(1, #kept - want + 1), #kept do\n"
    "    out[#out + 1] = kept[i]\n"
    "  end\n"
    "end\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', nowms)\n"
    "if ARGV[3] == '1' then\n"
    "  redis.call('ZADD', KEYS[4], nowms + tonumber(ARGV[9]),\n"
    "             ARGV[4] .. '|' .. ARGV[5] .. '|' .. ARGV[6])\n"
    "  redis.call('PEXPIRE', KEYS[4], tonumber(ARGV[9]))\n"
    "end\n"
    "local members = redis.call('ZRANGE', KEYS[4], 0,\n"
    "                           tonumber(ARGV[10]) - 1)\n"
    "local s = subs(KEYS[3], ARGV[8])\n"
    "if ARGV[3] == '1' then\n"
    "  redis.call('PUBLISH', ARGV[7], '2|0|' .. num(now) .. '|1|'\n"
    "    .. ARGV[5] .. '|' .. ARGV[5] .. '|' .. num(s) .. '|' .. ARGV[4]\n"
    "    .. '|0|' .. ARGV[6])\n"
    "end\n"
    "return {num(last), gap, s, out, members}\n";

/* KEYS n p; ARGV server conn label presence channel server-prefix. */
static const char lua_leave[] = LUA_SUBS
    "if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then\n"
    "  redis.call('HDEL', KEYS[1], ARGV[1])\n"
    "end\n"
    "if ARGV[4] == '1' then\n"
    "  redis.call('ZREM', KEYS[2], ARGV[1] .. '|' .. ARGV[2] .. '|'\n"
    "             .. ARGV[3])\n"
    "  local s = subs(KEYS[1], ARGV[6])\n"
    "  if s > 0 then\n"
    "    redis.call('PUBLISH', ARGV[5], '3|0|' .. num(now) .. '|1|'\n"
    "      .. ARGV[2] .. '|' .. ARGV[2] .. '|' .. num(s) .. '|' .. ARGV[1]\n"
    "      .. '|0|' .. ARGV[3])\n"
    "  end\n"
    "end\n"
    "return 1\n";

/* KEYS i h n p; ARGV server-prefix.  Returns {last, subscribers, kept,
 * oldest, members}. */
static const char lua_info[] = LUA_SUBS
    "local f = redis.call('HMGET', KEYS[1], 'last', 'age')\n"
    "local last, age = tonumber(f[1] or '0'), tonumber(f[2] or '0')\n"
    "local kept, oldest = 0, 0\n"
    "for _, e in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do\n"
    "  local id, tm = string.match(e, '^(%d+)|(%d+)|')\n"
    "  if not (age > 0 and tonumber(tm) + age < now) then\n"
    "    kept = kept + 1\n"
    "    if oldest == 0 then oldest = tonumber(id) end\n"
    "  end\n"
    "end\n"
    "return {num(last), subs(KEYS[3], ARGV[1]), kept, num(oldest),\n"
    "        redis.call('ZCOUNT', KEYS[4], nowms, '+inf')}\n";

/* KEYS n p; ARGV server count ttl member... : this server's count and
 * presence members, replacing what it had. */
static const char lua_resync[] = LUA_SUBS
    "if tonumber(ARGV[2]) > 0 then\n"
    "  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
    "  redis.call('PEXPIRE', KEYS[1], 60000)\n"
    "else redis.call('HDEL', KEYS[1], ARGV[1]) end\n"
    "local mine = ARGV[1] .. '|'\n"
    "for _, m in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do\n"
    "  if string.sub(m, 1, #mine) == mine then\n"
    "    redis.call('ZREM', KEYS[2], m)\n"
    "  end\n"
    "end\n"
    "for i = 4, #ARGV do\n"
    "  redis.call('ZADD', KEYS[2], nowms + tonumber(ARGV[3]), ARGV[i])\n"
    "end\n"
    "if #ARGV >= 4 then redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3])) end\n"
    "return 1\n";

/* KEYS i h; ARGV since.  Returns {history after since}. */
static const char lua_since[] = LUA_SUBS
    "local age = tonumber(redis.call('HGET', KEYS[1], 'age') or '0')\n"
    "local since, out = tonumber(ARGV[1]), {}\n"
    "for _, e in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do\n"
    "  local id, tm = string.match(e, '^(%d+)|(%d+)|')\n"
    "  if tonumber(id) > since\n"
    "     and not (age > 0 and tonumber(tm) + age < now) then\n"
    "    out[#out + 1] = e\n"
    "  end\n"
    "end\n"
    "return {0, 0, 0, out, {}}\n";

enum { S_PUBLISH, S_JOIN, S_LEAVE, S_INFO, S_RESYNC, S_SINCE, S_COUNT };

static const char *const scripts[S_COUNT] = {
    lua_publish, lua_join, lua_leave, lua_info, lua_resync, lua_since
};

/* --- state --- */

enum { K_PLAIN, K_SETUP, K_LOAD, K_PUBLISH, K_JOIN, K_INFO, K_CATCHUP };

typedef struct pub {
    struct pub *next;
    uint64_t seq;
    int replied, seen;
    uint64_t id;                /* from the echo, once seen */
    uint32_t subscribers;
    uint32_t target;
    uint64_t token;
    ws_hubmsg_t m;              /* key and data point into buf */
    uint8_t *buf;
    size_t size;
} pub_t;

typedef struct qmsg {
    struct qmsg *next;
    size_t len;
    char data[1];               /* the pub/sub payload */
} qmsg_t;

typedef struct hold {
    struct hold *next;
    uint8_t *key;
    size_t klen;
    int count;                  /* joins in flight */
    qmsg_t *head, *tail;
} hold_t;

typedef struct join {
    ws_hubmsg_t m;              /* the SUB, pointing into buf */
    uint8_t *buf;
    uint32_t target;
    hold_t *hold;
    struct join *next;          /* catch-ups waiting for Redis */
} join_t;

typedef struct {
    uint32_t target;
    uint64_t token;
    size_t klen;
    uint8_t key[1];
} info_t;

typedef struct rcmd {
    struct rcmd *next;
    apr_time_t sent;
    int kind;
    int script;                 /* K_LOAD */
    void *op;
} rcmd_t;

typedef struct {
    ws_hubredis_t *r;
    uint32_t slot;
    int fd;
    uint32_t events;
} evctx_t;

typedef enum { ST_DOWN, ST_CONNECTING, ST_UP } state_e;

struct ws_hubredis {
    ws_redis_conf_t conf;
    ws_hubredis_hooks_t h;
    server_rec *s;
    uint32_t slot_cmd, slot_sub;
    redisAsyncContext *cmd, *sub;
    evctx_t cmd_ev, sub_ev;
    state_e state;
    int loaded, subscribed;
    char sha[S_COUNT][41];
    rcmd_t *head, *tail;
    pub_t *pubs, *pubs_tail;
    size_t pub_bytes;
    uint64_t seq;
    hold_t *holds;
    apr_time_t connect_start, next_attempt, backoff, last_beat, last_refresh;
    int resync_soon;
    /* outages */
    int in_outage;
    apr_time_t outage_since;
    apr_time_t outage_hint;     /* when the unanswered command was sent */
    char last_why[160];         /* the last reason logged at warn */
    join_t *catchups;           /* waiting for Redis to be up */
    uint64_t local_only;
    char server[33];            /* this hub's id in Redis */
    char *pattern, *chan_prefix, *srv_prefix, *srv_key;
    size_t chan_prefix_len;
};

static void go_down(ws_hubredis_t *r, const char *why);
static void pubs_trim(ws_hubredis_t *r);
static void check_up(ws_hubredis_t *r);
struct join;
static void catchup_send(ws_hubredis_t *r, struct join *jn);

/* --- hiredis on our epoll --- */

/* hiredis asks for (on) or gives up (off) readiness bit of e. */
static void ev_set(void *p, uint32_t bit, int on)
{
    evctx_t *e = p;
    uint32_t events = on ? (e->events | bit) : (e->events & ~bit);

    if (events != e->events) {
        e->events = events;
        e->r->h.watch(e->fd, e->slot, e->events);
    }
}

static void ev_add_read(void *p) { ev_set(p, EPOLLIN, 1); }
static void ev_del_read(void *p) { ev_set(p, EPOLLIN, 0); }
static void ev_add_write(void *p) { ev_set(p, EPOLLOUT, 1); }
static void ev_del_write(void *p) { ev_set(p, EPOLLOUT, 0); }

static void ev_cleanup(void *p)
{
    ev_set(p, EPOLLIN | EPOLLOUT, 0);
}

static void attach(ws_hubredis_t *r, redisAsyncContext *ac, evctx_t *e,
                   uint32_t slot)
{
    e->r = r;
    e->slot = slot;
    e->fd = ac->c.fd;
    e->events = 0;
    ac->data = r;
    ac->ev.data = e;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
}

void ws_hubredis_event(ws_hubredis_t *r, uint32_t slot, uint32_t events)
{
    redisAsyncContext *ac = slot == r->slot_cmd ? r->cmd
                          : slot == r->slot_sub ? r->sub : NULL;

    if (!ac) {
        return;
    }
    if (events & EPOLLOUT) {
        redisAsyncHandleWrite(ac);
    }
    /* The write may have ended it. */
    ac = slot == r->slot_cmd ? r->cmd : r->sub;
    if (ac && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        redisAsyncHandleRead(ac);
    }
}

/* --- commands --- */

static void cmd_reply(redisAsyncContext *ac, void *reply, void *priv);

static int cmd_send(ws_hubredis_t *r, int kind, void *op, int argc,
                    const char **argv, const size_t *lens)
{
    rcmd_t *c;

    if (!r->cmd || !(c = calloc(1, sizeof(*c)))) {
        return -1;
    }
    c->sent = apr_time_now();
    c->kind = kind;
    c->op = op;
    if (redisAsyncCommandArgv(r->cmd, cmd_reply, c, argc, argv, lens)
        != REDIS_OK) {
        free(c);
        return -1;
    }
    if (r->tail) {
        r->tail->next = c;
    }
    else {
        r->head = c;
    }
    r->tail = c;
    return 0;
}

/* EVALSHA script with keys (the channel key under each letter's prefix)
 * and args. */
#define MAX_ARGS 24

typedef struct {
    int n;
    const char *v[MAX_ARGS];
    size_t len[MAX_ARGS];
    char *owned[MAX_ARGS];
    int nowned;
} args_t;

static void arg_add(args_t *a, const void *p, size_t len)
{
    a->v[a->n] = p;
    a->len[a->n] = len;
    a->n++;
}

static void arg_str(args_t *a, const char *s)
{
    arg_add(a, s, strlen(s));
}

static void arg_num(args_t *a, uint64_t v)
{
    char *s = malloc(24);

    snprintf(s, 24, "%llu", (unsigned long long)v);
    a->owned[a->nowned++] = s;
    arg_str(a, s);
}

/* prefix + letter + key */
static void arg_key(args_t *a, ws_hubredis_t *r, char letter,
                    const uint8_t *key, size_t klen)
{
    size_t plen = strlen(r->conf.prefix);
    char *s = malloc(plen + 2 + klen);

    memcpy(s, r->conf.prefix, plen);
    s[plen] = letter;
    s[plen + 1] = ':';
    memcpy(s + plen + 2, key, klen);
    a->owned[a->nowned++] = s;
    arg_add(a, s, plen + 2 + klen);
}

static void args_free(args_t *a)
{
    int i;

    for (i = 0; i < a->nowned; i++) {
        free(a->owned[i]);
    }
}

static void args_evalsha(args_t *a, ws_hubredis_t *r, int script, int nkeys)
{
    a->n = 0;
    a->nowned = 0;
    arg_str(a, "EVALSHA");
    arg_str(a, r->sha[script]);
    arg_num(a, (uint64_t)nkeys);
}

static int args_send(ws_hubredis_t *r, args_t *a, int kind, void *op)
{
    int rv = cmd_send(r, kind, op, a->n, a->v, a->len);

    args_free(a);
    return rv;
}

/* --- pub/sub payloads --- */

/* Parse "event|id|time|type|conn|exclude|subscribers|origin|seq|data". */
static int parse_payload(const char *p, size_t len, ws_hubmsg_t *m,
                         const char **origin, size_t *olen, uint64_t *seq)
{
    const char *end = p + len, *f[9];
    size_t flen[9];
    uint64_t v[9];
    int i;

    for (i = 0; i < 9; i++) {
        const char *bar = memchr(p, '|', (size_t)(end - p));

        if (!bar) {
            return -1;
        }
        f[i] = p;
        flen[i] = (size_t)(bar - p);
        v[i] = strtoull(p, NULL, 10);
        p = bar + 1;
    }
    m->event = (uint32_t)v[0];
    m->id = v[1];
    m->time = v[2];
    m->msgtype = (uint32_t)v[3];
    m->conn = v[4];
    m->exclude = v[5];
    m->subscribers = (uint32_t)v[6];
    *origin = f[7];
    *olen = flen[7];
    *seq = v[8];
    m->data = (const uint8_t *)p;
    m->data_len = (size_t)(end - p);
    return 0;
}

/* A payload from Redis for key: to this server's subscribers. */
static void deliver_payload(ws_hubredis_t *r, const uint8_t *key,
                            size_t klen, const char *p, size_t len)
{
    ws_hubmsg_t m;
    const char *origin;
    size_t olen;
    uint64_t seq;
    int mine;

    memset(&m, 0, sizeof(m));
    if (parse_payload(p, len, &m, &origin, &olen, &seq) != 0) {
        return;
    }
    mine = olen == strlen(r->server) && !memcmp(origin, r->server, olen);
    if (mine && m.event == 1) {
        pub_t *pb;

        for (pb = r->pubs; pb; pb = pb->next) {
            if (pb->seq == seq) {
                pb->seen = 1;
                pb->id = m.id;
                pb->subscribers = m.subscribers;
                break;
            }
        }
        pubs_trim(r);
    }
    if (!mine) {
        m.exclude = 0;          /* another server's connection */
    }
    m.type = WS_HUB_DELIVER;
    m.key = key;
    m.key_len = klen;
    r->h.deliver(&m);
}

static hold_t *hold_find(ws_hubredis_t *r, const uint8_t *key, size_t klen)
{
    hold_t *h;

    for (h = r->holds; h; h = h->next) {
        if (h->klen == klen && !memcmp(h->key, key, klen)) {
            return h;
        }
    }
    return NULL;
}

static void hold_release(ws_hubredis_t *r, hold_t *h)
{
    hold_t **pp;
    qmsg_t *q;

    if (--h->count > 0) {
        return;
    }
    for (pp = &r->holds; *pp != h; pp = &(*pp)->next) {
    }
    *pp = h->next;
    while ((q = h->head)) {
        h->head = q->next;
        deliver_payload(r, h->key, h->klen, q->data, q->len);
        free(q);
    }
    free(h->key);
    free(h);
}

static void on_pmessage(redisAsyncContext *ac, void *reply, void *priv)
{
    ws_hubredis_t *r = ac->data;
    redisReply *rep = reply, *ch, *pl;
    const uint8_t *key;
    size_t klen;
    hold_t *h;

    (void)priv;
    if (!rep || ac != r->sub) {
        return;
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 3) {
        return;
    }
    if (rep->element[0]->type == REDIS_REPLY_STRING
        && !strcasecmp(rep->element[0]->str, "psubscribe")) {
        r->subscribed = 1;
        check_up(r);
        return;
    }
    if (rep->elements != 4) {
        return;
    }
    ch = rep->element[2];
    pl = rep->element[3];
    if (ch->type != REDIS_REPLY_STRING || pl->type != REDIS_REPLY_STRING
        || (size_t)ch->len < r->chan_prefix_len) {
        return;
    }
    key = (const uint8_t *)ch->str + r->chan_prefix_len;
    klen = (size_t)ch->len - r->chan_prefix_len;
    if (r->holds && (h = hold_find(r, key, klen))) {
        qmsg_t *q = malloc(sizeof(*q) + (size_t)pl->len);

        if (q) {
            q->next = NULL;
            q->len = (size_t)pl->len;
            memcpy(q->data, pl->str, (size_t)pl->len);
            if (h->tail) {
                h->tail->next = q;
            }
            else {
                h->head = q;
            }
            h->tail = q;
        }
        return;
    }
    deliver_payload(r, key, klen, pl->str, (size_t)pl->len);
}

/* --- replies --- */

static void pub_free(ws_hubredis_t *r, pub_t *pb)
{
    pub_t **pp, *prev = NULL;

    for (pp = &r->pubs; *pp; prev = *pp, pp = &(*pp)->next) {
        if (*pp == pb) {
            *pp = pb->next;
            if (r->pubs_tail == pb) {
                r->pubs_tail = prev;
            }
            break;
        }
    }
    r->pub_bytes -= pb->size;
    free(pb->buf);
    free(pb);
}

/* Publishes answered and echoed are done; the head's echo is due. */
static void pubs_trim(ws_hubredis_t *r)
{
    while (r->pubs && r->pubs->replied && r->pubs->seen) {
        pub_free(r, r->pubs);
    }
}

static int reply_u64(const redisReply *e, uint64_t *v)
{
    if (e->type == REDIS_REPLY_INTEGER) {
        *v = (uint64_t)e->integer;
        return 0;
    }
    if (e->type == REDIS_REPLY_STRING) {
        *v = strtoull(e->str, NULL, 10);
        return 0;
    }
    return -1;
}

static void done_publish(ws_hubredis_t *r, pub_t *pb, redisReply *rep)
{
    uint64_t id, subs;

    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2
        && !reply_u64(rep->element[0], &id)
        && !reply_u64(rep->element[1], &subs)) {
        pb->replied = 1;
        if (pb->token) {
            r->h.puback(pb->target, pb->token, id, (uint32_t)subs);
        }
        pubs_trim(r);
        return;
    }
    if (pb->seen) {
        /* Redis took it (its echo came) but the answer was lost. */
        if (pb->token) {
            r->h.puback(pb->target, pb->token, pb->id, pb->subscribers);
        }
        pub_free(r, pb);
        return;
    }
    /* Refused (an error reply): deliver here, as in an outage. */
    if (rep) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, r->s, WSLOGNO(00097)
                     "channels: Redis at %s refused a publish (%s): "
                     "delivered on this server only", r->conf.display,
                     rep->type == REDIS_REPLY_ERROR ? rep->str : "?");
    }
    r->local_only++;
    r->h.publish_local(&pb->m, pb->target, pb->token);
    pub_free(r, pb);
}

static void parse_joined(redisReply *rep, ws_hubredis_joined_t *j, int *ok)
{
    size_t i, bytes = 0, first = 0;
    uint64_t v;
    redisReply *hist, *mem;

    *ok = 0;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 5
        || reply_u64(rep->element[0], &j->last)
        || reply_u64(rep->element[1], &v)
        || (j->gap = (int)v, reply_u64(rep->element[2], &v))
        || rep->element[3]->type != REDIS_REPLY_ARRAY
        || rep->element[4]->type != REDIS_REPLY_ARRAY) {
        return;
    }
    j->subscribers = (uint32_t)v;
    hist = rep->element[3];
    mem = rep->element[4];
    /* At most MAX_REPLAY bytes, the newest. */
    for (i = 0; i < hist->elements; i++) {
        bytes += (size_t)hist->element[i]->len + 32;
    }
    while (first < hist->elements && bytes > MAX_REPLAY) {
        bytes -= (size_t)hist->element[first]->len + 32;
        first++;
        j->gap = 1;
    }
    for (i = first; i < hist->elements; i++) {
        redisReply *e = hist->element[i];
        const char *p = e->str, *end = e->str + e->len, *f[4];
        ws_hubhist_t h;
        int k;

        if (e->type != REDIS_REPLY_STRING) {
            continue;
        }
        for (k = 0; k < 4; k++) {
            const char *bar = memchr(p, '|', (size_t)(end - p));

            if (!bar) {
                break;
            }
            f[k] = p;
            p = bar + 1;
        }
        if (k < 4) {
            continue;
        }
        h.id = strtoull(f[0], NULL, 10);
        h.time = strtoull(f[1], NULL, 10);
        h.msgtype = (uint32_t)strtoul(f[2], NULL, 10);
        h.conn = strtoull(f[3], NULL, 10);
        h.data = (const uint8_t *)p;
        h.data_len = (size_t)(end - p);
        if (ws_hubhist_add(&j->history, &h) != 0) {
            j->gap = 1;
            break;
        }
        j->count++;
    }
    for (i = 0; i < mem->elements; i++) {
        redisReply *e = mem->element[i];
        const char *b1, *b2;
        ws_hubmember_t m;

        if (e->type != REDIS_REPLY_STRING
            || !(b1 = memchr(e->str, '|', (size_t)e->len))
            || !(b2 = memchr(b1 + 1, '|',
                             (size_t)(e->str + e->len - b1 - 1)))) {
            continue;
        }
        m.conn = strtoull(b1 + 1, NULL, 10);
        m.label = (const uint8_t *)b2 + 1;
        m.label_len = (size_t)(e->str + e->len - b2 - 1);
        if (ws_hubmember_add(&j->members, &m) != 0) {
            break;
        }
        j->nmembers++;
    }
    *ok = 1;
}

/* A join's or a catch-up's answer: the replay (and members) to the hub,
 * then the channel's messages held meanwhile go (after the SUBACK or the
 * catch-up's messages). */
static void done_join(ws_hubredis_t *r, join_t *jn, redisReply *rep,
                      int catchup)
{
    ws_hubredis_joined_t j;
    int ok;

    memset(&j, 0, sizeof(j));
    ws_hubbuf_init(&j.history);
    ws_hubbuf_init(&j.members);
    parse_joined(rep, &j, &ok);
    if (catchup) {
        r->h.caught_up(jn->target, jn->m.key, jn->m.key_len, ok ? &j : NULL);
    }
    else {
        r->h.joined(&jn->m, jn->target, ok ? &j : NULL);
    }
    ws_hubbuf_free(&j.history);
    ws_hubbuf_free(&j.members);
    hold_release(r, jn->hold);
    free(jn->buf);
    free(jn);
}

static void done_info(ws_hubredis_t *r, info_t *in, redisReply *rep)
{
    ws_hubmsg_t ack;
    uint64_t last, subs, kept, oldest, members;

    memset(&ack, 0, sizeof(ack));
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 5
        && !reply_u64(rep->element[0], &last)
        && !reply_u64(rep->element[1], &subs)
        && !reply_u64(rep->element[2], &kept)
        && !reply_u64(rep->element[3], &oldest)
        && !reply_u64(rep->element[4], &members)) {
        ack.type = WS_HUB_INFOACK;
        ack.token = in->token;
        ack.id = last;
        ack.subscribers = (uint32_t)subs;
        ack.count = (uint32_t)kept;
        ack.since = oldest;
        ack.nmembers = (uint32_t)members;
        r->h.infoack(in->target, in->token, in->key, in->klen, &ack);
    }
    else {
        r->h.infoack(in->target, in->token, in->key, in->klen, NULL);
    }
    free(in);
}

static void check_up(ws_hubredis_t *r)
{
    apr_time_t now;

    if (r->state != ST_CONNECTING || r->loaded < S_COUNT || !r->subscribed) {
        return;
    }
    now = apr_time_now();
    r->state = ST_UP;
    r->backoff = BACKOFF_MIN;
    if (r->in_outage) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, r->s, WSLOGNO(00095)
                     "channels: Redis at %s is back after %.1f s; %"
                     APR_UINT64_T_FMT " channel messages published "
                     "meanwhile reached this server's subscribers only",
                     r->conf.display,
                     (double)(now - r->outage_since) / APR_USEC_PER_SEC,
                     r->local_only);
        r->in_outage = 0;
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, r->s, WSLOGNO(00096)
                     "channels: connected to Redis at %s (server id %s)",
                     r->conf.display, r->server);
    }
    r->local_only = 0;
    r->last_why[0] = '\0';
    r->last_refresh = now;
    r->h.resync();
    while (r->catchups && r->state == ST_UP) {
        join_t *jn = r->catchups;

        r->catchups = jn->next;
        catchup_send(r, jn);
    }
}

static void cmd_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    ws_hubredis_t *r = ac->data;
    redisReply *rep = reply;
    rcmd_t *c = priv;
    char why[256];
    int fatal = 0;

    /* Answers come in order: c is the head. */
    if (r->head == c) {
        r->head = c->next;
        if (!r->head) {
            r->tail = NULL;
        }
    }
    if (rep && rep->type == REDIS_REPLY_ERROR
        && (c->kind == K_SETUP || c->kind == K_LOAD
            || !strncmp(rep->str, "NOSCRIPT", 8))) {
        /* Wrong password, no such database, scripts flushed: start
         * over (the op, if any, fails to local delivery first). */
        apr_snprintf(why, sizeof(why), "it answered %s: %s",
                     c->kind == K_SETUP ? "AUTH/SELECT"
                     : c->kind == K_LOAD ? "SCRIPT LOAD" : "a script",
                     rep->str);
        fatal = 1;
        rep = NULL;
    }
    switch (c->kind) {
    case K_LOAD:
        if (rep && rep->type == REDIS_REPLY_STRING && rep->len == 40) {
            memcpy(r->sha[c->script], rep->str, 40);
            r->sha[c->script][40] = '\0';
            r->loaded++;
            check_up(r);
        }
        break;
    case K_PUBLISH:
        done_publish(r, c->op, rep);
        break;
    case K_JOIN:
        done_join(r, c->op, rep, 0);
        break;
    case K_INFO:
        done_info(r, c->op, rep);
        break;
    case K_CATCHUP:
        done_join(r, c->op, rep, 1);
        break;
    default:
        break;
    }
    free(c);
    if (fatal) {
        go_down(r, why);
    }
}

/* --- connection --- */

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    ws_hubredis_t *r = ac->data;

    (void)status;
    if (ac == r->cmd) {
        r->cmd = NULL;          /* hiredis frees it */
        go_down(r, ac->errstr[0] ? ac->errstr : "the connection closed");
    }
    else if (ac == r->sub) {
        r->sub = NULL;
        go_down(r, ac->errstr[0] ? ac->errstr : "the connection closed");
    }
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    ws_hubredis_t *r = ac->data;

    if (status != REDIS_OK) {
        /* hiredis frees ac after this. */
        if (ac == r->cmd) {
            r->cmd = NULL;
        }
        else if (ac == r->sub) {
            r->sub = NULL;
        }
        go_down(r, ac->errstr[0] ? ac->errstr : "cannot connect");
    }
}

static redisAsyncContext *open_one(ws_hubredis_t *r, evctx_t *e,
                                   uint32_t slot)
{
    redisAsyncContext *ac = r->conf.socket_path
        ? redisAsyncConnectUnix(r->conf.socket_path)
        : redisAsyncConnect(r->conf.host, r->conf.port);

    if (!ac) {
        return NULL;
    }
    if (ac->err) {
        char why[256];

        apr_snprintf(why, sizeof(why), "%s", ac->errstr);
        redisAsyncFree(ac);
        go_down(r, why);
        return NULL;
    }
    attach(r, ac, e, slot);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    return ac;
}

/* The subscription connection's AUTH: a refusal is the reason to log. */
static void sub_auth_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    ws_hubredis_t *r = ac->data;
    redisReply *rep = reply;
    char why[256];

    (void)priv;
    if (rep && rep->type == REDIS_REPLY_ERROR && ac == r->sub) {
        apr_snprintf(why, sizeof(why), "it answered AUTH: %s", rep->str);
        go_down(r, why);
    }
}

static int send_auth(ws_hubredis_t *r, redisAsyncContext *ac)
{
    const char *argv[3];
    size_t lens[3];
    int n = 0;

    if (!r->conf.password) {
        return 0;
    }
    argv[n] = "AUTH";
    lens[n++] = 4;
    if (r->conf.user) {
        argv[n] = r->conf.user;
        lens[n] = strlen(r->conf.user);
        n++;
    }
    argv[n] = r->conf.password;
    lens[n] = strlen(r->conf.password);
    n++;
    if (ac == r->cmd) {
        return cmd_send(r, K_SETUP, NULL, n, argv, lens);
    }
    return redisAsyncCommandArgv(ac, sub_auth_reply, NULL, n, argv, lens)
           == REDIS_OK ? 0 : -1;
}

static void connect_now(ws_hubredis_t *r, apr_time_t now)
{
    const char *argv[3];
    size_t lens[3];
    int i;

    r->state = ST_CONNECTING;
    r->connect_start = now;
    r->loaded = 0;
    r->subscribed = 0;
    if (!(r->cmd = open_one(r, &r->cmd_ev, r->slot_cmd))) {
        return;                 /* went down */
    }
    if (!(r->sub = open_one(r, &r->sub_ev, r->slot_sub))) {
        return;
    }
    send_auth(r, r->cmd);
    if (r->conf.db) {
        char db[16];

        snprintf(db, sizeof(db), "%d", r->conf.db);
        argv[0] = "SELECT";
        lens[0] = 6;
        argv[1] = db;
        lens[1] = strlen(db);
        cmd_send(r, K_SETUP, NULL, 2, argv, lens);
    }
    for (i = 0; i < S_COUNT; i++) {
        rcmd_t *c;

        argv[0] = "SCRIPT";
        lens[0] = 6;
        argv[1] = "LOAD";
        lens[1] = 4;
        argv[2] = scripts[i];
        lens[2] = strlen(scripts[i]);
        if (cmd_send(r, K_LOAD, NULL, 3, argv, lens) == 0) {
            c = r->tail;
            c->script = i;
        }
    }
    send_auth(r, r->sub);
    argv[0] = "PSUBSCRIBE";
    lens[0] = 10;
    argv[1] = r->pattern;
    lens[1] = strlen(r->pattern);
    redisAsyncCommandArgv(r->sub, on_pmessage, NULL, 2, argv, lens);
}

/* Both connections go; what was in flight fails (to local delivery). */
static void go_down(ws_hubredis_t *r, const char *why)
{
    redisAsyncContext *cmd = r->cmd, *sub = r->sub;
    pub_t *pb;
    apr_time_t now = apr_time_now();

    if (r->state == ST_DOWN && !cmd && !sub) {
        return;
    }
    if (!r->in_outage) {
        r->in_outage = 1;
        r->outage_since = r->outage_hint ? r->outage_hint : now;
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, r->s, WSLOGNO(00094)
                     "channels: Redis at %s unreachable (%s): channel "
                     "messages reach this server's subscribers only until "
                     "it is back", r->conf.display, why);
        apr_cpystrn(r->last_why, why, sizeof(r->last_why));
    }
    else if (!strncmp(why, "it answered", 11)
             && strncmp(why, r->last_why, sizeof(r->last_why) - 1)) {
        /* Redis is back but refuses us (a new password...): say so. */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, r->s, WSLOGNO(00101)
                     "channels: Redis at %s still unusable (%s)",
                     r->conf.display, why);
        apr_cpystrn(r->last_why, why, sizeof(r->last_why));
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, r->s,
                     "channels: Redis at %s still unreachable (%s)",
                     r->conf.display, why);
    }
    r->state = ST_DOWN;
    r->outage_hint = 0;
    r->cmd = NULL;
    r->sub = NULL;
    r->next_attempt = now + r->backoff;
    r->backoff = r->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : r->backoff * 2;
    /* Answered but never echoed: nobody here got them.  (The ones not
     * answered yet belong to their commands, failed below.) */
    for (pb = r->pubs; pb;) {
        pub_t *next = pb->next;

        if (pb->replied) {
            if (!pb->seen) {
                r->local_only++;
                r->h.publish_local(&pb->m, pb->target, 0);
            }
            pub_free(r, pb);
        }
        pb = next;
    }
    /* hiredis fails every pending command (cmd_reply with NULL): now, or
     * when the callback we are in returns. */
    if (cmd) {
        redisAsyncFree(cmd);
    }
    if (sub) {
        redisAsyncFree(sub);
    }
}

ws_hubredis_t *ws_hubredis_create(const ws_redis_conf_t *conf,
                                  const ws_hubredis_hooks_t *hooks,
                                  server_rec *s, uint32_t slot_cmd,
                                  uint32_t slot_sub, const char *server_id)
{
    ws_hubredis_t *r = calloc(1, sizeof(*r));
    unsigned char rnd[16];
    size_t plen;
    int i;

    if (!r) {
        return NULL;
    }
    r->conf = *conf;
    r->h = *hooks;
    r->s = s;
    r->slot_cmd = slot_cmd;
    r->slot_sub = slot_sub;
    r->backoff = BACKOFF_MIN;
    if (apr_generate_random_bytes(rnd, sizeof(rnd)) != APR_SUCCESS) {
        apr_time_t t = apr_time_now();

        memcpy(rnd, &t, sizeof(t));
        t ^= (apr_time_t)getpid() << 32;
        memcpy(rnd + 8, &t, sizeof(t));
    }
    for (i = 0; i < 16; i++) {
        snprintf(r->server + 2 * i, 3, "%02x", rnd[i]);
    }
    if (server_id && strlen(server_id) == 32) {
        memcpy(r->server, server_id, 33);
    }
    plen = strlen(conf->prefix);
    r->chan_prefix = malloc(plen + 3);
    snprintf(r->chan_prefix, plen + 3, "%sc:", conf->prefix);
    r->chan_prefix_len = plen + 2;
    /* The pattern: the prefix with glob characters escaped, then c:*. */
    r->pattern = malloc(2 * plen + 4);
    {
        char *o = r->pattern;
        const char *q;

        for (q = conf->prefix; *q; q++) {
            if (strchr("*?[]\\", *q)) {
                *o++ = '\\';
            }
            *o++ = *q;
        }
        strcpy(o, "c:*");
    }
    r->srv_prefix = malloc(plen + 3);
    snprintf(r->srv_prefix, plen + 3, "%ss:", conf->prefix);
    r->srv_key = malloc(plen + 3 + sizeof(r->server));
    snprintf(r->srv_key, plen + 3 + sizeof(r->server), "%ss:%s",
             conf->prefix, r->server);
    connect_now(r, apr_time_now());
    return r;
}

int ws_hubredis_up(const ws_hubredis_t *r)
{
    return r->state == ST_UP;
}

void ws_hubredis_local_only(ws_hubredis_t *r)
{
    r->local_only++;
}

void ws_hubredis_resync_soon(ws_hubredis_t *r)
{
    r->resync_soon = 1;
}

static void beat(ws_hubredis_t *r)
{
    const char *argv[5] = { "SET", r->srv_key, "1", "PX", "10000" };
    size_t lens[5];
    int i;

    for (i = 0; i < 5; i++) {
        lens[i] = strlen(argv[i]);
    }
    cmd_send(r, K_PLAIN, NULL, 5, argv, lens);
}

void ws_hubredis_tick(ws_hubredis_t *r, apr_time_t now)
{
    switch (r->state) {
    case ST_DOWN:
        if (now >= r->next_attempt) {
            connect_now(r, now);
        }
        return;
    case ST_CONNECTING:
        if (now - r->connect_start > r->conf.timeout) {
            go_down(r, "no answer in time while connecting");
        }
        return;
    case ST_UP:
        break;
    }
    if (r->head && now - r->head->sent > r->conf.timeout) {
        char why[128];

        apr_snprintf(why, sizeof(why), "no answer for %.1f s",
                     (double)(now - r->head->sent) / APR_USEC_PER_SEC);
        r->outage_hint = r->head->sent;
        go_down(r, why);
        return;
    }
    if (now - r->last_beat >= BEAT_EVERY) {
        r->last_beat = now;
        beat(r);
    }
    if (r->resync_soon || now - r->last_refresh >= REFRESH_EVERY) {
        r->resync_soon = 0;
        r->last_refresh = now;
        r->h.resync();
    }
}

/* --- operations --- */

int ws_hubredis_publish(ws_hubredis_t *r, const ws_hubmsg_t *pub,
                        uint32_t target, uint64_t token)
{
    args_t a;
    pub_t *pb = NULL;

    if (r->state != ST_UP || r->pub_bytes > MAX_INFLIGHT
        || !(pb = calloc(1, sizeof(*pb)))
        || !(pb->buf = malloc(pub->key_len + pub->data_len + 1))) {
        if (pb) {
            free(pb);
        }
        return -1;
    }
    pb->seq = ++r->seq;
    pb->target = target;
    pb->token = token;
    pb->m = *pub;
    memcpy(pb->buf, pub->key, pub->key_len);
    memcpy(pb->buf + pub->key_len, pub->data, pub->data_len);
    pb->m.key = pb->buf;
    pb->m.data = pb->buf + pub->key_len;
    pb->size = pub->key_len + pub->data_len;
    args_evalsha(&a, r, S_PUBLISH, 3);
    arg_key(&a, r, 'i', pub->key, pub->key_len);
    arg_key(&a, r, 'h', pub->key, pub->key_len);
    arg_key(&a, r, 'n', pub->key, pub->key_len);
    arg_key(&a, r, 'c', pub->key, pub->key_len);
    arg_num(&a, pub->msgtype);
    arg_num(&a, pub->conn);
    arg_num(&a, pub->exclude);
    arg_num(&a, pub->count);
    arg_num(&a, pub->age);
    arg_str(&a, r->server);
    arg_num(&a, pb->seq);
    arg_add(&a, pub->data_len ? (const char *)pub->data : "",
            pub->data_len);
    arg_str(&a, r->srv_prefix);
    if (args_send(r, &a, K_PUBLISH, pb) != 0) {
        free(pb->buf);
        free(pb);
        return -1;
    }
    if (r->pubs_tail) {
        r->pubs_tail->next = pb;
    }
    else {
        r->pubs = pb;
    }
    r->pubs_tail = pb;
    r->pub_bytes += pb->size;
    return 0;
}

/* Hold key's live messages (one more reason to); NULL: no memory. */
static hold_t *hold_take(ws_hubredis_t *r, const uint8_t *key, size_t klen)
{
    hold_t *h = hold_find(r, key, klen);

    if (!h) {
        if (!(h = calloc(1, sizeof(*h)))
            || !(h->key = malloc(klen ? klen : 1))) {
            free(h);
            return NULL;
        }
        memcpy(h->key, key, klen);
        h->klen = klen;
        h->next = r->holds;
        r->holds = h;
    }
    h->count++;
    return h;
}

/* Run a catch-up now (Redis up). */
static void catchup_send(ws_hubredis_t *r, join_t *jn)
{
    args_t a;

    if (!(jn->hold = hold_take(r, jn->m.key, jn->m.key_len))) {
        free(jn->buf);
        free(jn);
        return;
    }
    args_evalsha(&a, r, S_SINCE, 2);
    arg_key(&a, r, 'i', jn->m.key, jn->m.key_len);
    arg_key(&a, r, 'h', jn->m.key, jn->m.key_len);
    arg_num(&a, jn->m.since);
    if (args_send(r, &a, K_CATCHUP, jn) != 0) {
        hold_release(r, jn->hold);
        free(jn->buf);
        free(jn);
    }
}

void ws_hubredis_catch_up(ws_hubredis_t *r, const uint8_t *key, size_t klen,
                          uint64_t since, uint32_t target)
{
    join_t *jn = calloc(1, sizeof(*jn));

    if (!jn || !(jn->buf = malloc(klen ? klen : 1))) {
        free(jn);
        return;
    }
    memcpy(jn->buf, key, klen);
    jn->m.key = jn->buf;
    jn->m.key_len = klen;
    jn->m.since = since;
    jn->target = target;
    if (r->state != ST_UP) {
        /* The hub just started: when Redis answers. */
        jn->next = r->catchups;
        r->catchups = jn;
        return;
    }
    catchup_send(r, jn);
}

int ws_hubredis_join(ws_hubredis_t *r, const ws_hubmsg_t *sub,
                     uint32_t target)
{
    args_t a;
    join_t *jn;
    hold_t *h;

    if (r->state != ST_UP || !(jn = calloc(1, sizeof(*jn)))) {
        return -1;
    }
    if (!(jn->buf = malloc(sub->key_len + sub->label_len + 1))) {
        free(jn);
        return -1;
    }
    jn->m = *sub;
    memcpy(jn->buf, sub->key, sub->key_len);
    if (sub->label_len) {
        memcpy(jn->buf + sub->key_len, sub->label, sub->label_len);
    }
    jn->m.key = jn->buf;
    jn->m.label = jn->buf + sub->key_len;
    jn->target = target;
    if (!(h = hold_take(r, sub->key, sub->key_len))) {
        free(jn->buf);
        free(jn);
        return -1;
    }
    jn->hold = h;
    args_evalsha(&a, r, S_JOIN, 4);
    arg_key(&a, r, 'i', sub->key, sub->key_len);
    arg_key(&a, r, 'h', sub->key, sub->key_len);
    arg_key(&a, r, 'n', sub->key, sub->key_len);
    arg_key(&a, r, 'p', sub->key, sub->key_len);
    arg_num(&a, sub->since);
    arg_num(&a, sub->last);
    arg_str(&a, (sub->flags & WS_HUB_SUB_PRESENCE) ? "1" : "0");
    arg_str(&a, r->server);
    arg_num(&a, sub->conn);
    arg_add(&a, sub->label_len ? (const char *)sub->label : "",
            sub->label_len);
    arg_key(&a, r, 'c', sub->key, sub->key_len);
    arg_str(&a, r->srv_prefix);
    arg_num(&a, PRESENCE_TTL_MS);
    arg_num(&a, MAX_MEMBERS);
    if (args_send(r, &a, K_JOIN, jn) != 0) {
        hold_release(r, h);
        free(jn->buf);
        free(jn);
        return -1;
    }
    return 0;
}

void ws_hubredis_leave(ws_hubredis_t *r, const uint8_t *key, size_t klen,
                       uint64_t conn, int presence, const uint8_t *label,
                       size_t label_len)
{
    args_t a;

    if (r->state != ST_UP) {
        return;
    }
    args_evalsha(&a, r, S_LEAVE, 2);
    arg_key(&a, r, 'n', key, klen);
    arg_key(&a, r, 'p', key, klen);
    arg_str(&a, r->server);
    arg_num(&a, conn);
    arg_add(&a, label_len ? (const char *)label : "", label_len);
    arg_str(&a, presence ? "1" : "0");
    arg_key(&a, r, 'c', key, klen);
    arg_str(&a, r->srv_prefix);
    args_send(r, &a, K_PLAIN, NULL);
}

int ws_hubredis_info(ws_hubredis_t *r, const uint8_t *key, size_t klen,
                     uint32_t target, uint64_t token)
{
    args_t a;
    info_t *in;

    if (r->state != ST_UP || !(in = calloc(1, sizeof(*in) + klen))) {
        return -1;
    }
    memcpy(in->key, key, klen);
    in->klen = klen;
    in->target = target;
    in->token = token;
    args_evalsha(&a, r, S_INFO, 4);
    arg_key(&a, r, 'i', key, klen);
    arg_key(&a, r, 'h', key, klen);
    arg_key(&a, r, 'n', key, klen);
    arg_key(&a, r, 'p', key, klen);
    arg_str(&a, r->srv_prefix);
    if (args_send(r, &a, K_INFO, in) != 0) {
        free(in);
        return -1;
    }
    return 0;
}

void ws_hubredis_channel(ws_hubredis_t *r, const uint8_t *key, size_t klen,
                         uint32_t subscribers, const ws_hubsub_t *presence)
{
    const ws_hubsub_t *m;
    const char **argv;
    size_t *lens, n = 0, i, nm = 0;
    char **owned;
    args_t a;

    if (r->state != ST_UP) {
        return;
    }
    for (m = presence; m; m = m->pnext) {
        nm++;
    }
    argv = malloc((nm + 12) * sizeof(*argv));
    lens = malloc((nm + 12) * sizeof(*lens));
    owned = malloc((nm + 1) * sizeof(*owned));
    if (!argv || !lens || !owned) {
        free(argv);
        free(lens);
        free(owned);
        return;
    }
    /* The fixed part through args_t (keys, numbers), then the members. */
    args_evalsha(&a, r, S_RESYNC, 2);
    arg_key(&a, r, 'n', key, klen);
    arg_key(&a, r, 'p', key, klen);
    arg_str(&a, r->server);
    arg_num(&a, subscribers);
    arg_num(&a, PRESENCE_TTL_MS);
    for (i = 0; i < (size_t)a.n; i++) {
        argv[n] = a.v[i];
        lens[n++] = a.len[i];
    }
    for (m = presence, i = 0; m; m = m->pnext, i++) {
        size_t slen = strlen(r->server);
        char *s = malloc(slen + 24 + m->label_len);
        int w;

        if (!s) {
            break;
        }
        w = snprintf(s, slen + 24, "%s|%llu|", r->server,
                     (unsigned long long)m->conn);
        memcpy(s + w, m->label, m->label_len);
        owned[i] = s;
        argv[n] = s;
        lens[n++] = (size_t)w + m->label_len;
    }
    cmd_send(r, K_PLAIN, NULL, (int)n, argv, lens);
    while (i > 0) {
        free(owned[--i]);
    }
    args_free(&a);
    free(argv);
    free(lens);
    free(owned);
}
