/*
 * wsbench.c -- a WebSocket client load tool for mod_websocket's benchmarks.
 *
 * One file, C99 + POSIX/Linux (epoll), libc and zlib (for --deflate):
 *
 *     cc -std=c99 -O2 -Wall -Wextra -Werror -o build/tools/wsbench \
 *         tools/wsbench.c -lpthread -lz
 *
 * Modes (wsbench MODE [options]; `wsbench -h` lists the options):
 *
 *   idle       open -c N connections, hold them -d seconds, report how many
 *              are still open; with --pid, the server's RSS (VmRSS summed
 *              over the process tree) before and after, per connection, and
 *              its thread count.  With --idle-msg each connection sends one
 *              message once open (e.g. so that the server's inflater
 *              exists) and expects it back.
 *   echo       -c N connections, each keeping -k K messages of -s S bytes in
 *              flight for -d seconds after -w seconds of warm-up; reports
 *              messages/s, payload MB/s and round-trip latency percentiles.
 *   broadcast  -c N receivers plus one sender that sends --rate messages/s,
 *              all on --path (a query string such as ?channel=x is sent as
 *              is); the sender starts once every receiver is connected
 *              (and --settle seconds more).  After the last send the
 *              receivers wait until each has every message, or nothing
 *              came for --quiet seconds, or --grace seconds passed.
 *              Reports deliveries expected vs received, the delivery
 *              latency percentiles, how long the last delivery came after
 *              the last send, and the CPU the server and this client used;
 *              with --pid, which server process holds each connection (its
 *              socket's inode in /proc/net/tcp, found among /proc/PID/fd;
 *              needs the right to read the server's /proc/PID/fd, e.g.
 *              root).
 *
 * Every message carries its send time (CLOCK_MONOTONIC ns): binary payloads
 * start with the 8-byte value, text payloads with its decimal digits padded
 * with 'x', --json payloads ({"ts":"<20 digits>", then records, one of 64
 * variants picked by the send time) with its 20 digits; an echo is checked
 * byte for byte against what was sent.
 *
 * --deflate (echo, idle, broadcast) offers permessage-deflate (RFC 7692) as
 * browsers do, "permessage-deflate; client_max_window_bits" (no
 * client_no_context_takeover; --deflate-offer sends another offer).  When
 * the server agrees, messages go out compressed (zlib raw deflate with the
 * agreed client_max_window_bits, Z_SYNC_FLUSH, the 00 00 ff ff tail
 * stripped, RSV1 set), each connection keeping its compressor's context
 * unless the answer has client_no_context_takeover (the idle mode compresses
 * each message afresh, valid either way, and keeps no compressor per
 * connection); RSV1 messages are inflated (the tail appended), with one
 * inflater reset per message when the answer has server_no_context_takeover,
 * else one per connection.  A server that declines is counted, not an
 * error.  The bytes of payload and of frame payloads on the wire are
 * reported both ways.  In echo and broadcast runs with --pid, the server's
 * CPU use over the run (warm-up included) is reported too.  Latencies go into a histogram with 1 us resolution below 1 s
 * (1 ms above).  A broadcast message sent before this run started (a
 * server replaying its buffer to a new subscriber) is counted apart as
 * stale, not as a delivery.  Output: human-readable lines, then one line
 * starting "RESULT " with key=value pairs.  Every phase has a deadline, so
 * a run always ends by itself.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define NS_PER_S 1000000000ULL
#define SCRATCH (64 * 1024)
#define MAX_FRAME ((uint64_t)256 * 1024 * 1024)
#define MAX_PIDS 32
#define HIST_US 1000000       /* 1 us buckets below 1 s */
#define HIST_MS 1000000       /* then 1 ms buckets up to ~1000 s */
#define HIST_N (HIST_US + HIST_MS)

enum { MODE_IDLE, MODE_ECHO, MODE_BCAST };
enum { C_NONE, C_CONNECTING, C_HANDSHAKE, C_OPEN, C_CLOSING, C_CLOSED };
enum { R_ECHO, R_RECV, R_SEND };
enum { PH_CONNECT, PH_RUN, PH_CLOSE };
/* Why a broadcast's wait for deliveries ended, the worst last. */
enum { END_COMPLETE, END_QUIET, END_GRACE, END_INTERRUPTED };
static const char *end_names[] = { "complete", "quiet", "grace",
                                   "interrupted" };

static const char *mode_names[] = { "idle", "echo", "broadcast" };

static struct {
    int mode;
    long conns;
    int inflight;
    size_t size;
    double duration, warmup, rate, grace, connect_timeout, close_timeout;
    double settle, quiet;
    int threads;
    int binary;
    int json;                   /* --json: JSON-like text payloads */
    int deflate;                /* --deflate: offer permessage-deflate */
    const char *deflate_offer;  /* the offer sent (--deflate-offer) */
    int deflate_level;
    int idle_msg;               /* idle: one message per connection */
    struct in_addr host;
    char hostname[64];
    int port;
    int port2;                  /* broadcast: every other receiver's */
    const char *path;
    struct in_addr src[256];
    int nsrc;
    const char *src_arg;
    pid_t pids[MAX_PIDS];
    int npids;
    int max_handshakes;
} cfg;

/* The run's timeline, set by the main thread between barriers. */
static struct {
    uint64_t start;             /* this run's start: older messages are stale */
    uint64_t connect_deadline;
    uint64_t run_start, measure_start, measure_end, send_end, run_end;
    uint64_t close_deadline;
    int abort;
    long bsent_final;           /* broadcast: messages sent, once all are */
} tl;

static pthread_barrier_t barrier;
static volatile sig_atomic_t interrupted;

/* ---- small helpers ---------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...)
{
    va_list ap;

    fputs("wsbench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static double tv_s(const struct timeval *tv)
{
    return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static uint64_t seed(void)
{
    uint64_t s = 0;
    int fd = open("/dev/urandom", O_RDONLY);

    if (fd >= 0) {
        if (read(fd, &s, sizeof s) != (ssize_t)sizeof s)
            s = 0;
        close(fd);
    }
    s ^= now_ns() ^ ((uint64_t)getpid() << 32);
    return s ? s : 0x9E3779B97F4A7C15ULL;
}

/* Distinct failure reasons and how often each was seen. */
#define MAXREASONS 24
static struct {
    char text[112];
    long count;
} reasons[MAXREASONS];
static int nreasons;
static long reasons_other;
static pthread_mutex_t reasons_mu = PTHREAD_MUTEX_INITIALIZER;

static void note(const char *fmt, ...)
{
    char text[112];
    va_list ap;
    int i;

    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&reasons_mu);
    for (i = 0; i < nreasons; i++) {
        if (!strcmp(reasons[i].text, text)) {
            reasons[i].count++;
            break;
        }
    }
    if (i == nreasons) {
        if (nreasons < MAXREASONS) {
            memcpy(reasons[nreasons].text, text, sizeof text);
            reasons[nreasons++].count = 1;
        }
        else {
            reasons_other++;
        }
    }
    pthread_mutex_unlock(&reasons_mu);
}

/* ---- SHA-1 and base64, for the handshake ------------------------------ */

static uint32_t rol(uint32_t v, int n)
{
    return (v << n) | (v >> (32 - n));
}

static void sha1(const unsigned char *data, size_t len, unsigned char out[20])
{
    uint32_t h[5] = { 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476,
                      0xC3D2E1F0 };
    uint64_t bits = (uint64_t)len * 8;
    size_t total = ((len + 8) / 64 + 1) * 64, off, i;

    for (off = 0; off < total; off += 64) {
        unsigned char blk[64];
        uint32_t w[80], a, b, c, d, e, f, k, t;

        for (i = 0; i < 64; i++) {
            size_t j = off + i;
            blk[i] = j < len ? data[j] : (j == len ? 0x80 : 0);
        }
        if (off + 64 == total)
            for (i = 0; i < 8; i++)
                blk[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
        for (i = 0; i < 16; i++)
            w[i] = (uint32_t)blk[4 * i] << 24 | (uint32_t)blk[4 * i + 1] << 16
                 | (uint32_t)blk[4 * i + 2] << 8 | blk[4 * i + 3];
        for (i = 16; i < 80; i++)
            w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4];
        for (i = 0; i < 80; i++) {
            if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999; }
            else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1; }
            else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC; }
            else { f = b ^ c ^ d; k = 0xCA62C1D6; }
            t = rol(a, 5) + f + e + k + w[i];
            e = d; d = c; c = rol(b, 30); b = a; a = t;
        }
        h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
    }
    for (i = 0; i < 20; i++)
        out[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
}

static void b64(const unsigned char *in, size_t n, char *out)
{
    static const char t[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;

    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *out++ = t[v >> 18];
        *out++ = t[(v >> 12) & 63];
        *out++ = t[(v >> 6) & 63];
        *out++ = t[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        *out++ = t[v >> 18];
        *out++ = t[(v >> 12) & 63];
        *out++ = i + 1 < n ? t[(v >> 6) & 63] : '=';
        *out++ = '=';
    }
    *out = '\0';
}

/* ---- buffers, connections, workers ------------------------------------ */

struct buf {
    char *p;
    size_t off, len, cap;
};

static void buf_reserve(struct buf *b, size_t extra)
{
    size_t nc;
    char *p;

    if (b->off && b->off == b->len)
        b->off = b->len = 0;
    if (b->cap - b->len >= extra)
        return;
    if (b->off) {
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->cap - b->len >= extra)
            return;
    }
    nc = b->cap ? b->cap : 256;
    while (nc - b->len < extra)
        nc *= 2;
    p = realloc(b->p, nc);
    if (!p)
        die("out of memory");
    b->p = p;
    b->cap = nc;
}

static void buf_free(struct buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

struct conn {
    int fd;
    unsigned char state, role, out_armed, close_sent, close_rcvd;
    unsigned char in_frag, frag_op;
    /* permessage-deflate, as the server's answer agreed it: on, the
     * server resets its compressor per message, we must reset ours, the
     * window bits we compress with; in_rsv1: the message being
     * reassembled is compressed */
    unsigned char pmd, pmd_snct, pmd_cnct, pmd_cbits, in_rsv1;
    int outstanding;
    long rx;                    /* broadcast: deliveries to this receiver */
    long gidx;                  /* global index: picks the source address */
    struct buf rb, wb, msg;
    z_stream *def, *inf;        /* this connection's, when it keeps context */
    char accept[29];
};

struct worker {
    int id;
    pthread_t th;
    int ep;
    struct conn *c;
    long n;                     /* connections of this worker */
    long next;                  /* next one to connect */
    int hs_inflight, hs_max;
    long open_now, live;
    int phase;
    uint64_t rng;
    char *scratch;
    char *payload;              /* variant 0 */
    char **variants;            /* --json: NVARIANTS payloads */
    int nvariants;
    /* permessage-deflate: compressors that start afresh for each message
     * (one per window size), the inflater of the messages of servers that
     * reset theirs, and the output buffers of both */
    z_stream *sdef[16], *sinf;
    struct buf zout, zin;
    long pmd_conns, pmd_declined, idle_echoed;
    uint64_t tx_plain, tx_wire, rx_plain, rx_wire;
    long rx_msgs, rx_rsv1, tx_rsv1;
    char ext_answer[160];       /* the first Sec-WebSocket-Extensions */
    /* counters */
    long connected, failed, lost, proto_err, bad_msgs, unexpected;
    long pings, sent, msgs, recv_total, deliveries, self_rx, close_timeouts;
    long stale;
    /* broadcast: deliveries of the messages sent in the first and in the
     * last second of sending, and their summed latency (ns): a server that
     * keeps up has the same latency at the end, one that falls behind a
     * growing one */
    long n_first, n_last;
    double ns_first, ns_last;
    uint64_t last_rx_ns;        /* broadcast: this worker's last delivery */
    uint64_t last_send_ns;      /* broadcast sender: the last send */
    uint64_t end_ns;            /* when this worker's run phase ended */
    int ended;                  /* broadcast: why it ended, END_* */
    /* latency */
    uint32_t *hist;
    uint64_t nsamples, max_ns;
    double sum_ns;
    /* broadcast sender (worker 0 only) */
    struct conn *sender;
    uint64_t next_send, period;
    long bsent;
};

static struct worker *workers;

static int in_handshake(int st)
{
    return st == C_CONNECTING || st == C_HANDSHAKE;
}

/* Change state, keeping the open and handshaking counts. */
static void set_state(struct worker *w, struct conn *c, int st)
{
    if (c->state == C_OPEN)
        w->open_now--;
    if (st == C_OPEN)
        w->open_now++;
    if (in_handshake(c->state) && !in_handshake(st))
        w->hs_inflight--;
    if (!in_handshake(c->state) && in_handshake(st))
        w->hs_inflight++;
    c->state = (unsigned char)st;
}

static void zfree(z_stream **z, int deflater)
{
    if (*z) {
        if (deflater)
            deflateEnd(*z);
        else
            inflateEnd(*z);
        free(*z);
        *z = NULL;
    }
}

static void conn_drop(struct worker *w, struct conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);           /* also leaves the epoll set */
        c->fd = -1;
        w->live--;
    }
    set_state(w, c, C_CLOSED);
    buf_free(&c->rb);
    buf_free(&c->wb);
    buf_free(&c->msg);
    zfree(&c->def, 1);
    zfree(&c->inf, 0);
}

/* The connection ended, or failed to start, without us asking for it. */
static void conn_lost(struct worker *w, struct conn *c, const char *fmt, ...)
{
    char why[96];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (c->state == C_CONNECTING || c->state == C_HANDSHAKE) {
        w->failed++;
        note("connect failed: %s", why);
    }
    else if (c->state == C_OPEN && w->phase != PH_CLOSE) {
        w->lost++;
        note("connection lost: %s", why);
    }
    conn_drop(w, c);
}

static void proto_error(struct worker *w, struct conn *c, const char *what)
{
    w->proto_err++;
    note("protocol error: %s", what);
    conn_drop(w, c);
}

static void arm(struct worker *w, struct conn *c, int out)
{
    struct epoll_event ev;

    if (c->out_armed == out || c->fd < 0)
        return;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | (out ? EPOLLOUT : 0);
    ev.data.ptr = c;
    if (epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->out_armed = (unsigned char)out;
}

static int conn_flush(struct worker *w, struct conn *c)
{
    while (c->wb.off < c->wb.len) {
        ssize_t n = send(c->fd, c->wb.p + c->wb.off, c->wb.len - c->wb.off,
                         MSG_NOSIGNAL);
        if (n > 0) {
            c->wb.off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            arm(w, c, 1);
            return 0;
        }
        conn_lost(w, c, "send: %s", n < 0 ? strerror(errno) : "0 bytes");
        return -1;
    }
    c->wb.off = c->wb.len = 0;
    if (c->out_armed)
        arm(w, c, 0);
    return 0;
}

/* Append one masked client frame (FIN set, RSV1 with rsv1) to the
 * connection's output. */
static void ws_frame_rsv(struct worker *w, struct conn *c, int op, int rsv1,
                         const void *data, size_t len)
{
    unsigned char *h, *p, mk[4];
    const unsigned char *s = data;
    size_t hl = 2, i;
    uint32_t m;

    buf_reserve(&c->wb, len + 14);
    h = (unsigned char *)c->wb.p + c->wb.len;
    h[0] = (unsigned char)(0x80 | (rsv1 ? 0x40 : 0) | op);
    if (len < 126) {
        h[1] = (unsigned char)(0x80 | len);
    }
    else if (len < 65536) {
        h[1] = 0x80 | 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        hl = 4;
    }
    else {
        h[1] = 0x80 | 127;
        for (i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        hl = 10;
    }
    m = (uint32_t)rnd(&w->rng);
    memcpy(mk, &m, 4);
    memcpy(h + hl, mk, 4);
    hl += 4;
    p = h + hl;
    for (i = 0; i < len; i++)
        p[i] = s[i] ^ mk[i & 3];
    c->wb.len += hl + len;
}

static void ws_frame(struct worker *w, struct conn *c, int op,
                     const void *data, size_t len)
{
    ws_frame_rsv(w, c, op, 0, data, len);
}

static void ws_close(struct worker *w, struct conn *c, int code)
{
    unsigned char b[2];

    b[0] = (unsigned char)(code >> 8);
    b[1] = (unsigned char)code;
    ws_frame(w, c, 0x8, b, code ? 2 : 0);
    c->close_sent = 1;
}

/* ---- payloads and latency --------------------------------------------- */

/* --json payloads: {"ts":"<20 digits>", then a batch of records with the
 * same keys and varying values, up to -s bytes exactly.  NVARIANTS
 * different ones (the same in every worker and run: a fixed seed); a
 * message carries variant (send time % NVARIANTS), so an echo can be
 * checked byte for byte and a compressor that keeps its context sees
 * similar, not identical, messages. */
#define NVARIANTS 64
#define JSON_HEAD 29            /* {"ts":"01234567890123456789", */

static const char *json_users[] = { "alice", "bob", "carol", "dave", "erin",
    "frank", "grace", "heidi", "ivan", "judy", "mallory", "olivia" };
static const char *json_events[] = { "update", "create", "delete", "view",
    "click", "login", "logout", "purchase" };
static const char *json_tags[] = { "red", "green", "blue", "new", "sale",
    "featured", "archived", "mobile", "desktop", "beta" };
#define NELEM(a) (sizeof (a) / sizeof *(a))

static size_t json_fill(char *out, size_t size, uint64_t *r)
{
    static const char tail[] = "],\"pad\":\"\"}";
    size_t n, tl = sizeof tail - 1;
    char rec[256];
    int first = 1;

    n = (size_t)snprintf(out, size + 1, "{\"ts\":\"%020llu\",\"type\":\"batch\","
                         "\"seq\":%u,\"items\":[", 0ULL,
                         (unsigned)(rnd(r) % 100000));
    if (n + tl > size)
        return n + tl;          /* too small: the caller says so */
    for (;;) {
        int l = snprintf(rec, sizeof rec, "%s{\"id\":%u,\"user\":\"%s\","
            "\"event\":\"%s\",\"at\":%llu,\"price\":%u.%02u,\"qty\":%u,"
            "\"tags\":[\"%s\",\"%s\"],\"ok\":%s}", first ? "" : ",",
            (unsigned)(rnd(r) % 100000),
            json_users[rnd(r) % NELEM(json_users)],
            json_events[rnd(r) % NELEM(json_events)],
            1700000000000ULL + rnd(r) % 100000000ULL,
            (unsigned)(rnd(r) % 1000), (unsigned)(rnd(r) % 100),
            (unsigned)(rnd(r) % 20 + 1),
            json_tags[rnd(r) % NELEM(json_tags)],
            json_tags[rnd(r) % NELEM(json_tags)],
            rnd(r) & 1 ? "true" : "false");
        if (n + (size_t)l + tl > size)
            break;
        memcpy(out + n, rec, (size_t)l);
        n += (size_t)l;
        first = 0;
    }
    memcpy(out + n, tail, 9);               /* ],"pad":" */
    n += 9;
    while (n < size - 2)                    /* the rest: letters */
        out[n++] = (char)('a' + rnd(r) % 26);
    memcpy(out + n, "\"}", 2);
    return size;
}

static void payload_init(struct worker *w)
{
    size_t i;
    int v;

    w->nvariants = cfg.json ? NVARIANTS : 1;
    w->variants = calloc((size_t)w->nvariants, sizeof *w->variants);
    if (!w->variants)
        die("out of memory");
    for (v = 0; v < w->nvariants; v++) {
        char *p = malloc(cfg.size + 1);
        if (!p)
            die("out of memory");
        if (cfg.json) {
            uint64_t r = 0x9E3779B97F4A7C15ULL * (uint64_t)(v + 1);
            if (json_fill(p, cfg.size, &r) != cfg.size)
                die("--json needs a larger -s");
        }
        else {
            for (i = 0; i < cfg.size; i++)
                p[i] = cfg.binary ? (char)(0x41 + i % 26) : 'x';
        }
        w->variants[v] = p;
    }
    w->payload = w->variants[0];
}

/* Where the timestamp ends: the rest of a message is its variant's. */
static size_t payload_head(void)
{
    return cfg.json ? JSON_HEAD : cfg.binary ? 8 : 20;
}

/* ---- permessage-deflate (RFC 7692) ------------------------------------ */

/* The compressor for c's next message: its own when it may keep its
 * context (echo and broadcast: as a browser does), else one of the
 * worker's, reset (always valid: a message compressed afresh inflates
 * with or without the receiver's context; the idle mode sends one message
 * per connection and keeps no compressor per connection). */
static z_stream *deflater(struct worker *w, struct conn *c)
{
    int own = !c->pmd_cnct && cfg.mode != MODE_IDLE;
    z_stream **zp = own ? &c->def : &w->sdef[c->pmd_cbits];

    if (!*zp) {
        z_stream *z = calloc(1, sizeof *z);
        if (!z || deflateInit2(z, cfg.deflate_level, Z_DEFLATED,
                               -(int)c->pmd_cbits, 8, Z_DEFAULT_STRATEGY)
                  != Z_OK)
            die("deflateInit2 failed");
        *zp = z;
    }
    else if (!own) {
        deflateReset(*zp);
    }
    return *zp;
}

/* Compress len bytes of data as one message into w->zout (without the
 * final 00 00 ff ff); returns its length. */
static size_t compress_msg(struct worker *w, struct conn *c, const char *data,
                           size_t len)
{
    z_stream *z = deflater(w, c);
    size_t out;

    w->zout.off = w->zout.len = 0;
    buf_reserve(&w->zout, len + len / 8 + 64);
    z->next_in = (Bytef *)data;
    z->avail_in = (uInt)len;
    for (;;) {
        z->next_out = (Bytef *)w->zout.p + w->zout.len;
        z->avail_out = (uInt)(w->zout.cap - w->zout.len);
        if (deflate(z, Z_SYNC_FLUSH) != Z_OK)
            die("deflate failed");
        w->zout.len = w->zout.cap - z->avail_out;
        if (z->avail_out > 0)
            break;
        buf_reserve(&w->zout, w->zout.cap);
    }
    out = w->zout.len;
    if (out < 4 || memcmp(w->zout.p + out - 4, "\0\0\377\377", 4))
        die("deflate: no sync flush marker");
    return out - 4;
}

/* Inflate one compressed message (data, len) into w->zin; returns 0, or -1
 * with *why set. */
static int inflate_msg(struct worker *w, struct conn *c, const char *data,
                       size_t len, const char **why)
{
    static const unsigned char tailb[4] = { 0, 0, 0xff, 0xff };
    z_stream **zp = c->pmd_snct ? &w->sinf : &c->inf;
    z_stream *z;
    int pass, rc;

    if (!*zp) {
        z = calloc(1, sizeof *z);
        if (!z || inflateInit2(z, -15) != Z_OK)
            die("inflateInit2 failed");
        *zp = z;
    }
    else if (c->pmd_snct) {
        inflateReset(*zp);
    }
    z = *zp;
    w->zin.off = w->zin.len = 0;
    buf_reserve(&w->zin, len * 4 + 256);
    for (pass = 0; pass < 2; pass++) {
        z->next_in = pass ? (Bytef *)tailb : (Bytef *)data;
        z->avail_in = pass ? 4 : (uInt)len;
        for (;;) {
            z->next_out = (Bytef *)w->zin.p + w->zin.len;
            z->avail_out = (uInt)(w->zin.cap - w->zin.len);
            rc = inflate(z, Z_SYNC_FLUSH);
            w->zin.len = w->zin.cap - z->avail_out;
            if (rc == Z_STREAM_END) {       /* a final block: start over */
                inflateReset(z);
                if (z->avail_in && pass == 0) {
                    *why = "data after a final deflate block";
                    return -1;
                }
                break;
            }
            if (rc != Z_OK && rc != Z_BUF_ERROR) {
                *why = "inflate failed (corrupt deflate data)";
                return -1;
            }
            if (w->zin.len > MAX_FRAME) {
                *why = "inflated message too large";
                return -1;
            }
            if (z->avail_out > 0 && z->avail_in == 0)
                break;
            if (z->avail_out == 0)
                buf_reserve(&w->zin, w->zin.cap);
            else if (rc == Z_BUF_ERROR) {
                *why = "inflate made no progress";
                return -1;
            }
        }
        if (rc == Z_STREAM_END)
            break;
    }
    return 0;
}

/* Send one timestamped message on c (appended; the caller flushes). */
static void send_msg(struct worker *w, struct conn *c)
{
    uint64_t ts = now_ns();
    char *p = w->variants[ts % (uint64_t)w->nvariants];
    int op = cfg.binary ? 0x2 : 0x1;

    if (cfg.binary) {
        memcpy(p, &ts, 8);
    }
    else if (cfg.json) {
        char d[24];
        snprintf(d, sizeof d, "%020llu", (unsigned long long)ts);
        memcpy(p + 7, d, 20);
    }
    else {
        char d[24];
        int n = snprintf(d, sizeof d, "%llu", (unsigned long long)ts);
        memcpy(p, d, (size_t)n);
        memset(p + n, 'x', 20 - (size_t)n);
    }
    w->tx_plain += cfg.size;
    if (c->pmd) {
        size_t zl = compress_msg(w, c, p, cfg.size);
        ws_frame_rsv(w, c, op, 1, w->zout.p, zl);
        w->tx_wire += zl;
        w->tx_rsv1++;
    }
    else {
        ws_frame(w, c, op, p, cfg.size);
        w->tx_wire += cfg.size;
    }
    c->outstanding++;
    w->sent++;
}

static int payload_ts(int op, const char *d, size_t len, uint64_t *ts)
{
    if (op == 0x2) {
        if (len < 8)
            return 0;
        memcpy(ts, d, 8);
        return 1;
    }
    else {
        uint64_t v = 0;
        size_t i;

        if (len >= 7 && !memcmp(d, "{\"ts\":\"", 7)) {
            d += 7;
            len -= 7;
        }
        for (i = 0; i < len && i < 20 && isdigit((unsigned char)d[i]); i++)
            v = v * 10 + (uint64_t)(d[i] - '0');
        if (i == 0)
            return 0;
        *ts = v;
        return 1;
    }
}

/* Is (d, len), sent at ts, what we sent? */
static int payload_same(struct worker *w, int op, const char *d, size_t len,
                        uint64_t ts)
{
    size_t h = payload_head();
    const char *p = w->variants[ts % (uint64_t)w->nvariants];

    return len == cfg.size && op == (cfg.binary ? 0x2 : 0x1)
        && !memcmp(d + h, p + h, len - h);
}

static void record(struct worker *w, uint64_t lat_ns)
{
    uint64_t us = lat_ns / 1000, b;

    if (us < HIST_US) {
        b = us;
    }
    else {
        uint64_t ms = (us - HIST_US) / 1000;
        b = HIST_US + (ms < HIST_MS ? ms : HIST_MS - 1);
    }
    w->hist[b]++;
    w->nsamples++;
    w->sum_ns += (double)lat_ns;
    if (lat_ns > w->max_ns)
        w->max_ns = lat_ns;
}

/* Latency (ms) at quantile q of the merged histogram h with n samples. */
static double quantile_ms(const uint32_t *h, uint64_t n, double q)
{
    uint64_t rank, cum = 0;
    size_t b;

    if (!n)
        return 0.0;
    rank = (uint64_t)(q * (double)n);
    if ((double)rank < q * (double)n)
        rank++;
    if (rank < 1)
        rank = 1;
    for (b = 0; b < HIST_N; b++) {
        cum += h[b];
        if (cum >= rank)
            break;
    }
    if (b < HIST_US)
        return (double)b / 1000.0;
    return (double)(HIST_US + (b - HIST_US) * 1000) / 1000.0;
}

/* ---- receiving ---------------------------------------------------------- */

static void deliver(struct worker *w, struct conn *c, int op, const char *d,
                    size_t len)
{
    uint64_t now = now_ns(), ts;

    w->recv_total++;
    if (c->role == R_SEND) {
        w->self_rx++;
        return;
    }
    if (cfg.mode == MODE_IDLE && !(cfg.idle_msg && c->outstanding > 0)) {
        w->unexpected++;
        return;
    }
    if (!payload_ts(op, d, len, &ts) || ts > now
        || now - ts > 3600 * NS_PER_S) {
        w->bad_msgs++;
        note("unexpected message: type %d, %zu bytes", op, len);
        return;
    }
    if (cfg.mode == MODE_BCAST && ts < tl.start) {
        w->stale++;
        note("stale message: sent before this run (replayed by the server)");
        return;
    }
    if (cfg.mode == MODE_IDLE) {        /* --idle-msg: its echo */
        if (!payload_same(w, op, d, len, ts)) {
            w->bad_msgs++;
            note("echo differs: type %d, %zu bytes", op, len);
        }
        c->outstanding--;
        w->idle_echoed++;
        return;
    }
    if (cfg.mode == MODE_ECHO) {
        if (len != cfg.size || op != (cfg.binary ? 0x2 : 0x1)) {
            w->bad_msgs++;
            note("echo differs: type %d, %zu bytes", op, len);
        }
        else if (!payload_same(w, op, d, len, ts)) {
            w->bad_msgs++;
            note("echo differs: same type and size, other bytes");
        }
        c->outstanding--;
        if (now >= tl.measure_start && now < tl.measure_end) {
            w->msgs++;
            record(w, now - ts);
        }
        if (w->phase == PH_RUN && c->state == C_OPEN && now < tl.send_end)
            send_msg(w, c);
    }
    else {
        w->deliveries++;
        c->rx++;
        w->last_rx_ns = now;
        record(w, now - ts);
        if (ts < tl.measure_start + NS_PER_S) {
            w->n_first++;
            w->ns_first += (double)(now - ts);
        }
        else if (ts + NS_PER_S >= tl.send_end) {
            w->n_last++;
            w->ns_last += (double)(now - ts);
        }
    }
}

static void control(struct worker *w, struct conn *c, int op, const char *d,
                    size_t len)
{
    if (op == 0x9) {                    /* ping: answer with a pong */
        w->pings++;
        if (!c->close_sent)
            ws_frame(w, c, 0xA, d, len);
    }
    else if (op == 0x8) {               /* close */
        int code = len >= 2 ? ((unsigned char)d[0] << 8 | (unsigned char)d[1])
                            : 1005;
        c->close_rcvd = 1;
        if (!c->close_sent) {
            if (w->phase != PH_CLOSE) {
                w->lost++;
                note("closed by server: code %d%s%.*s", code,
                     len > 2 ? " " : "", len > 2 ? (int)(len - 2) : 0,
                     len > 2 ? d + 2 : "");
            }
            ws_close(w, c, code == 1005 ? 0 : code);
        }
        if (c->state == C_OPEN)
            set_state(w, c, C_CLOSING);
    }
    /* pong (0xA): nothing to do */
}

/* The server's Sec-WebSocket-Extensions (v, ve): sets c's permessage-
 * deflate settings; returns NULL, or what is wrong with it. */
static const char *parse_extensions(struct worker *w, struct conn *c,
                                    const char *v, const char *ve)
{
    char tmp[256], *tok, *save = NULL;
    int n = 0;

    if (!w->ext_answer[0])
        snprintf(w->ext_answer, sizeof w->ext_answer, "%.*s", (int)(ve - v),
                 v);
    if (!cfg.deflate)
        return NULL;            /* not asked for: ignored, as it always was */
    if ((size_t)(ve - v) >= sizeof tmp)
        return "Sec-WebSocket-Extensions too long";
    if (memchr(v, ',', (size_t)(ve - v)))
        return "more than one extension agreed";
    memcpy(tmp, v, (size_t)(ve - v));
    tmp[ve - v] = '\0';
    c->pmd_cbits = 15;
    for (tok = strtok_r(tmp, ";", &save); tok;
         tok = strtok_r(NULL, ";", &save), n++) {
        char *k = tok, *val, *e;

        while (*k == ' ' || *k == '\t')
            k++;
        e = k + strlen(k);
        while (e > k && (e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        if (n == 0) {
            if (strcasecmp(k, "permessage-deflate"))
                return "an extension that was not offered";
            continue;
        }
        if ((val = strchr(k, '=')) != NULL) {
            char *ke = val;
            *val++ = '\0';
            while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t'))
                *--ke = '\0';
            while (*val == ' ' || *val == '\t')
                val++;
            if (*val == '"' && strlen(val) >= 2 && val[strlen(val) - 1] == '"') {
                val[strlen(val) - 1] = '\0';
                val++;
            }
        }
        if (!strcasecmp(k, "server_no_context_takeover") && !val) {
            c->pmd_snct = 1;
        }
        else if (!strcasecmp(k, "client_no_context_takeover") && !val) {
            c->pmd_cnct = 1;
        }
        else if (!strcasecmp(k, "server_max_window_bits") && val) {
            int b = atoi(val);
            if (b < 8 || b > 15 || strspn(val, "0123456789") != strlen(val))
                return "bad server_max_window_bits";
        }
        else if (!strcasecmp(k, "client_max_window_bits") && val) {
            int b = atoi(val);
            if (b < 8 || b > 15 || strspn(val, "0123456789") != strlen(val))
                return "bad client_max_window_bits";
            /* zlib cannot write raw deflate with a 256-byte window */
            if (b == 8)
                return "client_max_window_bits=8 (zlib cannot)";
            c->pmd_cbits = (unsigned char)b;
        }
        else {
            return "a permessage-deflate parameter that is not allowed";
        }
    }
    c->pmd = 1;
    return NULL;
}

static int parse_handshake(struct worker *w, struct conn *c, char *s,
                           size_t avail, size_t *used)
{
    char *end = memmem(s, avail, "\r\n\r\n", 4), *line, *eol;
    const char *ext_err = NULL;
    int ok = 0;

    if (!end) {
        if (avail > 16384)
            conn_lost(w, c, "handshake: response headers too large");
        return 0;
    }
    if (avail < 12 || memcmp(s, "HTTP/1.1 101", 12) != 0) {
        size_t l = (size_t)((char *)memchr(s, '\r', avail) - s);
        conn_lost(w, c, "handshake: %.*s", (int)(l > 60 ? 60 : l), s);
        return -1;
    }
    line = (char *)memchr(s, '\n', avail) + 1;
    while (line < end + 2) {
        size_t ll;

        eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
        if (!eol)
            break;
        ll = (size_t)(eol - line);
        if (ll > 21 && !strncasecmp(line, "Sec-WebSocket-Accept:", 21)) {
            char *v = line + 21, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            ok = (ve - v == 28 && !memcmp(v, c->accept, 28));
        }
        else if (ll > 25
                 && !strncasecmp(line, "Sec-WebSocket-Extensions:", 25)) {
            char *v = line + 25, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if (c->pmd)
                ext_err = "two Sec-WebSocket-Extensions headers";
            else if (!ext_err)
                ext_err = parse_extensions(w, c, v, ve);
        }
        line = eol + 2;
    }
    if (!ok) {
        conn_lost(w, c, "handshake: bad or missing Sec-WebSocket-Accept");
        return -1;
    }
    if (ext_err) {
        conn_lost(w, c, "handshake: Sec-WebSocket-Extensions: %s", ext_err);
        return -1;
    }
    *used = (size_t)(end + 4 - s);
    set_state(w, c, C_OPEN);
    w->connected++;
    if (c->pmd)
        w->pmd_conns++;
    else if (cfg.deflate)
        w->pmd_declined++;
    if (cfg.mode == MODE_IDLE && cfg.idle_msg)
        send_msg(w, c);                 /* conn_read flushes it */
    return 1;
}

/* A whole data message arrived (compressed with rsv1): inflate it, count
 * it, deliver it; -1 if c was dropped for it. */
static int data_msg(struct worker *w, struct conn *c, int op, int rsv1,
                    const char *d, size_t len)
{
    w->rx_msgs++;
    w->rx_wire += len;
    if (rsv1) {
        const char *why = NULL;

        w->rx_rsv1++;
        if (inflate_msg(w, c, d, len, &why) < 0) {
            proto_error(w, c, why);
            return -1;
        }
        d = w->zin.p;
        len = w->zin.len;
    }
    w->rx_plain += len;
    deliver(w, c, op, d, len);
    return 0;
}

/* Parse what arrived; returns the bytes used (0 and state C_CLOSED if the
 * connection was dropped meanwhile). */
static size_t process(struct worker *w, struct conn *c, char *data,
                      size_t len)
{
    size_t pos = 0;

    if (c->state == C_HANDSHAKE) {
        if (parse_handshake(w, c, data, len, &pos) <= 0)
            return 0;
    }
    while (len - pos >= 2 && !c->close_rcvd) {
        unsigned char *p = (unsigned char *)data + pos;
        size_t avail = len - pos, hl = 2;
        int fin = p[0] & 0x80, op = p[0] & 0x0f, i;
        uint64_t plen = p[1] & 0x7f;
        char *pl;

        int rsv1 = p[0] & 0x40;

        if ((p[0] & 0x30) || (rsv1 && !c->pmd)) {
            proto_error(w, c, "RSV bits set");
            return 0;
        }
        if (rsv1 && op != 0x1 && op != 0x2) {
            proto_error(w, c, op == 0x0 ? "RSV1 on a continuation frame"
                                        : "RSV1 on a control frame");
            return 0;
        }
        if (p[1] & 0x80) {
            proto_error(w, c, "masked server frame");
            return 0;
        }
        if (plen == 126) {
            if (avail < 4)
                break;
            plen = (uint64_t)p[2] << 8 | p[3];
            hl = 4;
        }
        else if (plen == 127) {
            if (avail < 10)
                break;
            plen = 0;
            for (i = 0; i < 8; i++)
                plen = plen << 8 | p[2 + i];
            hl = 10;
        }
        if (plen > MAX_FRAME) {
            proto_error(w, c, "frame too large");
            return 0;
        }
        if (avail < hl + plen)
            break;
        pl = (char *)p + hl;
        pos += hl + (size_t)plen;
        if (op & 0x8) {
            if (!fin || plen > 125 || (op != 0x8 && op != 0x9 && op != 0xA)) {
                proto_error(w, c, "bad control frame");
                return 0;
            }
            control(w, c, op, pl, (size_t)plen);
        }
        else if (op == 0x0) {
            if (!c->in_frag) {
                proto_error(w, c, "continuation without a message");
                return 0;
            }
            if (c->msg.len + plen > MAX_FRAME) {
                proto_error(w, c, "message too large");
                return 0;
            }
            buf_reserve(&c->msg, (size_t)plen);
            memcpy(c->msg.p + c->msg.len, pl, (size_t)plen);
            c->msg.len += (size_t)plen;
            if (fin) {
                c->in_frag = 0;
                if (data_msg(w, c, c->frag_op, c->in_rsv1, c->msg.p,
                             c->msg.len) < 0)
                    return 0;
                c->msg.len = 0;
            }
        }
        else if (op == 0x1 || op == 0x2) {
            if (c->in_frag) {
                proto_error(w, c, "new message inside a fragmented one");
                return 0;
            }
            if (fin) {
                if (data_msg(w, c, op, rsv1, pl, (size_t)plen) < 0)
                    return 0;
            }
            else {
                c->in_frag = 1;
                c->in_rsv1 = rsv1 != 0;
                c->frag_op = (unsigned char)op;
                c->msg.len = 0;
                buf_reserve(&c->msg, (size_t)plen);
                memcpy(c->msg.p, pl, (size_t)plen);
                c->msg.len = (size_t)plen;
            }
        }
        else {
            proto_error(w, c, "reserved opcode");
            return 0;
        }
        if (c->state == C_CLOSED)
            return 0;
    }
    return pos;
}

static void conn_read(struct worker *w, struct conn *c)
{
    ssize_t n = recv(c->fd, w->scratch, SCRATCH, 0);
    char *data;
    size_t len, used;
    int from_rb = 0;

    if (n == 0) {
        if (c->state == C_CLOSING)
            conn_drop(w, c);            /* the normal end after close frames */
        else
            conn_lost(w, c, "EOF without a close frame");
        return;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        if (c->state == C_CLOSING)
            conn_drop(w, c);
        else
            conn_lost(w, c, "recv: %s", strerror(errno));
        return;
    }
    if (c->close_rcvd)                  /* nothing may follow a close */
        return;
    if (c->rb.len > c->rb.off) {
        buf_reserve(&c->rb, (size_t)n);
        memcpy(c->rb.p + c->rb.len, w->scratch, (size_t)n);
        c->rb.len += (size_t)n;
        data = c->rb.p + c->rb.off;
        len = c->rb.len - c->rb.off;
        from_rb = 1;
    }
    else {
        data = w->scratch;
        len = (size_t)n;
    }
    used = process(w, c, data, len);
    if (c->state == C_CLOSED)
        return;
    if (from_rb) {
        c->rb.off += used;
        if (c->rb.off == c->rb.len)
            c->rb.off = c->rb.len = 0;
    }
    else if (used < len) {
        c->rb.off = c->rb.len = 0;
        buf_reserve(&c->rb, len - used);
        memcpy(c->rb.p, data + used, len - used);
        c->rb.len = len - used;
    }
    if (c->wb.len > c->wb.off)
        conn_flush(w, c);
}

/* ---- connecting --------------------------------------------------------- */

/* The port c connects to: with --port2, every other receiver there. */
static int conn_port(const struct conn *c)
{
    return cfg.port2 && c->role != R_SEND && (c->gidx & 1) ? cfg.port2
                                                            : cfg.port;
}

static void send_handshake(struct worker *w, struct conn *c)
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char key[16], digest[20], cat[24 + sizeof guid];
    char k64[25];
    uint64_t r1 = rnd(&w->rng), r2 = rnd(&w->rng);
    int n;

    memcpy(key, &r1, 8);
    memcpy(key + 8, &r2, 8);
    b64(key, 16, k64);
    memcpy(cat, k64, 24);
    memcpy(cat + 24, guid, sizeof guid - 1);
    sha1(cat, 24 + sizeof guid - 1, digest);
    b64(digest, 20, c->accept);
    buf_reserve(&c->wb, strlen(cfg.path) + 256
                + (cfg.deflate ? strlen(cfg.deflate_offer) + 32 : 0));
    n = snprintf(c->wb.p + c->wb.len, c->wb.cap - c->wb.len,
                 "GET %s HTTP/1.1\r\n"
                 "Host: %s:%d\r\n"
                 "Upgrade: websocket\r\n"
                 "Connection: Upgrade\r\n"
                 "Sec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\n"
                 "%s%s%s"
                 "User-Agent: wsbench\r\n\r\n",
                 cfg.path, cfg.hostname, conn_port(c), k64,
                 cfg.deflate ? "Sec-WebSocket-Extensions: " : "",
                 cfg.deflate ? cfg.deflate_offer : "",
                 cfg.deflate ? "\r\n" : "");
    c->wb.len += (size_t)n;
    set_state(w, c, C_HANDSHAKE);
    conn_flush(w, c);
}

static void conn_start(struct worker *w, struct conn *c)
{
    struct sockaddr_in sa;
    struct epoll_event ev;
    int fd, one = 1;

    c->fd = -1;
    set_state(w, c, C_CONNECTING);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        conn_lost(w, c, "socket: %s", strerror(errno));
        return;
    }
    c->fd = fd;
    w->live++;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (cfg.nsrc) {
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_addr = cfg.src[c->gidx % cfg.nsrc];
#ifdef IP_BIND_ADDRESS_NO_PORT
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
            conn_lost(w, c, "bind %s: %s", inet_ntoa(sa.sin_addr),
                      strerror(errno));
            return;
        }
    }
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr = cfg.host;
    sa.sin_port = htons((uint16_t)conn_port(c));
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = c;
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        conn_lost(w, c, "epoll_ctl: %s", strerror(errno));
        return;
    }
    c->out_armed = 1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0
        && errno != EINPROGRESS) {
        conn_lost(w, c, "connect: %s", strerror(errno));
        return;
    }
    /* Completion (even an immediate one) is reported as EPOLLOUT. */
}

static void handle_event(struct worker *w, struct conn *c, uint32_t ev)
{
    if (c->state == C_CLOSED || c->state == C_NONE || c->fd < 0)
        return;
    if (c->state == C_CONNECTING) {
        int err = 0;
        socklen_t l = sizeof err;

        if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
            err = errno;
        if (err) {
            conn_lost(w, c, "connect: %s", strerror(err));
            return;
        }
        send_handshake(w, c);
        return;
    }
    if (ev & EPOLLOUT) {
        if (conn_flush(w, c) < 0)
            return;
    }
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
        conn_read(w, c);
}

/* ---- the per-thread loop ------------------------------------------------ */

static void poll_once(struct worker *w, uint64_t until)
{
    struct epoll_event evs[512];
    uint64_t now = now_ns();
    int timeout = 0, n, i;

    if (until > now) {
        uint64_t ms = (until - now + 999999) / 1000000;
        timeout = ms > 100 ? 100 : (int)ms;
    }
    n = epoll_wait(w->ep, evs, 512, timeout);
    for (i = 0; i < n; i++)
        handle_event(w, evs[i].data.ptr, evs[i].events);
}

static void phase_connect(struct worker *w)
{
    w->phase = PH_CONNECT;
    for (;;) {
        uint64_t now = now_ns();

        if (interrupted || now >= tl.connect_deadline)
            break;
        while (w->next < w->n && w->hs_inflight < w->hs_max)
            conn_start(w, &w->c[w->next++]);
        if (w->next >= w->n && w->hs_inflight == 0)
            break;
        poll_once(w, tl.connect_deadline);
    }
    /* Whatever has not made it by the deadline has failed. */
    for (; w->next < w->n; w->next++) {
        w->failed++;
        note("connect failed: not started before the connect timeout");
    }
    for (long i = 0; i < w->n; i++) {
        struct conn *c = &w->c[i];
        if (c->state == C_CONNECTING || c->state == C_HANDSHAKE)
            conn_lost(w, c, "%s timed out",
                      c->state == C_CONNECTING ? "connect" : "handshake");
    }
}

/* After the last send, a broadcast worker is done once each of its open
 * receivers has every message sent (END_COMPLETE), or when nothing has
 * arrived for --quiet seconds (END_QUIET: the rest is lost); --grace caps
 * the wait.  Returns 1 when done, with w->ended set. */
static int bcast_done(struct worker *w, uint64_t now)
{
    long total = __atomic_load_n(&tl.bsent_final, __ATOMIC_ACQUIRE), i;
    uint64_t last = w->last_rx_ns > tl.send_end ? w->last_rx_ns
                                                : tl.send_end;

    if (total < 0)
        return 0;
    for (i = 0; i < w->n; i++) {
        struct conn *c = &w->c[i];

        if (c->role == R_RECV && c->state == C_OPEN && c->rx < total)
            break;
    }
    if (i == w->n) {
        w->ended = END_COMPLETE;
        return 1;
    }
    if (now - last >= (uint64_t)(cfg.quiet * NS_PER_S)) {
        w->ended = END_QUIET;
        return 1;
    }
    return 0;
}

static void phase_run(struct worker *w)
{
    uint64_t next_check = tl.send_end;
    long i;

    w->phase = PH_RUN;
    if (cfg.mode == MODE_ECHO) {
        for (i = 0; i < w->n; i++) {
            struct conn *c = &w->c[i];
            int k;

            if (c->state != C_OPEN)
                continue;
            for (k = 0; k < cfg.inflight; k++)
                send_msg(w, c);
            conn_flush(w, c);
        }
    }
    for (;;) {
        uint64_t now = now_ns(), until = tl.run_end;

        if (interrupted || now >= tl.run_end) {
            w->ended = interrupted ? END_INTERRUPTED : END_GRACE;
            break;
        }
        if (w->sender) {
            struct conn *s = w->sender;
            int any = 0;

            while (s->state == C_OPEN && now >= w->next_send
                   && w->next_send < tl.send_end) {
                send_msg(w, s);
                w->bsent++;
                w->last_send_ns = now;
                w->next_send += w->period;
                any = 1;
            }
            if (any)
                conn_flush(w, s);
            if (w->next_send < tl.send_end && w->next_send < until)
                until = w->next_send;
            if (now >= tl.send_end
                && __atomic_load_n(&tl.bsent_final, __ATOMIC_ACQUIRE) < 0)
                __atomic_store_n(&tl.bsent_final, w->bsent,
                                 __ATOMIC_RELEASE);
        }
        if (cfg.mode == MODE_BCAST && now >= next_check) {
            if (bcast_done(w, now))
                break;
            next_check = now + NS_PER_S / 20;   /* every 50 ms */
        }
        if (cfg.mode == MODE_BCAST && next_check < until)
            until = next_check;
        poll_once(w, until);
    }
    w->end_ns = now_ns();
}

static void phase_close(struct worker *w)
{
    long i;

    w->phase = PH_CLOSE;
    for (i = 0; i < w->n; i++) {
        struct conn *c = &w->c[i];

        if (c->state == C_OPEN) {
            if (!c->close_sent)
                ws_close(w, c, 1000);
            set_state(w, c, C_CLOSING);
            conn_flush(w, c);
        }
        else if (c->state == C_CONNECTING || c->state == C_HANDSHAKE) {
            conn_drop(w, c);
        }
    }
    while (w->live > 0 && now_ns() < tl.close_deadline)
        poll_once(w, tl.close_deadline);
    for (i = 0; i < w->n; i++) {
        if (w->c[i].fd >= 0) {
            w->close_timeouts++;
            conn_drop(w, &w->c[i]);
        }
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    phase_connect(w);
    pthread_barrier_wait(&barrier);     /* 1: all connected */
    pthread_barrier_wait(&barrier);     /* 2: timeline set */
    if (!tl.abort) {
        if (w->sender)
            w->next_send = tl.measure_start;
        phase_run(w);
    }
    pthread_barrier_wait(&barrier);     /* 3: run over */
    pthread_barrier_wait(&barrier);     /* 4: measured */
    phase_close(w);
    return NULL;
}

/* ---- the server's process tree (--pid) ---------------------------------- */

struct tree {
    long rss_kb, threads;
    int procs;
    double cpu_s;               /* user + system time of the processes */
};

/* The --pid processes and their descendants, into sel (at most max);
 * returns how many. */
static int tree_pids(pid_t *sel, int max)
{
    static pid_t pid[65536], ppid[65536];
    int n = 0, ns = 0, i, j, grew;
    DIR *d;
    struct dirent *de;

    d = opendir("/proc");
    while (d && (de = readdir(d)) && n < 65536) {
        char path[300], buf[512], *rp;
        FILE *f;
        int p, pp;
        char st;

        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        if (!(f = fopen(path, "r")))
            continue;
        if (!fgets(buf, sizeof buf, f)) {
            fclose(f);
            continue;
        }
        fclose(f);
        rp = strrchr(buf, ')');
        if (!rp || sscanf(buf, "%d", &p) != 1
            || sscanf(rp + 1, " %c %d", &st, &pp) != 2)
            continue;
        pid[n] = p;
        ppid[n++] = pp;
    }
    if (d)
        closedir(d);
    for (i = 0; i < cfg.npids && ns < max; i++)
        sel[ns++] = cfg.pids[i];
    do {                                /* add children until nothing new */
        grew = 0;
        for (i = 0; i < n; i++) {
            int have = 0, parent = 0;
            for (j = 0; j < ns; j++) {
                if (sel[j] == pid[i])
                    have = 1;
                if (sel[j] == ppid[i])
                    parent = 1;
            }
            if (parent && !have && ns < max) {
                sel[ns++] = pid[i];
                grew = 1;
            }
        }
    } while (grew);
    return ns;
}

static void tree_stats(struct tree *t)
{
    static pid_t sel[65536];
    int ns, j;

    memset(t, 0, sizeof *t);
    if (!cfg.npids)
        return;
    ns = tree_pids(sel, 65536);
    for (j = 0; j < ns; j++) {
        char path[64], line[256];
        FILE *f;
        long v;

        snprintf(path, sizeof path, "/proc/%d/stat", (int)sel[j]);
        if ((f = fopen(path, "r")) != NULL) {
            unsigned long ut, st;
            char *rp;

            if (fgets(line, sizeof line, f) && (rp = strrchr(line, ')'))
                && sscanf(rp + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u "
                          "%*u %*u %lu %lu", &ut, &st) == 2)
                t->cpu_s += (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
            fclose(f);
        }
        snprintf(path, sizeof path, "/proc/%d/status", (int)sel[j]);
        if (!(f = fopen(path, "r")))
            continue;
        t->procs++;
        while (fgets(line, sizeof line, f)) {
            if (sscanf(line, "VmRSS: %ld", &v) == 1)
                t->rss_kb += v;
            else if (sscanf(line, "Threads: %ld", &v) == 1)
                t->threads += v;
        }
        fclose(f);
    }
}

/* ---- which server process holds each connection (--pid) --------------- */

struct endpoint {
    uint64_t key;               /* client address << 16 | client port */
    unsigned long inode;        /* the server side's socket, 0: not seen */
    int sender;
    int holder;                 /* index into the process list, -1: none */
};

struct holders {
    int procs;                  /* processes holding at least one receiver */
    long located, unlocated;    /* receivers whose process was (not) found */
    long sender_peers;          /* receivers in the sender's process */
    int sender_found;
    char split[160];            /* receivers per process, most first: a/b */
    char detail[300];           /* the same with the pids */
};

static int ep_by_key(const void *a, const void *b)
{
    const struct endpoint *x = a, *y = b;

    return x->key < y->key ? -1 : x->key > y->key;
}

static int ep_by_inode(const void *a, const void *b)
{
    const struct endpoint *x = a, *y = b;

    return x->inode < y->inode ? -1 : x->inode > y->inode;
}

/* Find, for every open connection, the server process (among --pid and
 * their descendants) holding its other end: the server side's socket inode
 * from /proc/net/tcp (local address = the server's, remote = ours), then
 * the process with an fd "socket:[inode]". */
static void locate_holders(struct holders *h)
{
    static pid_t sel[65536];
    static long count[65536];
    struct endpoint *eps, probe;
    long n = 0, cap = 0, k;
    int i, np, sender_holder = -1;
    FILE *f;
    char line[512];

    memset(h, 0, sizeof *h);
    memset(&probe, 0, sizeof probe);
    for (i = 0; i < cfg.threads; i++)
        cap += workers[i].n;
    eps = calloc((size_t)cap + 1, sizeof *eps);
    if (!eps)
        die("out of memory");
    for (i = 0; i < cfg.threads; i++) {
        for (k = 0; k < workers[i].n; k++) {
            struct conn *c = &workers[i].c[k];
            struct sockaddr_in sa;
            socklen_t sl = sizeof sa;

            if (c->state != C_OPEN || c->fd < 0
                || getsockname(c->fd, (struct sockaddr *)&sa, &sl) < 0)
                continue;
            eps[n].key = (uint64_t)sa.sin_addr.s_addr << 16
                       | ntohs(sa.sin_port);
            eps[n].sender = c->role == R_SEND;
            eps[n].holder = -1;
            n++;
        }
    }
    qsort(eps, (size_t)n, sizeof *eps, ep_by_key);
    /* /proc/net/tcp prints addresses as the raw 32-bit value in hex, ports
     * in host order; state 01 is ESTABLISHED. */
    if ((f = fopen("/proc/net/tcp", "r")) != NULL) {
        while (fgets(line, sizeof line, f)) {
            unsigned int la, lp, ra, rp, st;
            unsigned long ino;
            struct endpoint *e;

            if (sscanf(line, " %*d: %x:%x %x:%x %x %*x:%*x %*x:%*x %*x "
                       "%*u %*u %lu", &la, &lp, &ra, &rp, &st, &ino) != 6
                || st != 1 || la != cfg.host.s_addr
                || lp != (unsigned int)cfg.port)
                continue;
            probe.key = (uint64_t)ra << 16 | rp;
            e = bsearch(&probe, eps, (size_t)n, sizeof *eps, ep_by_key);
            if (e)
                e->inode = ino;
        }
        fclose(f);
    }
    qsort(eps, (size_t)n, sizeof *eps, ep_by_inode);
    np = tree_pids(sel, 65536);
    for (i = 0; i < np; i++) {
        char dir[64], target[64];
        DIR *d;
        struct dirent *de;

        count[i] = 0;
        snprintf(dir, sizeof dir, "/proc/%d/fd", (int)sel[i]);
        if (!(d = opendir(dir)))
            continue;
        while ((de = readdir(d)) != NULL) {
            ssize_t l;
            struct endpoint *e;

            if (de->d_name[0] == '.')
                continue;
            l = readlinkat(dirfd(d), de->d_name, target, sizeof target - 1);
            if (l <= 0)
                continue;
            target[l] = '\0';
            if (sscanf(target, "socket:[%lu]", &probe.inode) != 1
                || !probe.inode)
                continue;
            e = bsearch(&probe, eps, (size_t)n, sizeof *eps, ep_by_inode);
            if (e && e->holder < 0)
                e->holder = i;
        }
        closedir(d);
    }
    for (k = 0; k < n; k++) {
        if (eps[k].sender) {
            h->sender_found = eps[k].holder >= 0;
            sender_holder = eps[k].holder;
        }
        else if (eps[k].holder >= 0) {
            count[eps[k].holder]++;
            h->located++;
        }
        else {
            h->unlocated++;
        }
    }
    if (sender_holder >= 0)
        h->sender_peers = count[sender_holder];
    for (;;) {                          /* processes, most receivers first */
        int best = -1;
        size_t l1 = strlen(h->split), l2 = strlen(h->detail);

        for (i = 0; i < np; i++)
            if (count[i] > 0 && (best < 0 || count[i] > count[best]))
                best = i;
        if (best < 0)
            break;
        snprintf(h->split + l1, sizeof h->split - l1, "%s%ld",
                 h->procs ? "/" : "", count[best]);
        snprintf(h->detail + l2, sizeof h->detail - l2, "%spid %d: %ld%s",
                 h->procs ? ", " : "", (int)sel[best], count[best],
                 best == sender_holder ? " (the sender's)" : "");
        h->procs++;
        count[best] = 0;
    }
    if (!h->procs)
        snprintf(h->split, sizeof h->split, "-");
    free(eps);
}

/* ---- options ------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
"usage: wsbench idle|echo|broadcast --port N [options]\n"
"  --host ADDR          IPv4 address of the server (127.0.0.1)\n"
"  --port N             its port (required)\n"
"  --port2 N            broadcast: every other receiver connects to this\n"
"                       port (a second server), the sender to --port\n"
"  --path PATH          request path (/echo; /broadcast for broadcast)\n"
"  -c, --conns N        connections (receivers for broadcast) (100)\n"
"  -k, --inflight K     echo: messages in flight per connection (1)\n"
"  -s, --size S         message size in bytes (32; text >= 20, binary >= 8)\n"
"      --text|--binary  message type (text)\n"
"      --json           text messages that look like JSON (a batch of\n"
"                       records; 64 variants, -s >= 96), the send time in\n"
"                       {\"ts\":\"<20 digits>\"; for compression tests\n"
"      --deflate        offer permessage-deflate as browsers do:\n"
"                       \"permessage-deflate; client_max_window_bits\"; if\n"
"                       agreed, compress what is sent (zlib, RSV1) and\n"
"                       inflate what comes compressed; a server that\n"
"                       declines is counted, not an error\n"
"      --deflate-offer S  with --deflate, offer S instead\n"
"      --deflate-level L  zlib level of what is sent (-1: zlib's 6)\n"
"      --idle-msg       idle: each connection sends one message (-s, the\n"
"                       payload options) once open and expects it back\n"
"  -d, --duration S     measured seconds / hold time / sending time (10)\n"
"  -w, --warmup S       echo: warm-up seconds before measuring (1)\n"
"      --rate R         broadcast: messages per second sent (10)\n"
"      --grace S        broadcast: wait at most S after the last send for\n"
"                       what is still on its way (3); the wait ends when\n"
"                       every receiver has every message, or after\n"
"      --quiet S        seconds with no delivery (2)\n"
"      --settle S       broadcast: wait between the last connect and the\n"
"                       first send (0.5)\n"
"  -t, --threads T      threads, each with its own epoll (1)\n"
"      --src A[-B]      bind to source addresses A..B (or A,B,...) in turn\n"
"      --pid P[,P...]   server pids (with their children) for RSS/threads\n"
"      --max-handshakes N   handshakes in flight at once (500)\n"
"      --connect-timeout S  connect phase deadline (60)\n"
"      --close-timeout S    closing handshake deadline (5)\n");
}

static double num(const char *opt, const char *v, double lo, double hi)
{
    char *end;
    double d = strtod(v, &end);

    if (end == v || *end || d < lo || d > hi)
        die("%s: '%s' is not a number in [%g, %g]", opt, v, lo, hi);
    return d;
}

static void parse_src(const char *arg)
{
    char tmp[256], *tok, *save = NULL;

    snprintf(tmp, sizeof tmp, "%s", arg);
    for (tok = strtok_r(tmp, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *dash = strchr(tok, '-');
        struct in_addr a, b;
        uint32_t x, y;

        if (dash)
            *dash = '\0';
        if (!inet_pton(AF_INET, tok, &a)
            || (dash && !inet_pton(AF_INET, dash + 1, &b)))
            die("--src: bad address range '%s'", arg);
        if (!dash)
            b = a;
        for (x = ntohl(a.s_addr), y = ntohl(b.s_addr); x <= y; x++) {
            if (cfg.nsrc == 256)
                die("--src: at most 256 addresses");
            cfg.src[cfg.nsrc++].s_addr = htonl(x);
            if (x == 0xFFFFFFFFu)
                break;
        }
    }
    if (!cfg.nsrc)
        die("--src: no addresses in '%s'", arg);
}

static void parse_args(int argc, char **argv)
{
    enum { OPT_TEXT = 256, OPT_BINARY, OPT_RATE, OPT_GRACE, OPT_HOST, OPT_PORT, OPT_PORT2, OPT_PATH,
           OPT_SRC, OPT_PID, OPT_MAXHS, OPT_CTO, OPT_CLTO, OPT_MODE,
           OPT_SETTLE, OPT_QUIET, OPT_JSON, OPT_DEFLATE, OPT_DEFLATE_OFFER,
           OPT_DEFLATE_LEVEL, OPT_IDLE_MSG };
    static const struct option opts[] = {
        { "conns", required_argument, NULL, 'c' },
        { "inflight", required_argument, NULL, 'k' },
        { "size", required_argument, NULL, 's' },
        { "duration", required_argument, NULL, 'd' },
        { "warmup", required_argument, NULL, 'w' },
        { "threads", required_argument, NULL, 't' },
        { "text", no_argument, NULL, OPT_TEXT },
        { "binary", no_argument, NULL, OPT_BINARY },
        { "json", no_argument, NULL, OPT_JSON },
        { "deflate", no_argument, NULL, OPT_DEFLATE },
        { "deflate-offer", required_argument, NULL, OPT_DEFLATE_OFFER },
        { "deflate-level", required_argument, NULL, OPT_DEFLATE_LEVEL },
        { "idle-msg", no_argument, NULL, OPT_IDLE_MSG },
        { "rate", required_argument, NULL, OPT_RATE },
        { "grace", required_argument, NULL, OPT_GRACE },
        { "settle", required_argument, NULL, OPT_SETTLE },
        { "quiet", required_argument, NULL, OPT_QUIET },
        { "host", required_argument, NULL, OPT_HOST },
        { "port", required_argument, NULL, OPT_PORT },
        { "port2", required_argument, NULL, OPT_PORT2 },
        { "path", required_argument, NULL, OPT_PATH },
        { "src", required_argument, NULL, OPT_SRC },
        { "pid", required_argument, NULL, OPT_PID },
        { "max-handshakes", required_argument, NULL, OPT_MAXHS },
        { "connect-timeout", required_argument, NULL, OPT_CTO },
        { "close-timeout", required_argument, NULL, OPT_CLTO },
        { "mode", required_argument, NULL, OPT_MODE },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *mode = NULL, *host = "127.0.0.1";
    int o;

    cfg.conns = 100;
    cfg.inflight = 1;
    cfg.size = 32;
    cfg.duration = 10;
    cfg.warmup = 1;
    cfg.threads = 1;
    cfg.rate = 10;
    cfg.grace = 3;
    cfg.settle = 0.5;
    cfg.quiet = 2;
    cfg.connect_timeout = 60;
    cfg.close_timeout = 5;
    cfg.max_handshakes = 500;
    cfg.deflate_level = Z_DEFAULT_COMPRESSION;
    cfg.deflate_offer = "permessage-deflate; client_max_window_bits";
    while ((o = getopt_long(argc, argv, "c:k:s:d:w:t:m:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c': cfg.conns = (long)num("-c", optarg, 1, 1000000); break;
        case 'k': cfg.inflight = (int)num("-k", optarg, 1, 100000); break;
        case 's': cfg.size = (size_t)num("-s", optarg, 1, 64 << 20); break;
        case 'd': cfg.duration = num("-d", optarg, 0.001, 86400); break;
        case 'w': cfg.warmup = num("-w", optarg, 0, 3600); break;
        case 't': cfg.threads = (int)num("-t", optarg, 1, 64); break;
        case OPT_TEXT: cfg.binary = 0; break;
        case OPT_BINARY: cfg.binary = 1; break;
        case OPT_JSON: cfg.json = 1; break;
        case OPT_DEFLATE: cfg.deflate = 1; break;
        case OPT_DEFLATE_OFFER: cfg.deflate_offer = optarg; break;
        case OPT_DEFLATE_LEVEL:
            cfg.deflate_level = (int)num("--deflate-level", optarg, -1, 9);
            break;
        case OPT_IDLE_MSG: cfg.idle_msg = 1; break;
        case OPT_RATE: cfg.rate = num("--rate", optarg, 0.01, 1e6); break;
        case OPT_GRACE: cfg.grace = num("--grace", optarg, 0, 3600); break;
        case OPT_SETTLE: cfg.settle = num("--settle", optarg, 0, 3600); break;
        case OPT_QUIET: cfg.quiet = num("--quiet", optarg, 0.01, 3600); break;
        case OPT_HOST: host = optarg; break;
        case OPT_PORT: cfg.port = (int)num("--port", optarg, 1, 65535); break;
        case OPT_PORT2: cfg.port2 = (int)num("--port2", optarg, 1, 65535); break;
        case OPT_PATH: cfg.path = optarg; break;
        case OPT_SRC: cfg.src_arg = optarg; parse_src(optarg); break;
        case OPT_PID: {
            char tmp[512], *tok, *save = NULL;
            snprintf(tmp, sizeof tmp, "%s", optarg);
            for (tok = strtok_r(tmp, ",", &save); tok;
                 tok = strtok_r(NULL, ",", &save)) {
                if (cfg.npids == MAX_PIDS)
                    die("--pid: at most %d pids", MAX_PIDS);
                cfg.pids[cfg.npids++] = (pid_t)num("--pid", tok, 1, 1 << 30);
            }
            break;
        }
        case OPT_MAXHS:
            cfg.max_handshakes = (int)num("--max-handshakes", optarg, 1, 1e6);
            break;
        case OPT_CTO:
            cfg.connect_timeout = num("--connect-timeout", optarg, 0.1, 3600);
            break;
        case OPT_CLTO:
            cfg.close_timeout = num("--close-timeout", optarg, 0, 3600);
            break;
        case 'm': case OPT_MODE: mode = optarg; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    if (!mode && optind < argc)
        mode = argv[optind++];
    if (optind < argc)
        die("unexpected argument '%s'", argv[optind]);
    if (!mode) {
        usage(stderr);
        exit(2);
    }
    if (!strcmp(mode, "idle"))
        cfg.mode = MODE_IDLE;
    else if (!strcmp(mode, "echo"))
        cfg.mode = MODE_ECHO;
    else if (!strcmp(mode, "broadcast"))
        cfg.mode = MODE_BCAST;
    else
        die("unknown mode '%s' (idle, echo or broadcast)", mode);
    if (!cfg.port)
        die("--port is required");
    if (!strcmp(host, "localhost"))
        host = "127.0.0.1";
    if (!inet_pton(AF_INET, host, &cfg.host))
        die("--host: '%s' is not an IPv4 address", host);
    snprintf(cfg.hostname, sizeof cfg.hostname, "%s", host);
    if (!cfg.path)
        cfg.path = cfg.mode == MODE_BCAST ? "/broadcast" : "/echo";
    if (cfg.path[0] != '/' || strpbrk(cfg.path, " \r\n"))
        die("--path must start with / and hold no spaces");
    if (cfg.json && cfg.binary)
        die("--json is text: not with --binary");
    if (cfg.json && cfg.size < 96)
        die("--json messages need -s >= 96");
    if (cfg.deflate_offer && (strpbrk(cfg.deflate_offer, "\r\n")
                              || strlen(cfg.deflate_offer) > 200))
        die("--deflate-offer: one line of at most 200 characters");
    if (cfg.idle_msg && cfg.mode != MODE_IDLE)
        die("--idle-msg is for the idle mode");
    if (!cfg.binary && cfg.size < 20 && (cfg.mode != MODE_IDLE || cfg.idle_msg))
        die("text messages need -s >= 20 (the timestamp)");
    if (cfg.binary && cfg.size < 8 && (cfg.mode != MODE_IDLE || cfg.idle_msg))
        die("binary messages need -s >= 8 (the timestamp)");
    if (cfg.threads > cfg.conns)
        cfg.threads = (int)cfg.conns;
}

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* ---- main ---------------------------------------------------------------- */

static void cleanup(uint32_t *hist)
{
    int i;

    for (i = 0; i < cfg.threads; i++) {
        close(workers[i].ep);
        free(workers[i].c);
        free(workers[i].hist);
        free(workers[i].scratch);
        for (int v = 0; v < workers[i].nvariants; v++)
            free(workers[i].variants[v]);
        free(workers[i].variants);
        for (int b = 0; b < 16; b++)
            zfree(&workers[i].sdef[b], 1);
        zfree(&workers[i].sinf, 0);
        buf_free(&workers[i].zout);
        buf_free(&workers[i].zin);
    }
    free(workers);
    free(hist);
}

int main(int argc, char **argv)
{
    struct rlimit rl;
    struct tree before, after, end, run0;
    struct rusage ru0, ru1;
    struct sigaction sa;
    uint64_t t0, t_conn, nsamples = 0, max_ns = 0, seed0;
    long connected = 0, failed = 0, lost = 0, proto = 0, bad = 0, still = 0;
    long sent = 0, msgs = 0, deliveries = 0, pings = 0, unexpected = 0;
    long close_to = 0, per, extra, bsent = 0, stale = 0, self_rx = 0;
    long n_first = 0, n_last = 0;
    double ns_first = 0, ns_last = 0;
    uint64_t last_rx = 0, run_end = 0;
    int ended = END_COMPLETE;
    long pmd_conns = 0, pmd_declined = 0, idle_echoed = 0, rx_msgs = 0;
    long rx_rsv1 = 0, tx_rsv1 = 0;
    uint64_t tx_plain = 0, tx_wire = 0, rx_plain = 0, rx_wire = 0;
    char ext_answer[160] = "", ext_kv[160], zdesc[400] = "";
    struct holders hold;
    double sum_ns = 0, conn_s, p50, p99, p999, maxms, mean;
    uint32_t *hist;
    int i, rc = 0;
    char srcdesc[300];

    parse_args(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* Room for the connections: the soft fd limit up to the hard one. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur != RLIM_INFINITY
            && (rlim_t)(cfg.conns + 64) > rl.rlim_cur)
            fprintf(stderr, "wsbench: warning: fd limit %llu < %ld "
                    "connections + 64\n", (unsigned long long)rl.rlim_cur,
                    cfg.conns);
    }

    snprintf(srcdesc, sizeof srcdesc, "%s", cfg.src_arg ? cfg.src_arg : "-");
    printf("wsbench %s ws://%s:%d%s conns=%ld%s threads=%d", mode_names[cfg.mode],
           cfg.hostname, cfg.port, cfg.path, cfg.conns,
           cfg.mode == MODE_BCAST ? "+1 sender" : "", cfg.threads);
    if (cfg.mode != MODE_IDLE || cfg.idle_msg)
        printf(" size=%zu %s", cfg.size, cfg.binary ? "binary"
               : cfg.json ? "json" : "text");
    if (cfg.idle_msg)
        printf(" one message each");
    if (cfg.deflate)
        printf(" offer=\"%s\" level=%d", cfg.deflate_offer,
               cfg.deflate_level);
    if (cfg.mode == MODE_ECHO)
        printf(" inflight=%d warmup=%gs", cfg.inflight, cfg.warmup);
    if (cfg.mode == MODE_BCAST)
        printf(" rate=%g/s", cfg.rate);
    printf(" duration=%gs src=%s\n", cfg.duration, srcdesc);

    tree_stats(&before);
    memset(&hold, 0, sizeof hold);

    /* Workers: a share of the connections each; the broadcast sender is an
     * extra connection of worker 0, connected with the receivers. */
    workers = calloc((size_t)cfg.threads, sizeof *workers);
    hist = calloc(HIST_N, sizeof *hist);
    if (!workers || !hist)
        die("out of memory");
    per = cfg.conns / cfg.threads;
    extra = cfg.conns % cfg.threads;
    seed0 = seed();
    {
        long gidx = 0;
        for (i = 0; i < cfg.threads; i++) {
            struct worker *w = &workers[i];
            long k, n = per + (i < extra ? 1 : 0);
            int sender = (cfg.mode == MODE_BCAST && i == 0);

            w->id = i;
            w->n = n + sender;
            w->c = calloc((size_t)w->n, sizeof *w->c);
            w->hist = calloc(HIST_N, sizeof *w->hist);
            w->scratch = malloc(SCRATCH);
            w->ep = epoll_create1(EPOLL_CLOEXEC);
            w->rng = seed0 ^ ((uint64_t)(i + 1) * 0x9E3779B97F4A7C15ULL);
            w->hs_max = (cfg.max_handshakes + cfg.threads - 1) / cfg.threads;
            if (!w->c || !w->hist || !w->scratch || w->ep < 0)
                die("out of memory (or epoll_create1 failed)");
            payload_init(w);
            for (k = 0; k < w->n; k++) {
                w->c[k].fd = -1;
                w->c[k].gidx = gidx++;
                w->c[k].role = cfg.mode == MODE_ECHO ? R_ECHO : R_RECV;
            }
            if (sender) {
                w->sender = &w->c[w->n - 1];
                w->sender->role = R_SEND;
                w->period = (uint64_t)((double)NS_PER_S / cfg.rate);
                if (!w->period)
                    w->period = 1;
            }
        }
    }

    if (pthread_barrier_init(&barrier, NULL, (unsigned)cfg.threads + 1))
        die("pthread_barrier_init failed");
    t0 = now_ns();
    tl.start = t0;
    tl.bsent_final = -1;
    tl.connect_deadline = t0 + (uint64_t)(cfg.connect_timeout * NS_PER_S);
    for (i = 0; i < cfg.threads; i++)
        if (pthread_create(&workers[i].th, NULL, worker_main, &workers[i]))
            die("pthread_create failed");

    pthread_barrier_wait(&barrier);     /* 1: connect phase over */
    t_conn = now_ns();
    conn_s = (double)(t_conn - t0) / NS_PER_S;
    for (i = 0; i < cfg.threads; i++) {
        connected += workers[i].connected;
        failed += workers[i].failed;
    }
    if (cfg.mode == MODE_BCAST) {
        if (workers[0].sender->state != C_OPEN) {
            fprintf(stderr, "wsbench: the broadcast sender did not connect\n");
            tl.abort = 1;
        }
        else {
            connected--;                /* count receivers only below */
        }
    }
    tree_stats(&after);
    printf("connect: %ld connected, %ld failed in %.2f s (%.0f/s)\n",
           connected, failed, conn_s, conn_s > 0 ? connected / conn_s : 0.0);
    if (cfg.mode == MODE_BCAST && cfg.npids && !tl.abort) {
        uint64_t tloc = now_ns();

        /* Before the timeline starts: this scan is not measured. */
        locate_holders(&hold);
        printf("server: receivers held by %d process(es): %s; the "
               "sender's process holds %ld of them%s; not located %ld "
               "(found in %.0f ms)\n", hold.procs, hold.detail,
               hold.sender_peers, hold.sender_found ? ""
               : " (the sender's process was not found)", hold.unlocated,
               (double)(now_ns() - tloc) / 1e6);
    }
    if (connected == 0) {
        fprintf(stderr, "wsbench: no connection could be opened\n");
        tl.abort = 1;
    }
    {
        uint64_t now = now_ns();
        tl.run_start = now;
        if (cfg.mode == MODE_ECHO) {
            tl.measure_start = now + (uint64_t)(cfg.warmup * NS_PER_S);
            tl.measure_end = tl.measure_start
                           + (uint64_t)(cfg.duration * NS_PER_S);
            tl.send_end = tl.run_end = tl.measure_end;
        }
        else if (cfg.mode == MODE_BCAST) {
            /* Let the receivers' registrations settle before sending. */
            tl.measure_start = now + (uint64_t)(cfg.settle * NS_PER_S);
            tl.send_end = tl.measure_end = tl.measure_start
                        + (uint64_t)(cfg.duration * NS_PER_S);
            tl.run_end = tl.send_end + (uint64_t)(cfg.grace * NS_PER_S);
        }
        else {
            tl.measure_start = now;
            tl.run_end = tl.send_end = tl.measure_end
                       = now + (uint64_t)(cfg.duration * NS_PER_S);
        }
    }
    memset(&run0, 0, sizeof run0);
    memset(&ru0, 0, sizeof ru0);
    memset(&ru1, 0, sizeof ru1);
    if (cfg.mode != MODE_IDLE) {        /* CPU use over the run, below */
        tree_stats(&run0);
        getrusage(RUSAGE_SELF, &ru0);
    }
    pthread_barrier_wait(&barrier);     /* 2: run */
    pthread_barrier_wait(&barrier);     /* 3: run over */
    if (cfg.mode != MODE_IDLE)
        getrusage(RUSAGE_SELF, &ru1);
    for (i = 0; i < cfg.threads; i++)
        still += workers[i].open_now;
    if (cfg.mode == MODE_BCAST && workers[0].sender->state == C_OPEN)
        still--;
    tree_stats(&end);
    tl.close_deadline = now_ns() + (uint64_t)(cfg.close_timeout * NS_PER_S);
    pthread_barrier_wait(&barrier);     /* 4: close */
    for (i = 0; i < cfg.threads; i++)
        pthread_join(workers[i].th, NULL);

    for (i = 0; i < cfg.threads; i++) {
        struct worker *w = &workers[i];
        size_t b;

        lost += w->lost;
        proto += w->proto_err;
        bad += w->bad_msgs;
        sent += w->sent;
        msgs += w->msgs;
        deliveries += w->deliveries;
        pings += w->pings;
        unexpected += w->unexpected;
        close_to += w->close_timeouts;
        bsent += w->bsent;
        stale += w->stale;
        n_first += w->n_first;
        n_last += w->n_last;
        ns_first += w->ns_first;
        ns_last += w->ns_last;
        if (w->last_rx_ns > last_rx)
            last_rx = w->last_rx_ns;
        if (w->end_ns > run_end)
            run_end = w->end_ns;
        if (w->ended > ended)
            ended = w->ended;
        self_rx += w->self_rx;
        pmd_conns += w->pmd_conns;
        pmd_declined += w->pmd_declined;
        idle_echoed += w->idle_echoed;
        tx_plain += w->tx_plain;
        tx_wire += w->tx_wire;
        rx_plain += w->rx_plain;
        rx_wire += w->rx_wire;
        rx_msgs += w->rx_msgs;
        rx_rsv1 += w->rx_rsv1;
        tx_rsv1 += w->tx_rsv1;
        if (!ext_answer[0] && w->ext_answer[0])
            memcpy(ext_answer, w->ext_answer, sizeof ext_answer);
        nsamples += w->nsamples;
        sum_ns += w->sum_ns;
        if (w->max_ns > max_ns)
            max_ns = w->max_ns;
        if (w->nsamples)
            for (b = 0; b < HIST_N; b++)
                hist[b] += w->hist[b];
    }
    p50 = quantile_ms(hist, nsamples, 0.50);
    p99 = quantile_ms(hist, nsamples, 0.99);
    p999 = quantile_ms(hist, nsamples, 0.999);
    maxms = (double)max_ns / 1e6;
    mean = nsamples ? sum_ns / (double)nsamples / 1e6 : 0.0;
    {   /* the answer, as one RESULT value: spaces dropped */
        size_t a, k = 0;
        for (a = 0; ext_answer[a] && k + 1 < sizeof ext_kv; a++)
            if (ext_answer[a] != ' ' && ext_answer[a] != '\t')
                ext_kv[k++] = ext_answer[a];
        ext_kv[k] = '\0';
        if (!k)
            snprintf(ext_kv, sizeof ext_kv, "-");
    }
    if (cfg.deflate || cfg.json || cfg.idle_msg)
        snprintf(zdesc, sizeof zdesc, " json=%d deflate=%d pmd_conns=%ld "
                 "pmd_declined=%ld ext=%s tx_msgs=%ld tx_rsv1=%ld "
                 "tx_payload=%llu tx_wire=%llu tx_ratio=%.3f rx_msgs=%ld "
                 "rx_rsv1=%ld rx_payload=%llu rx_wire=%llu rx_ratio=%.3f",
                 cfg.json, cfg.deflate, pmd_conns, pmd_declined, ext_kv,
                 sent, tx_rsv1, (unsigned long long)tx_plain,
                 (unsigned long long)tx_wire,
                 tx_plain ? (double)tx_wire / (double)tx_plain : 0.0,
                 rx_msgs, rx_rsv1, (unsigned long long)rx_plain,
                 (unsigned long long)rx_wire,
                 rx_plain ? (double)rx_wire / (double)rx_plain : 0.0);

    for (i = 0; i < nreasons; i++)
        printf("note: %ld x %s\n", reasons[i].count, reasons[i].text);
    if (reasons_other)
        printf("note: %ld x other reasons\n", reasons_other);
    if (interrupted)
        printf("note: interrupted\n");

    if (tl.abort) {
        printf("RESULT mode=%s ok=0 connected=%ld failed=%ld\n",
               mode_names[cfg.mode], connected, failed);
        cleanup(hist);
        return 1;
    }

    if (cfg.deflate || cfg.idle_msg || cfg.json) {
        if (cfg.deflate)
            printf("compression: permessage-deflate agreed on %ld "
                   "connection(s), declined on %ld; the server answered "
                   "\"%s\"\n", pmd_conns, pmd_declined,
                   ext_answer[0] ? ext_answer : "(nothing)");
        printf("bytes: sent %ld messages, %llu B of payload as %llu B "
               "(%.1f%%) in frame payloads (%ld compressed); received %ld, "
               "%llu B of payload as %llu B (%.1f%%) (%ld compressed)\n",
               sent, (unsigned long long)tx_plain,
               (unsigned long long)tx_wire,
               tx_plain ? 100.0 * (double)tx_wire / (double)tx_plain : 0.0,
               tx_rsv1, rx_msgs, (unsigned long long)rx_plain,
               (unsigned long long)rx_wire,
               rx_plain ? 100.0 * (double)rx_wire / (double)rx_plain : 0.0,
               rx_rsv1);
    }
    if (cfg.mode == MODE_IDLE) {
        long errors = failed + lost + proto + bad;
        if (cfg.idle_msg)
            printf("idle: %ld of %ld messages sent came back (%ld "
                   "differed)\n", idle_echoed, sent, bad);
        printf("idle: connected=%ld failed=%ld still_open=%ld after %gs "
               "(lost %ld, protocol errors %ld, pings answered %ld)\n",
               connected, failed, still, cfg.duration, lost, proto, pings);
        if (cfg.npids) {
            /* Per connection: at the end of the hold, when the
             * connections are idle (what idle costs), and right after
             * connecting (what the handshake left behind). */
            double per_conn = still
                ? (double)(end.rss_kb - before.rss_kb) / still : 0.0;
            double per_conn_connect = connected
                ? (double)(after.rss_kb - before.rss_kb) / connected : 0.0;
            printf("server: rss before=%ld KB after connecting=%ld KB "
                   "(%+.2f KB per connection) at the end of the hold=%ld KB "
                   "(%+.2f KB per idle connection); threads before=%ld "
                   "after=%ld end=%ld; processes %d/%d/%d\n",
                   before.rss_kb, after.rss_kb, per_conn_connect, end.rss_kb,
                   per_conn,
                   before.threads, after.threads, end.threads,
                   before.procs, after.procs, end.procs);
            printf("RESULT mode=idle ok=1 conns=%ld connected=%ld failed=%ld "
                   "still_open=%ld lost=%ld errors=%ld connect_s=%.3f "
                   "rss_before_kb=%ld rss_after_kb=%ld rss_end_kb=%ld "
                   "rss_per_conn_kb=%.2f rss_per_conn_connect_kb=%.2f "
                   "threads_before=%ld threads=%ld "
                   "threads_end=%ld procs=%d%s idle_echoed=%ld\n",
                   cfg.conns, connected, failed, still, lost, errors, conn_s,
                   before.rss_kb, after.rss_kb, end.rss_kb, per_conn,
                   per_conn_connect,
                   before.threads, after.threads, end.threads, after.procs,
                   zdesc, idle_echoed);
        }
        else {
            printf("RESULT mode=idle ok=1 conns=%ld connected=%ld failed=%ld "
                   "still_open=%ld lost=%ld errors=%ld connect_s=%.3f%s "
                   "idle_echoed=%ld\n",
                   cfg.conns, connected, failed, still, lost, errors, conn_s,
                   zdesc, idle_echoed);
        }
    }
    else if (cfg.mode == MODE_ECHO) {
        double rate = (double)msgs / cfg.duration;
        double mbs = rate * (double)cfg.size / 1e6;
        long errors = failed + lost + proto + bad;
        double run_s = (double)(run_end - tl.run_start) / NS_PER_S;
        double client_cpu = run_s > 0 ? 100.0 * (tv_s(&ru1.ru_utime)
            + tv_s(&ru1.ru_stime) - tv_s(&ru0.ru_utime)
            - tv_s(&ru0.ru_stime)) / run_s : 0.0;
        double server_cpu = run_s > 0 && cfg.npids
            ? 100.0 * (end.cpu_s - run0.cpu_s) / run_s : -1.0;
        double server_us = cfg.npids && rx_msgs
            ? (end.cpu_s - run0.cpu_s) * 1e6 / (double)rx_msgs : -1.0;
        printf("echo: %ld messages echoed in %gs: %.1f msgs/s, %.3f MB/s "
               "payload each way (%ld sent in all)\n",
               msgs, cfg.duration, rate, mbs, sent);
        printf("cpu over the run (%.1f s, warm-up included): server %.0f%%"
               "%s, this client %.0f%% (of one CPU); server %.1f us per "
               "message echoed\n", run_s, server_cpu,
               cfg.npids ? "" : " (no --pid)", client_cpu, server_us);
        printf("latency ms: p50=%.3f p99=%.3f p99.9=%.3f max=%.3f "
               "mean=%.3f (%llu samples)\n", p50, p99, p999, maxms, mean,
               (unsigned long long)nsamples);
        printf("errors: %ld (failed %ld, lost %ld, protocol %ld, bad "
               "messages %ld); still open at the end %ld\n",
               errors, failed, lost, proto, bad, still);
        printf("RESULT mode=echo ok=1 conns=%ld inflight=%d size=%zu type=%s "
               "duration=%g connected=%ld failed=%ld msgs=%ld "
               "msgs_per_s=%.1f mb_per_s=%.3f p50_ms=%.3f p99_ms=%.3f "
               "p999_ms=%.3f max_ms=%.3f mean_ms=%.3f errors=%ld lost=%ld "
               "still_open=%ld server_cpu_pct=%.1f client_cpu_pct=%.1f "
               "server_cpu_us_per_msg=%.2f run_s=%.2f%s\n",
               cfg.conns, cfg.inflight, cfg.size,
               cfg.binary ? "binary" : "text", cfg.duration, connected,
               failed, msgs, rate, mbs, p50, p99, p999, maxms, mean, errors,
               lost, still, server_cpu, client_cpu, server_us, run_s, zdesc);
    }
    else {
        long expected = bsent * connected;
        long errors = failed + lost + proto + bad, reached = 0, complete = 0;
        long k;
        double run_s = (double)(run_end - tl.run_start) / NS_PER_S;
        uint64_t last_send = workers[0].last_send_ns;
        double drain_ms = last_rx > last_send && last_send
            ? (double)(last_rx - last_send) / 1e6 : 0.0;

        double client_cpu = run_s > 0 ? 100.0 * (tv_s(&ru1.ru_utime)
            + tv_s(&ru1.ru_stime) - tv_s(&ru0.ru_utime)
            - tv_s(&ru0.ru_stime)) / run_s : 0.0;
        double server_cpu = run_s > 0 && cfg.npids
            ? 100.0 * (end.cpu_s - run0.cpu_s) / run_s : -1.0;
        double first_ms = n_first ? ns_first / (double)n_first / 1e6 : 0.0;
        double last_ms = n_last ? ns_last / (double)n_last / 1e6 : 0.0;

        for (i = 0; i < cfg.threads; i++) {
            for (k = 0; k < workers[i].n; k++) {
                struct conn *c = &workers[i].c[k];
                if (c->role != R_RECV)
                    continue;
                reached += c->rx > 0;
                complete += c->rx >= bsent;
            }
        }
        printf("broadcast: %ld messages sent to %ld receivers: %ld "
               "deliveries expected, %ld received (%.2f%%), %.1f "
               "deliveries/s\n", bsent, connected, expected, deliveries,
               expected ? 100.0 * deliveries / expected : 0.0,
               deliveries / cfg.duration);
        printf("receivers: %ld got at least one message, %ld got all %ld; "
               "the sender got %ld of its own; %ld stale messages\n",
               reached, complete, bsent, self_rx, stale);
        if (cfg.npids)
            printf("server: %d processes, %ld threads, rss %ld KB\n",
                   end.procs, end.threads, end.rss_kb);
        printf("cpu over the run (%.1f s, from the settle before the "
               "first send to the end of the wait for deliveries): server "
               "%.0f%%, this client %.0f%% (of one CPU)\n", run_s,
               server_cpu, client_cpu);
        printf("latency ms: p50=%.3f p99=%.3f p99.9=%.3f max=%.3f "
               "mean=%.3f (%llu samples)\n", p50, p99, p999, maxms, mean,
               (unsigned long long)nsamples);
        printf("mean latency of the messages sent in the first second: "
               "%.3f ms, in the last second: %.3f ms\n", first_ms, last_ms);
        printf("the last delivery came %.3f ms after the last send; the "
               "wait for deliveries ended: %s\n", drain_ms,
               ended == END_COMPLETE ? "every receiver had every message"
               : ended == END_QUIET ? "nothing arrived for --quiet seconds"
               : ended == END_GRACE ? "the --grace limit" : "interrupted");
        printf("errors: %ld (failed %ld, lost %ld, protocol %ld, bad "
               "messages %ld); receivers still open %ld\n",
               errors, failed, lost, proto, bad, still);
        printf("RESULT mode=broadcast ok=1 receivers=%ld connected=%ld "
               "failed=%ld rate=%g duration=%g size=%zu sent=%ld "
               "expected=%ld received=%ld deliveries_per_s=%.1f "
               "p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f "
               "mean_ms=%.3f errors=%ld lost=%ld still_open=%ld "
               "reached=%ld complete=%ld procs=%d self_rx=%ld stale=%ld "
               "settle=%g holders=%d holder_split=%s sender_peers=%ld "
               "unlocated=%ld server_cpu_pct=%.1f client_cpu_pct=%.1f "
               "first_s_mean_ms=%.3f last_s_mean_ms=%.3f drain_ms=%.3f "
               "wait_end=%s grace=%g quiet=%g\n",
               cfg.conns, connected, failed, cfg.rate, cfg.duration,
               cfg.size, bsent, expected, deliveries,
               deliveries / cfg.duration, p50, p99, p999, maxms, mean,
               errors, lost, still, reached, complete, end.procs, self_rx,
               stale, cfg.settle, hold.procs, hold.split, hold.sender_peers,
               hold.unlocated, server_cpu, client_cpu, first_ms, last_ms,
               drain_ms, end_names[ended], cfg.grace, cfg.quiet);
    }
    if (unexpected)
        printf("note: %ld unexpected messages received\n", unexpected);
    if (close_to)
        printf("note: %ld connections did not finish the closing handshake "
               "in %gs\n", close_to, cfg.close_timeout);
    cleanup(hist);
    return rc;
}
