/*
 * lws-echo.c -- the libwebsockets echo server `make bench` compares
 * mod_websocket against: Debian's libwebsockets (4.1), written the way its
 * minimal examples are, each message sent back with its own type (text
 * stays text, binary stays binary).
 *
 *     build/tools/lws-echo PORT
 *
 * One context with one vhost on 127.0.0.1:PORT, one service thread on
 * lws's default event loop (poll), no TLS, no extensions (so no
 * permessage-deflate), text checked for UTF-8 as RFC 6455 section 8.1 asks
 * (LWS_SERVER_OPTION_VALIDATE_UTF8; mod_websocket and Node's ws check it
 * too).  Any path is accepted: with no Sec-WebSocket-Protocol the upgrade
 * binds to protocols[0], the echo.  Messages are assembled from their
 * fragments and partial reads, queued per connection and written on
 * LWS_CALLBACK_SERVER_WRITEABLE with LWS_PRE bytes of headroom, as lws
 * asks; a connection whose queue grows long stops being read until it
 * drains.  A message over 64 MiB (Node's ws maxPayload in node-echo.js)
 * closes the connection with 1009.
 *
 * The connection limit is the process's open-files limit (its soft limit
 * is raised to the hard one first): fd_limit_per_thread 0 gives the one
 * service thread all of it.  Prints "listening" on stdout once it accepts
 * connections; SIGTERM or SIGINT stops it (exit 0; 1 when the service
 * loop fails).  Only warnings and errors are logged, on stderr.
 *
 * Build (the Makefile's rule):
 *
 *     cc -std=c99 -O2 -Wall -Wextra -Werror -o build/tools/lws-echo \
 *         tools/lws-echo.c $(pkg-config --cflags --libs libwebsockets)
 */
#define _POSIX_C_SOURCE 200809L
#include <libwebsockets.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define ECHO_MAX_MESSAGE (64u * 1024 * 1024)
/* Reading stops while a connection has this many echoes waiting to be
 * written, and starts again at ECHO_QUEUE_LOW. */
#define ECHO_QUEUE_HIGH 64
#define ECHO_QUEUE_LOW 16

/* One message: being assembled (pss->cur) or waiting to be written
 * (pss->head..tail).  buf holds LWS_PRE bytes of headroom for the frame
 * header lws_write() puts in front, then len bytes of payload. */
struct echo_msg {
    struct echo_msg *next;
    size_t len, cap;            /* payload bytes, and room for them */
    int binary;
    unsigned char buf[];
};

/* Per connection (lws allocates it zeroed and frees it after CLOSED). */
struct echo_pss {
    struct echo_msg *cur;       /* the message being received */
    struct echo_msg *head, *tail;
    unsigned int queued;
    int rx_paused;
};

static volatile sig_atomic_t stopping;
static struct lws_context *context;

static void msg_free_all(struct echo_pss *pss)
{
    struct echo_msg *m;

    while ((m = pss->head) != NULL) {
        pss->head = m->next;
        free(m);
    }
    pss->tail = NULL;
    pss->queued = 0;
    free(pss->cur);
    pss->cur = NULL;
}

/* Append len bytes of the message being received (starting one if none
 * is); 0, or -1 when it would pass ECHO_MAX_MESSAGE or memory ran out. */
static int msg_append(struct lws *wsi, struct echo_pss *pss, const void *in,
                      size_t len)
{
    struct echo_msg *m = pss->cur;

    if (!m) {
        /* The whole frame's size is known (what is still to come of it
         * plus this part): one allocation for an unfragmented message. */
        size_t want = len + lws_remaining_packet_payload(wsi);

        if (want > ECHO_MAX_MESSAGE)
            return -1;
        m = malloc(sizeof *m + LWS_PRE + want);
        if (!m)
            return -1;
        m->next = NULL;
        m->len = 0;
        m->cap = want;
        m->binary = lws_frame_is_binary(wsi);
        pss->cur = m;
    }
    if (len > ECHO_MAX_MESSAGE - m->len)
        return -1;
    if (m->len + len > m->cap) {
        size_t cap = m->cap * 2 > m->len + len ? m->cap * 2 : m->len + len;
        struct echo_msg *grown;

        if (cap > ECHO_MAX_MESSAGE)
            cap = ECHO_MAX_MESSAGE;
        grown = realloc(m, sizeof *m + LWS_PRE + cap);
        if (!grown)
            return -1;
        m = pss->cur = grown;
        m->cap = cap;
    }
    memcpy(m->buf + LWS_PRE + m->len, in, len);
    m->len += len;
    return 0;
}

static int callback_echo(struct lws *wsi, enum lws_callback_reasons reason,
                         void *user, void *in, size_t len)
{
    struct echo_pss *pss = user;
    struct echo_msg *m;

    switch (reason) {
    case LWS_CALLBACK_RECEIVE:
        if (msg_append(wsi, pss, in, len)) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL,
                             0);
            return -1;
        }
        /* Complete: the last frame of the message (FIN), all of it read. */
        if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
            return 0;
        m = pss->cur;
        pss->cur = NULL;
        if (pss->tail)
            pss->tail->next = m;
        else
            pss->head = m;
        pss->tail = m;
        if (++pss->queued >= ECHO_QUEUE_HIGH && !pss->rx_paused) {
            lws_rx_flow_control(wsi, 0);
            pss->rx_paused = 1;
        }
        lws_callback_on_writable(wsi);
        return 0;

    case LWS_CALLBACK_SERVER_WRITEABLE:
        /* Everything queued, until a write lws could not finish (it
         * buffers the rest and holds WRITEABLE back until that has gone
         * out): lws_partial_buffered() says when to stop, as its
         * documentation asks of more than one lws_write() per callback.
         * (The minimal examples write one message per callback; with 8
         * messages in flight per connection that echoed about a quarter
         * fewer, at a third more CPU per message.) */
        while ((m = pss->head) != NULL) {
            if (lws_write(wsi, m->buf + LWS_PRE, m->len,
                          m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT)
                < (int)m->len)
                return -1;
            pss->head = m->next;
            if (!pss->head)
                pss->tail = NULL;
            pss->queued--;
            free(m);
            if (lws_partial_buffered(wsi))
                break;
        }
        if (pss->rx_paused && pss->queued <= ECHO_QUEUE_LOW) {
            lws_rx_flow_control(wsi, 1);
            pss->rx_paused = 0;
        }
        if (pss->head)
            lws_callback_on_writable(wsi);
        return 0;

    case LWS_CALLBACK_CLOSED:
        msg_free_all(pss);
        return 0;

    default:
        /* Plain HTTP to protocols[0] (and what else lws asks of it): the
         * stock handler, which answers 404. */
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols protocols[] = {
    { "echo", callback_echo, sizeof(struct echo_pss), 0, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
    /* Wake the service loop (a write to lws's event pipe) in case the
     * signal came between its check of `stopping` and its poll(). */
    if (context)
        lws_cancel_service(context);
}

int main(int argc, char **argv)
{
    struct lws_context_creation_info info;
    struct sigaction sa;
    struct rlimit rl;
    char *end;
    long port;
    int n = 0;

    if (argc != 2 || (errno = 0, port = strtol(argv[1], &end, 10), errno)
        || *end || end == argv[1] || port < 1 || port > 65535) {
        fprintf(stderr, "usage: lws-echo PORT\n");
        return 2;
    }
    /* lws sizes its fd table from the soft open-files limit. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);

    memset(&info, 0, sizeof info);
    info.port = (int)port;
    info.iface = "127.0.0.1";
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8
                   | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.count_threads = 1;
    info.fd_limit_per_thread = 0;   /* all of the open-files limit */

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    context = lws_create_context(&info);
    if (!context) {
        fprintf(stderr, "lws-echo: lws_create_context failed (port %ld)\n",
                port);
        return 1;
    }
    printf("listening\n");
    fflush(stdout);
    while (!stopping && n >= 0)
        n = lws_service(context, 0);
    lws_context_destroy(context);
    return n < 0;
}
