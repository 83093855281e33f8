/*
 * ws_hub.c -- the channel hub process (see ws_hub.h).
 *
 * Parent side: ws_hub_post_config forks the hub once per server (its pid,
 * socket path and protocol version are kept in the process pool, which
 * outlives restarts), registers it with the MPM as an "other child" in
 * every generation (so that its death is reported and it is restarted),
 * and stops it when httpd exits (a process-pool cleanup).
 *
 * The hub: one thread, epoll, one connection per httpd child.  Every frame
 * from a child is handled at once (ws_hubstore does the bookkeeping); what
 * goes back is queued per child and written when the child's socket takes
 * it, at the end of each round.  A child's queue is bounded: beyond
 * WS_HUB_CHILD_QUEUE, channel messages for that child are dropped (counted,
 * logged at most once a minute per child) and the hub goes on serving the
 * others; answers (SUBACK, PUBACK, ...) are never dropped, and a child
 * whose queue passes four times the bound is cut off (it reconnects and
 * subscribes again).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "apr_file_info.h"
#include "apr_file_io.h"
#include "apr_strings.h"
#include "apr_thread_proc.h"
#include "ap_listen.h"
#include "ap_mpm.h"
#include "http_config.h"
#include "http_core.h"
#include "mpm_common.h"
#include "unixd.h"

#include "ws_private.h"
#include "ws_hub.h"
#include "ws_config.h"
#include "ws_hubproto.h"
#include "ws_hubredis.h"
#include "ws_hubstore.h"
#include "ws_ids.h"
#include "ws_stats.h"

#define HUB_KEY "mod_websocket-hub"
#define WS_HUB_CHILD_QUEUE (64u * 1024 * 1024)
#define WS_HUB_SUBACK_HISTORY (32u * 1024 * 1024)
#define WS_HUB_SUBACK_MEMBERS 1000
#define WS_HUB_LOG_EVERY apr_time_from_sec(60)

/* --- the parent's side --- */

typedef struct {
    apr_proc_t proc;            /* pid 0: none running */
    const char *path;           /* in the process pool */
    int version;                /* WS_HUB_PROTO_VERSION of the hub */
    pid_t parent;
    apr_size_t memory;          /* WebSocketChannelMemory at its start */
    ws_redis_conf_t *redis;     /* WebSocketChannels redis://; NULL:
                                 * embedded (in the process pool) */
    char server_id[33];         /* this server's id in Redis, for every
                                 * hub it starts */
} hub_state_t;

static hub_state_t *hub;
static apr_pool_t *gen_pconf;   /* this generation's, for the watch */
static server_rec *gen_server;
static const char *socket_path; /* for children */

static int hub_main(server_rec *s, const char *path, pid_t parent,
                    apr_size_t memory, const ws_redis_conf_t *redis,
                    const char *server_id);

const char *ws_hub_socket_path(void)
{
    return socket_path;
}

static void maintenance(int reason, void *data, apr_wait_t status);

/* Can we connect to path?  (The hub listens.) */
static int hub_answers(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

    if (fd < 0) {
        return 0;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    apr_cpystrn(sa.sun_path, path, sizeof(sa.sun_path));
    ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

static apr_status_t spawn(server_rec *s)
{
    pid_t pid;
    int i;

    pid = fork();
    if (pid < 0) {
        apr_status_t rv = errno;

        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, WSLOGNO(00076)
                     "cannot start the channel hub process: channels "
                     "reach only the publisher's own child");
        return rv;
    }
    if (pid == 0) {
        _exit(hub_main(s, hub->path, hub->parent, hub->memory,
                       hub->redis, hub->server_id));
    }
    hub->proc.pid = pid;
    hub->version = WS_HUB_PROTO_VERSION;
    apr_proc_other_child_register(&hub->proc, maintenance, hub, NULL,
                                  gen_pconf);
    /* Children connect from their first moment: wait (briefly) until it
     * listens. */
    for (i = 0; i < 300 && !hub_answers(hub->path); i++) {
        apr_sleep(apr_time_from_msec(10));
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, WSLOGNO(00077)
                 "channel hub started (pid %" APR_PID_T_FMT ") on %s",
                 pid, hub->path);
    return APR_SUCCESS;
}

static void maintenance(int reason, void *data, apr_wait_t status)
{
    int mpm_state = AP_MPMQ_STOPPING;

    (void)data;
    switch (reason) {
    case APR_OC_REASON_DEATH:
    case APR_OC_REASON_LOST:
        apr_proc_other_child_unregister(hub);
        hub->proc.pid = 0;
        if (ap_mpm_query(AP_MPMQ_MPM_STATE, &mpm_state) != APR_SUCCESS
            || mpm_state == AP_MPMQ_STOPPING) {
            return;
        }
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, gen_server, WSLOGNO(00078)
                     "the channel hub process exited (%s %d); restarting "
                     "it: %s, the children subscribe again and catch up",
                     WIFSIGNALED(status) ? "signal" : "status",
                     WIFSIGNALED(status) ? WTERMSIG(status)
                                         : WEXITSTATUS(status),
                     hub->redis ? "channel history is in Redis"
                                : "the channel history kept so far is lost");
        spawn(gen_server);
        break;
    default:
        /* RESTART, UNREGISTER: a new generation; the hub stays. */
        break;
    }
}

/* httpd exits: the hub goes too (the parent only).  A cleanup of each
 * generation's pconf that acts only when httpd is exiting: not on the
 * process pool, whose cleanups run after pconf's end unloaded this
 * module. */
static apr_status_t stop_hub(void *data)
{
    int i;

    (void)data;
    if (getpid() != hub->parent
        || ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_EXITING) {
        return APR_SUCCESS;
    }
    if (hub->proc.pid <= 0) {
        /* It exited already (the MPM reaped it at shutdown); its socket
         * stays, as the hub runs unprivileged: remove it here. */
        if (hub->path) {
            unlink(hub->path);
        }
        return APR_SUCCESS;
    }
    kill(hub->proc.pid, SIGTERM);
    for (i = 0; i < 100; i++) {
        if (waitpid(hub->proc.pid, NULL, WNOHANG) != 0) {
            break;
        }
        apr_sleep(apr_time_from_msec(20));
    }
    if (i == 100) {
        kill(hub->proc.pid, SIGKILL);
        waitpid(hub->proc.pid, NULL, 0);
    }
    hub->proc.pid = 0;
    unlink(hub->path);
    return APR_SUCCESS;
}

/* Sockets of hubs whose httpd was killed (-9: no cleanup ran) in our
 * runtime directory: websocket-hub.<pid>.sock with no such process. */
static void remove_stale_sockets(apr_pool_t *p, const char *ours)
{
    const char *slash = strrchr(ours, '/');
    const char *dir = slash ? apr_pstrmemdup(p, ours, (apr_size_t)(slash
                                                                  - ours))
                            : ".";
    apr_dir_t *d;
    apr_finfo_t fi;

    if (apr_dir_open(&d, dir, p) != APR_SUCCESS) {
        return;
    }
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
        char *end;
        long pid;

        if (strncmp(fi.name, "websocket-hub.", 14)) {
            continue;
        }
        pid = strtol(fi.name + 14, &end, 10);
        if (pid <= 0 || strcmp(end, ".sock")
            || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {
            if (pid > 0 && !strcmp(end, ".sock")) {
                apr_file_remove(apr_pstrcat(p, dir, "/", fi.name, NULL), p);
            }
        }
    }
    apr_dir_close(d);
}

apr_status_t ws_hub_post_config(apr_pool_t *pconf, server_rec *s)
{
    apr_pool_t *pproc = s->process->pool;
    struct sockaddr_un sa;
    const char *path;

    gen_pconf = pconf;
    gen_server = s;
    socket_path = NULL;
    apr_pool_userdata_get((void **)&hub, HUB_KEY, pproc);
    if (!hub) {
        unsigned char rnd[16];
        int i;

        hub = apr_pcalloc(pproc, sizeof(*hub));
        apr_pool_userdata_set(hub, HUB_KEY, apr_pool_cleanup_null, pproc);
        if (apr_generate_random_bytes(rnd, sizeof(rnd)) == APR_SUCCESS) {
            for (i = 0; i < 16; i++) {
                apr_snprintf(hub->server_id + 2 * i, 3, "%02x", rnd[i]);
            }
        }
    }
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return APR_SUCCESS;     /* the first, trial read: no processes */
    }
    /* The parent for good (httpd detached after the trial read). */
    hub->parent = getpid();
    apr_pool_cleanup_register(pconf, NULL, stop_hub, apr_pool_cleanup_null);
    if (!hub->path) {
        path = ap_runtime_dir_relative(pproc, apr_psprintf(
                   pproc, "websocket-hub.%" APR_PID_T_FMT ".sock",
                   hub->parent));
        if (strlen(path) >= sizeof(sa.sun_path)) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, WSLOGNO(00079)
                         "the channel hub's socket path %s is longer than "
                         "a local socket allows (%d bytes): set a shorter "
                         "DefaultRuntimeDir", path,
                         (int)sizeof(sa.sun_path) - 1);
            return APR_ENAMETOOLONG;
        }
        hub->path = path;
        remove_stale_sockets(pproc, path);
    }
    hub->memory = (apr_size_t)ws_channel_memory;
    if (!ws_channel_redis != !hub->redis
        || (hub->redis && strcmp(hub->redis->canonical,
                                 ws_channel_redis->canonical))) {
        /* WebSocketChannels changed: a hub for the new backend.  (The
         * copy stays in the process pool: once per change.) */
        hub->redis = ws_channel_redis
                     ? ws_redis_conf_copy(pproc, ws_channel_redis) : NULL;
        hub->version = -1;
    }
    if (hub->proc.pid > 0 && hub->version != WS_HUB_PROTO_VERSION) {
        /* A module upgrade changed the protocol, or the backend changed:
         * start afresh. */
        kill(hub->proc.pid, SIGTERM);
        waitpid(hub->proc.pid, NULL, 0);
        hub->proc.pid = 0;
    }
    if (hub->proc.pid > 0 && kill(hub->proc.pid, 0) == 0) {
        apr_proc_other_child_register(&hub->proc, maintenance, hub, NULL,
                                      pconf);
    }
    else if (spawn(s) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    socket_path = hub->path;
    return APR_SUCCESS;
}

/* --- the hub process --- */

typedef struct chunk {
    uint32_t refs;
    size_t len;
    uint8_t data[1];
} chunk_t;

typedef struct item {
    struct item *next;
    chunk_t *c;
    size_t off;
} item_t;

typedef struct {
    int fd;
    uint32_t target;
    uint32_t child;             /* ws_ids' number, after HELLO */
    pid_t pid;
    int hello;
    uint8_t *in;
    size_t in_len, in_cap;
    item_t *head, *tail;
    size_t queued;
    int epollout;
    int dirty;
    uint64_t dropped, dropped_logged;
    apr_time_t drop_logged_at;
} hconn_t;

static volatile sig_atomic_t hub_stop;
static int epfd;
static hconn_t **conns;         /* by target */
static uint32_t nconns;
static hconn_t **dirty;         /* written at the end of the round */
static uint32_t ndirty;
static ws_hubstore_t *store;
static server_rec *hub_server;
static ws_hubredis_t *redis;    /* WebSocketChannels redis://, or NULL */

#define LISTENER ((uint32_t)-1)
#define REDIS_CMD ((uint32_t)-2)
#define REDIS_SUB ((uint32_t)-3)

static void on_term(int sig)
{
    (void)sig;
    hub_stop = 1;
}

static chunk_t *chunk_from(const ws_hubbuf_t *b)
{
    chunk_t *c = malloc(sizeof(*c) + b->len);

    if (!c) {
        return NULL;
    }
    c->refs = 1;
    c->len = b->len;
    memcpy(c->data, b->data, b->len);
    return c;
}

static void chunk_unref(chunk_t *c)
{
    if (--c->refs == 0) {
        free(c);
    }
}

static void close_conn(hconn_t *hc, const char *why);

/* Queue c for hc.  ctrl: an answer, never dropped. */
static void enqueue(hconn_t *hc, chunk_t *c, int ctrl)
{
    item_t *it;

    if (hc->fd < 0) {
        return;
    }
    if (!ctrl && hc->queued + c->len > WS_HUB_CHILD_QUEUE) {
        hc->dropped++;
        return;
    }
    if (hc->queued > 4 * (size_t)WS_HUB_CHILD_QUEUE
        || !(it = malloc(sizeof(*it)))) {
        close_conn(hc, "its queue is full: it reads nothing");
        return;
    }
    it->next = NULL;
    it->c = c;
    it->off = 0;
    c->refs++;
    if (hc->tail) {
        hc->tail->next = it;
    }
    else {
        hc->head = it;
    }
    hc->tail = it;
    hc->queued += c->len;
    if (!hc->dirty) {
        hc->dirty = 1;
        dirty[ndirty++] = hc;
    }
}

static void send_msg(hconn_t *hc, const ws_hubmsg_t *m)
{
    ws_hubbuf_t b;
    chunk_t *c;

    ws_hubbuf_init(&b);
    if (ws_hubmsg_encode(&b, m) == 0 && (c = chunk_from(&b))) {
        enqueue(hc, c, 1);
        chunk_unref(c);
    }
    ws_hubbuf_free(&b);
}

static void set_epollout(hconn_t *hc, int on)
{
    struct epoll_event ev;

    if (hc->epollout == on) {
        return;
    }
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
    ev.data.u32 = hc->target;
    epoll_ctl(epfd, EPOLL_CTL_MOD, hc->fd, &ev);
    hc->epollout = on;
}

static void flush(hconn_t *hc)
{
    struct iovec iov[64];

    while (hc->fd >= 0 && hc->head) {
        item_t *it;
        int n = 0;
        ssize_t w;

        for (it = hc->head; it && n < 64; it = it->next, n++) {
            iov[n].iov_base = it->c->data + it->off;
            iov[n].iov_len = it->c->len - it->off;
        }
        w = writev(hc->fd, iov, n);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_epollout(hc, 1);
                return;
            }
            if (errno == EINTR) {
                continue;
            }
            close_conn(hc, "writing to it failed");
            return;
        }
        hc->queued -= (size_t)w;
        while (w > 0) {
            it = hc->head;
            if ((size_t)w >= it->c->len - it->off) {
                w -= (ssize_t)(it->c->len - it->off);
                hc->head = it->next;
                if (!hc->head) {
                    hc->tail = NULL;
                }
                chunk_unref(it->c);
                free(it);
            }
            else {
                it->off += (size_t)w;
                w = 0;
            }
        }
    }
    if (hc->fd >= 0) {
        set_epollout(hc, 0);
    }
}

/* A channel event for every child with subscribers of ch. */
static void broadcast(ws_hubchan_t *ch, const ws_hubmsg_t *m)
{
    const ws_hubroute_t *routes;
    size_t n, i;
    ws_hubbuf_t b;
    chunk_t *c;

    routes = ws_hubchan_routes(ch, &n);
    if (n == 0) {
        return;
    }
    ws_hubbuf_init(&b);
    if (ws_hubmsg_encode(&b, m) == 0 && (c = chunk_from(&b))) {
        for (i = 0; i < n; i++) {
            if (routes[i].target < nconns && conns[routes[i].target]) {
                enqueue(conns[routes[i].target], c, 0);
            }
        }
        chunk_unref(c);
    }
    ws_hubbuf_free(&b);
}

static uint64_t now_us(void)
{
    return (uint64_t)apr_time_now();
}

/* A presence event (JOIN/LEAVE) of sub, to ch's subscribers. */
static void presence_event(ws_hubchan_t *ch, const ws_hubsub_t *sub,
                           int event, uint32_t subscribers)
{
    ws_hubmsg_t m;

    memset(&m, 0, sizeof(m));
    m.type = WS_HUB_DELIVER;
    m.event = (uint32_t)event;
    m.key = ws_hubchan_key(ch, &m.key_len);
    m.time = now_us();
    m.conn = sub->conn;
    m.exclude = sub->conn;
    m.subscribers = subscribers;
    m.data = sub->label;
    m.data_len = sub->label_len;
    broadcast(ch, &m);
}

/* Answer SUB in from the store (embedded, or Redis unreachable); sub: a
 * new subscription (its JOIN goes to the others), or NULL. */
static void answer_sub(hconn_t *hc, const ws_hubmsg_t *in, ws_hubchan_t *ch,
                       ws_hubsub_t *sub)
{
    const ws_hubmsg_rec_t *rec;
    const ws_hubsub_t *mem;
    ws_hubbuf_t hist, members;
    ws_hubmsg_t m;
    int gap = 0, presence = (in->flags & WS_HUB_SUB_PRESENCE) != 0;
    size_t bytes = 0;
    uint32_t n = 0;

    ws_hubbuf_init(&hist);
    ws_hubbuf_init(&members);
    memset(&m, 0, sizeof(m));
    rec = ws_hubstore_replay(store, ch, in->since, in->last, now_us(), &gap);
    /* At most WS_HUB_SUBACK_HISTORY bytes, the newest: skip the oldest. */
    {
        const ws_hubmsg_rec_t *r;

        for (r = rec; r; r = r->next) {
            bytes += r->len + 32;
        }
        for (; rec && bytes > WS_HUB_SUBACK_HISTORY; rec = rec->next) {
            bytes -= rec->len + 32;
            gap = 1;
        }
    }
    for (; rec; rec = rec->next) {
        ws_hubhist_t h;

        h.id = rec->id;
        h.time = rec->time;
        h.msgtype = rec->msgtype;
        h.conn = rec->conn;
        h.data = rec->data;
        h.data_len = rec->len;
        if (ws_hubhist_add(&hist, &h) != 0) {
            gap = 1;
            break;
        }
        n++;
    }
    m.count = n;
    n = 0;
    for (mem = ws_hubchan_presence(ch); mem && n < WS_HUB_SUBACK_MEMBERS;
         mem = mem->pnext) {
        ws_hubmember_t r;

        r.conn = mem->conn;
        r.label = mem->label;
        r.label_len = mem->label_len;
        if (ws_hubmember_add(&members, &r) != 0) {
            break;
        }
        n++;
    }
    m.type = WS_HUB_SUBACK;
    m.token = in->token;
    m.conn = in->conn;
    m.key = in->key;
    m.key_len = in->key_len;
    m.id = ws_hubchan_last_id(ch);
    m.gap = (uint32_t)gap;
    m.subscribers = ws_hubchan_subscribers(ch);
    m.history = hist.data;
    m.history_len = hist.len;
    m.nmembers = n;
    m.members = members.data;
    m.members_len = members.len;
    send_msg(hc, &m);
    ws_hubbuf_free(&hist);
    ws_hubbuf_free(&members);
    if (sub && presence) {
        presence_event(ch, sub, 2 /* WS_CHANNEL_JOIN */,
                       ws_hubchan_subscribers(ch));
    }
}

/*
 * A child subscribes again (it reconnected: this hub restarted, or cut it
 * off): what it missed since its newest message of ch, from the history,
 * once per child and channel (its first re-subscription).  So a message
 * published while the children were reconnecting one after the other
 * reaches them all; the child skips what it had.
 */
static int first_of_child(ws_hubchan_t *ch, const hconn_t *hc)
{
    const ws_hubroute_t *routes;
    size_t n, i;

    routes = ws_hubchan_routes(ch, &n);
    for (i = 0; i < n && routes[i].target != hc->target; i++) {
    }
    return i < n && routes[i].count == 1;
}

static void catch_up(hconn_t *hc, ws_hubchan_t *ch, uint64_t since)
{
    const ws_hubmsg_rec_t *rec;
    size_t klen;
    ws_hubmsg_t m;
    int gap;

    memset(&m, 0, sizeof(m));
    m.type = WS_HUB_DELIVER;
    m.event = 1;                /* WS_CHANNEL_MESSAGE */
    m.key = ws_hubchan_key(ch, &klen);
    m.key_len = klen;
    m.subscribers = ws_hubchan_subscribers(ch);
    for (rec = ws_hubstore_replay(store, ch, since, 0, now_us(), &gap); rec;
         rec = rec->next) {
        m.id = rec->id;
        m.time = rec->time;
        m.msgtype = rec->msgtype;
        m.conn = rec->conn;
        m.data = rec->data;
        m.data_len = rec->len;
        send_msg(hc, &m);
    }
}

static void on_sub(hconn_t *hc, const ws_hubmsg_t *in)
{
    ws_hubchan_t *ch = ws_hubstore_channel(store, in->key, in->key_len, 1);
    ws_hubsub_t *sub;
    int exists, presence = (in->flags & WS_HUB_SUB_PRESENCE) != 0;

    if (!ch) {
        return;
    }
    sub = ws_hubstore_subscribe(store, ch, in->conn, hc->target, presence,
                                in->label, in->label_len, &exists);
    if (!sub && !exists) {
        return;
    }
    if (in->flags & WS_HUB_SUB_QUIET) {
        if (redis) {
            ws_hubredis_resync_soon(redis);     /* counts and presence */
        }
        if (sub && in->since && first_of_child(ch, hc)) {
            if (redis) {
                ws_hubredis_catch_up(redis, in->key, in->key_len, in->since,
                                     hc->target);
            }
            else {
                catch_up(hc, ch, in->since);
            }
        }
        return;
    }
    /* With Redis, a new subscription's replay, members and JOIN come from
     * there (the answer: hub_joined). */
    if (sub && redis && ws_hubredis_join(redis, in, hc->target) == 0) {
        return;
    }
    answer_sub(hc, in, ch, sub);
}

/* End sub, telling the others if it was seen. */
static void end_sub(ws_hubsub_t *sub)
{
    ws_hubchan_t *ch = sub->chan;
    size_t klen;
    const uint8_t *key = ws_hubchan_key(ch, &klen);

    if (redis && ws_hubredis_up(redis)) {
        /* The count, presence and LEAVE are Redis's. */
        ws_hubredis_leave(redis, key, klen, sub->conn, sub->presence,
                          sub->label, sub->label_len);
    }
    else if (sub->presence && ws_hubchan_subscribers(ch) > 1) {
        presence_event(ch, sub, 3 /* WS_CHANNEL_LEAVE */,
                       ws_hubchan_subscribers(ch) - 1);
    }
    ws_hubstore_unsubscribe(store, sub);
}

static void on_unsub(const ws_hubmsg_t *in)
{
    ws_hubchan_t *ch = ws_hubstore_channel(store, in->key, in->key_len, 0);
    ws_hubsub_t *sub = ch ? ws_hubstore_find(store, ch, in->conn) : NULL;

    if (sub) {
        end_sub(sub);
    }
}

/* Publish in to this server's subscribers (embedded, or Redis
 * unreachable); answer it on hc if token. */
static void publish_here(hconn_t *hc, const ws_hubmsg_t *in, uint64_t token)
{
    ws_hubchan_t *ch = ws_hubstore_channel(store, in->key, in->key_len, 1);
    ws_hubmsg_t m;
    uint64_t now = now_us();

    memset(&m, 0, sizeof(m));
    if (ch) {
        m.type = WS_HUB_DELIVER;
        m.event = 1;            /* WS_CHANNEL_MESSAGE */
        m.key = in->key;
        m.key_len = in->key_len;
        m.id = ws_hubstore_publish(store, ch, in->msgtype, in->data,
                                   in->data_len, in->conn, in->count,
                                   in->age, now);
        m.time = now;
        m.msgtype = in->msgtype;
        m.conn = in->conn;
        m.exclude = in->exclude;
        m.subscribers = ws_hubchan_subscribers(ch);
        m.data = in->data;
        m.data_len = in->data_len;
        broadcast(ch, &m);
    }
    if (token && hc && hc->fd >= 0) {
        ws_hubmsg_t ack;

        memset(&ack, 0, sizeof(ack));
        ack.type = WS_HUB_PUBACK;
        ack.token = token;
        ack.id = m.id;
        ack.subscribers = m.subscribers;
        send_msg(hc, &ack);
    }
}

static void on_pub(hconn_t *hc, const ws_hubmsg_t *in)
{
    if (redis) {
        if (ws_hubredis_publish(redis, in, hc->target, in->token) == 0) {
            return;             /* answered by hub_puback */
        }
        ws_hubredis_local_only(redis);
    }
    publish_here(hc, in, in->token);
}

static void on_sendto(const ws_hubmsg_t *in)
{
    unsigned int child = ws_ids_child_of(in->conn);
    ws_hubmsg_t m;
    uint32_t i;

    for (i = 0; i < nconns; i++) {
        if (conns[i] && conns[i]->hello && conns[i]->child == child) {
            memset(&m, 0, sizeof(m));
            m.type = WS_HUB_DIRECT;
            m.conn = in->conn;
            m.msgtype = in->msgtype;
            m.data = in->data;
            m.data_len = in->data_len;
            send_msg(conns[i], &m);
            return;
        }
    }
}

static void info_here(hconn_t *hc, const ws_hubmsg_t *in)
{
    ws_hubchan_t *ch = ws_hubstore_channel(store, in->key, in->key_len, 0);
    ws_hubmsg_t m;

    memset(&m, 0, sizeof(m));
    m.type = WS_HUB_INFOACK;
    m.token = in->token;
    if (ch) {
        m.id = ws_hubchan_last_id(ch);
        m.subscribers = ws_hubchan_subscribers(ch);
        m.count = ws_hubchan_kept(ch);
        m.nmembers = ws_hubchan_members(ch);
        m.since = ws_hubchan_oldest_id(ch);
    }
    send_msg(hc, &m);
}

static void on_info(hconn_t *hc, const ws_hubmsg_t *in)
{
    if (redis && ws_hubredis_info(redis, in->key, in->key_len, hc->target,
                                  in->token) == 0) {
        return;                 /* answered by hub_infoack */
    }
    info_here(hc, in);
}

/* --- what the Redis link calls (ws_hubredis_hooks_t) --- */

/* The child connection of target, if it is still there. */
static hconn_t *conn_of(uint32_t target)
{
    hconn_t *hc = target < nconns ? conns[target] : NULL;

    return hc && hc->fd >= 0 && hc->hello ? hc : NULL;
}

static void hub_watch(int fd, uint32_t slot, uint32_t events)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.u32 = slot;
    if (!events) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
    }
    else if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) != 0
             && errno == ENOENT) {
        epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    }
}

static void hub_deliver(const ws_hubmsg_t *m)
{
    ws_hubchan_t *ch = ws_hubstore_channel(store, m->key, m->key_len, 0);

    if (ch) {
        broadcast(ch, m);
    }
}

static void resync_one(ws_hubchan_t *ch, void *arg)
{
    size_t klen;
    const uint8_t *key = ws_hubchan_key(ch, &klen);

    (void)arg;
    ws_hubredis_channel(redis, key, klen, ws_hubchan_subscribers(ch),
                        ws_hubchan_presence(ch));
}

static void hub_resync(void)
{
    ws_hubstore_each_subscribed(store, resync_one, NULL);
}

static void hub_puback(uint32_t target, uint64_t token, uint64_t id,
                       uint32_t subscribers)
{
    hconn_t *hc = conn_of(target);
    ws_hubmsg_t ack;

    if (hc) {
        memset(&ack, 0, sizeof(ack));
        ack.type = WS_HUB_PUBACK;
        ack.token = token;
        ack.id = id;
        ack.subscribers = subscribers;
        send_msg(hc, &ack);
    }
}

static void hub_publish_local(const ws_hubmsg_t *pub, uint32_t target,
                              uint64_t token)
{
    publish_here(conn_of(target), pub, token);
}

static void hub_joined(const ws_hubmsg_t *in, uint32_t target,
                       const ws_hubredis_joined_t *j)
{
    hconn_t *hc = conn_of(target);
    ws_hubchan_t *ch;
    ws_hubmsg_t m;

    if (!hc) {
        return;
    }
    if (!j) {
        /* Redis failed meanwhile: the store answers (if the subscription
         * is still there). */
        ch = ws_hubstore_channel(store, in->key, in->key_len, 0);
        if (ch && ws_hubstore_find(store, ch, in->conn)) {
            answer_sub(hc, in, ch, ws_hubstore_find(store, ch, in->conn));
        }
        return;
    }
    memset(&m, 0, sizeof(m));
    m.type = WS_HUB_SUBACK;
    m.token = in->token;
    m.conn = in->conn;
    m.key = in->key;
    m.key_len = in->key_len;
    m.id = j->last;
    m.gap = (uint32_t)j->gap;
    m.subscribers = j->subscribers;
    m.count = j->count;
    m.history = j->history.data;
    m.history_len = j->history.len;
    m.nmembers = j->nmembers;
    m.members = j->members.data;
    m.members_len = j->members.len;
    send_msg(hc, &m);
}

/* What a re-subscribing child missed, from Redis's history. */
static void hub_caught_up(uint32_t target, const uint8_t *key, size_t klen,
                          const ws_hubredis_joined_t *j)
{
    hconn_t *hc = conn_of(target);
    ws_hubchan_t *ch = ws_hubstore_channel(store, key, klen, 0);
    size_t pos = 0;
    ws_hubhist_t rec;
    ws_hubmsg_t m;

    if (!hc || !ch || !j) {
        return;
    }
    memset(&m, 0, sizeof(m));
    m.type = WS_HUB_DELIVER;
    m.event = 1;                /* WS_CHANNEL_MESSAGE */
    m.key = key;
    m.key_len = klen;
    m.subscribers = ws_hubchan_subscribers(ch);
    while (ws_hubhist_next(j->history.data, j->history.len, &pos, &rec)
           == 1) {
        m.id = rec.id;
        m.time = rec.time;
        m.msgtype = rec.msgtype;
        m.conn = rec.conn;
        m.data = rec.data;
        m.data_len = rec.data_len;
        send_msg(hc, &m);
    }
}

static void hub_infoack(uint32_t target, uint64_t token, const uint8_t *key,
                        size_t klen, const ws_hubmsg_t *ack)
{
    hconn_t *hc = conn_of(target);
    ws_hubmsg_t in;

    if (!hc) {
        return;
    }
    if (ack) {
        send_msg(hc, ack);
        return;
    }
    /* Redis failed meanwhile: this server's facts. */
    memset(&in, 0, sizeof(in));
    in.type = WS_HUB_INFO;
    in.token = token;
    in.key = key;
    in.key_len = klen;
    info_here(hc, &in);
}

static const ws_hubredis_hooks_t redis_hooks = {
    hub_watch, hub_deliver, hub_resync, hub_puback, hub_publish_local,
    hub_joined, hub_caught_up, hub_infoack
};

static void on_hello(hconn_t *hc, const ws_hubmsg_t *in)
{
    ws_hubmsg_t m;

    if (in->version != WS_HUB_PROTO_VERSION) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, hub_server, WSLOGNO(00080)
                     "channel hub: a child (pid %u) speaks protocol %u, "
                     "this hub %d: refused", in->pid, in->version,
                     WS_HUB_PROTO_VERSION);
        close_conn(hc, NULL);
        return;
    }
    hc->hello = 1;
    hc->child = in->child;
    hc->pid = (pid_t)in->pid;
    if (in->memory) {
        ws_hubstore_set_memory(store, (size_t)in->memory);
    }
    memset(&m, 0, sizeof(m));
    m.type = WS_HUB_WELCOME;
    m.version = WS_HUB_PROTO_VERSION;
    m.time = now_us();
    send_msg(hc, &m);
}

/* One frame from hc.  Returns -1 if hc was closed. */
static int handle(hconn_t *hc, const ws_hubmsg_t *m)
{
    if (!hc->hello && m->type != WS_HUB_HELLO) {
        close_conn(hc, "it spoke before saying hello");
        return -1;
    }
    switch (m->type) {
    case WS_HUB_HELLO:
        on_hello(hc, m);
        break;
    case WS_HUB_SUB:
        on_sub(hc, m);
        break;
    case WS_HUB_UNSUB:
        on_unsub(m);
        break;
    case WS_HUB_PUB:
        on_pub(hc, m);
        break;
    case WS_HUB_SENDTO:
        on_sendto(m);
        break;
    case WS_HUB_INFO:
        on_info(hc, m);
        break;
    default:
        close_conn(hc, "it sent a message the hub does not take");
        return -1;
    }
    return hc->fd >= 0 ? 0 : -1;
}

static void read_conn(hconn_t *hc)
{
    for (;;) {
        ssize_t r;
        size_t pos = 0;

        if (hc->in_cap - hc->in_len < 65536) {
            size_t cap = hc->in_cap ? hc->in_cap * 2 : 262144;
            uint8_t *in;

            if (cap > WS_HUB_MAX_FRAME + 4 + 262144) {
                cap = WS_HUB_MAX_FRAME + 4 + 262144;
            }
            if (cap <= hc->in_cap || !(in = realloc(hc->in, cap))) {
                close_conn(hc, "its frame is too large");
                return;
            }
            hc->in = in;
            hc->in_cap = cap;
        }
        r = read(hc->fd, hc->in + hc->in_len, hc->in_cap - hc->in_len);
        if (r == 0) {
            close_conn(hc, NULL);
            return;
        }
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                close_conn(hc, NULL);
            }
            return;
        }
        hc->in_len += (size_t)r;
        for (;;) {
            ws_hubmsg_t m;
            long n = ws_hubmsg_decode(hc->in + pos, hc->in_len - pos, &m);

            if (n == 0) {
                break;
            }
            if (n < 0) {
                close_conn(hc, "it sent a malformed frame");
                return;
            }
            if (handle(hc, &m) != 0) {
                return;
            }
            pos += (size_t)n;
        }
        if (pos) {
            memmove(hc->in, hc->in + pos, hc->in_len - pos);
            hc->in_len -= pos;
        }
        /* Shrink a buffer a large frame grew. */
        if (hc->in_cap > 1048576 && hc->in_len < 65536) {
            uint8_t *in = realloc(hc->in, 262144);

            if (in) {
                hc->in = in;
                hc->in_cap = 262144;
            }
        }
    }
}

static void close_conn(hconn_t *hc, const char *why)
{
    ws_hubsub_t *sub;
    unsigned long ended = 0;

    if (hc->fd < 0) {
        return;
    }
    if (why) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, hub_server, WSLOGNO(00081)
                     "channel hub: dropping child %u (pid %" APR_PID_T_FMT
                     "): %s", hc->child, hc->pid, why);
    }
    epoll_ctl(epfd, EPOLL_CTL_DEL, hc->fd, NULL);
    close(hc->fd);
    hc->fd = -1;
    /* Its connections are gone: their presence leaves. */
    while ((sub = ws_hubstore_target_first(store, hc->target))) {
        end_sub(sub);
        ended++;
    }
    if (!why && hc->hello) {
        /* A child exited (its end, a crash, a restart's old generation). */
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, hub_server, WSLOGNO(00100)
                     "channel hub: child %u (pid %" APR_PID_T_FMT ") is "
                     "gone; its %lu subscriptions ended", hc->child,
                     hc->pid, ended);
    }
    while (hc->head) {
        item_t *it = hc->head;

        hc->head = it->next;
        chunk_unref(it->c);
        free(it);
    }
    hc->tail = NULL;
    hc->queued = 0;
    /* Freed at the end of the round (it may be on the dirty list). */
}

static void accept_conns(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct epoll_event ev;
        hconn_t *hc;
        uint32_t t;

        if (fd < 0) {
            return;
        }
        for (t = 0; t < nconns && conns[t]; t++) {
        }
        if (t == nconns) {
            uint32_t n = nconns ? nconns * 2 : 64;
            hconn_t **c = realloc(conns, n * sizeof(*c));
            hconn_t **d = realloc(dirty, n * sizeof(*d));

            if (!c || !d) {
                if (c) {
                    conns = c;
                }
                if (d) {
                    dirty = d;
                }
                close(fd);
                return;
            }
            memset(c + nconns, 0, (n - nconns) * sizeof(*c));
            conns = c;
            dirty = d;
            nconns = n;
        }
        if (!(hc = calloc(1, sizeof(*hc)))) {
            close(fd);
            return;
        }
        hc->fd = fd;
        hc->target = t;
        conns[t] = hc;
        ev.events = EPOLLIN;
        ev.data.u32 = t;
        epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    }
}

/* The status page's channel figures (ws_stats), once a second. */
static void show_figures(apr_time_t now)
{
    ws_stats_hub_t f;
    size_t channels, kept, bytes;
    uint64_t evicted;

    ws_hubstore_figures(store, &channels, &kept, &bytes, &evicted);
    f.channels = channels;
    f.kept = kept;
    f.bytes = bytes;
    f.evicted = evicted;
    f.updated = now;
    ws_stats_hub_write(&f);
}

/* The end of a round: write what was queued, free closed connections,
 * log drops. */
static void end_round(apr_time_t now)
{
    uint32_t i;

    for (i = 0; i < ndirty; i++) {
        dirty[i]->dirty = 0;
        flush(dirty[i]);
    }
    ndirty = 0;
    for (i = 0; i < nconns; i++) {
        hconn_t *hc = conns[i];

        if (!hc) {
            continue;
        }
        if (hc->dropped != hc->dropped_logged && hc->fd >= 0
            && now - hc->drop_logged_at >= WS_HUB_LOG_EVERY) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, hub_server,
                         WSLOGNO(00082) "channel hub: child %u (pid %"
                         APR_PID_T_FMT ") reads too slowly: %"
                         APR_UINT64_T_FMT " channel messages for it dropped "
                         "so far", hc->child, hc->pid, hc->dropped);
            hc->dropped_logged = hc->dropped;
            hc->drop_logged_at = now;
        }
        if (hc->fd < 0) {
            free(hc->in);
            free(hc);
            conns[i] = NULL;
        }
    }
}

static int listen_on(const char *path)
{
    struct sockaddr_un sa;
    mode_t omask;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    apr_cpystrn(sa.sun_path, path, sizeof(sa.sun_path));
    unlink(path);
    omask = umask(0077);        /* only httpd's user may connect */
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        umask(omask);
        close(fd);
        return -1;
    }
    umask(omask);
    if (listen(fd, 1024) != 0
        || (!geteuid() && chown(path, ap_unixd_config.user_id, -1) != 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

static int hub_main(server_rec *s, const char *path, pid_t parent,
                    apr_size_t memory, const ws_redis_conf_t *redis_conf,
                    const char *server_id)
{
    struct epoll_event ev, evs[256];
    struct rlimit rl;
    apr_pool_t *p;
    sigset_t all;
    apr_time_t last_expire = 0;
    int lfd, i, n;

    hub_server = s;
    /* httpd's signals are for its children: a graceful or hard restart
     * must not end the hub (prefork sends them to the process group). */
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGHUP, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    signal(SIGWINCH, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_DFL);
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    ap_close_listeners();

    if ((lfd = listen_on(path)) < 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, s, WSLOGNO(00083)
                     "channel hub: cannot listen on %s", path);
        return 1;
    }
    apr_pool_create(&p, NULL);
    if (ap_run_drop_privileges(p, s) != 0) {
        return 1;
    }
    /* Leave with httpd, even if it is killed. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) {
        return 0;
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    store = ws_hubstore_create(now_us(), memory);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!store || epfd < 0) {
        return 1;
    }
    ev.events = EPOLLIN;
    ev.data.u32 = LISTENER;
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
    if (redis_conf && !(redis = ws_hubredis_create(redis_conf, &redis_hooks,
                                                   s, REDIS_CMD, REDIS_SUB,
                                                   server_id))) {
        return 1;
    }

    while (!hub_stop) {
        apr_time_t now;

        n = epoll_wait(epfd, evs, 256, redis ? 100 : 1000);
        for (i = 0; i < n; i++) {
            uint32_t t = evs[i].data.u32;
            hconn_t *hc;

            if (t == LISTENER) {
                accept_conns(lfd);
                continue;
            }
            if (t == REDIS_CMD || t == REDIS_SUB) {
                ws_hubredis_event(redis, t, evs[i].events);
                continue;
            }
            if (t >= nconns || !(hc = conns[t]) || hc->fd < 0) {
                continue;
            }
            if (evs[i].events & EPOLLOUT) {
                flush(hc);
            }
            if (hc->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLHUP
                                                 | EPOLLERR))) {
                read_conn(hc);
            }
        }
        now = apr_time_now();
        if (now - last_expire >= apr_time_from_sec(1)) {
            ws_hubstore_expire(store, (uint64_t)now);
            last_expire = now;
            show_figures(now);
        }
        if (redis) {
            ws_hubredis_tick(redis, now);
        }
        end_round(now);
    }
    unlink(path);
    return 0;
}
