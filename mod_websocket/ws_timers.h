/*
 * ws_timers.h -- when a connection is pinged, found dead, timed out or
 * closed because the server stops: the timer rules of one connection,
 * pure.
 *
 * Owns: the times that matter (last input, last message, our ping, our
 * close, the control-rate window) and the decision, at a given time, of
 * what is due.  It does nothing itself: the session acts on the decision
 * (sends the ping, closes, drops TCP).  No clock of its own either: the
 * caller passes `now`, so tests run it on a fake clock.
 *
 * Must not: know httpd, sessions or threads.  The owner of a connection
 * (its event loop or its own thread) is the only caller.
 */
#ifndef WS_TIMERS_H
#define WS_TIMERS_H

#include "apr_time.h"

/* Timer resolution of every connection (pings, timeouts, lingering
 * closes): owners look at their connections' timers this often. */
#define WS_TIMER_TICK_MS 250

/* The settings the rules use (from ws_settings_t), in microseconds;
 * ping and idle 0 mean "never". */
typedef struct {
    apr_interval_time_t ping;           /* WebSocketPingInterval */
    apr_interval_time_t ping_timeout;   /* WebSocketPingTimeout */
    apr_interval_time_t idle;           /* WebSocketIdleTimeout */
    apr_interval_time_t close_timeout;  /* WebSocketCloseTimeout */
    apr_interval_time_t graceful;       /* WebSocketGracefulTimeout */
} ws_timer_settings_t;

typedef struct {
    apr_time_t last_rx;         /* last bytes from the peer */
    apr_time_t last_msg;        /* last data message, either way */
    apr_time_t ping_sent;       /* our unanswered ping, 0 if none */
    apr_time_t close_sent;      /* our close frame, 0 if none */
    apr_time_t ctl_window;      /* start of the control-rate window */
} ws_timers_t;

/* What is due now. */
typedef enum {
    WS_TIMER_NONE = 0,
    WS_TIMER_PING,              /* send a ping (then ws_timers_pinged) */
    WS_TIMER_CLOSE,             /* start the closing handshake: code,
                                 * reason */
    WS_TIMER_DROP               /* give up on the peer: close TCP without
                                 * more ado; reason says why */
} ws_timer_action_e;

typedef struct {
    ws_timer_action_e action;
    int code;                   /* CLOSE: the close code */
    const char *reason;         /* CLOSE, DROP: static text */
} ws_timer_due_t;

/* Where the connection's closing handshake stands (from the engine). */
typedef enum {
    WS_TIMER_OPEN = 0,          /* no close sent yet */
    WS_TIMER_CLOSING            /* our close sent, the peer's awaited */
} ws_timer_phase_e;

/* How the child process is stopping (ws_child). */
typedef struct {
    apr_time_t graceful_since;  /* a graceful stop began then; 0: none */
    int now;                    /* an immediate stop: close at once */
    const char *reason;         /* "server restarting" or "server
                                 * stopping" */
} ws_timer_stop_t;

/* When the child stops at once, a peer gets at most this long to answer
 * our close. */
#define WS_TIMER_STOP_CLOSE_TIMEOUT apr_time_from_msec(500)

/* All times start now. */
void ws_timers_init(ws_timers_t *t, apr_time_t now);

/* Events: bytes arrived; a data message went either way; our ping was
 * sent; a pong came; our close frame was sent. */
void ws_timers_rx(ws_timers_t *t, apr_time_t now);
void ws_timers_message(ws_timers_t *t, apr_time_t now);
void ws_timers_pinged(ws_timers_t *t, apr_time_t now);
void ws_timers_pong(ws_timers_t *t);
void ws_timers_close_sent(ws_timers_t *t, apr_time_t now);

/* 1 if a new one-second window of WebSocketMaxControlRate begins at now
 * (the caller resets its count), else 0. */
int ws_timers_new_control_window(ws_timers_t *t, apr_time_t now);

/* 1 if the connection has been quiet (no input, no message) for longer
 * than quiet: its idle memory may be given back. */
int ws_timers_quiet(const ws_timers_t *t, apr_time_t now,
                    apr_interval_time_t quiet);

/*
 * What is due at now, in this order: while CLOSING, DROP once the peer
 * has not answered our close within close_timeout (500 ms at most when the
 * child stops at once); while OPEN, CLOSE 1001 with the stop reason when
 * the child stops at once or WebSocketGracefulTimeout after a graceful
 * stop began; CLOSE 1001 "idle timeout" after WebSocketIdleTimeout
 * without messages; DROP "ping timeout" when our ping went unanswered for
 * WebSocketPingTimeout; PING after WebSocketPingInterval without input
 * (and no ping outstanding).  RFC 6455 sections 5.5.2 (ping), 7.1.1 and
 * 7.1.7 (closing).
 */
ws_timer_due_t ws_timers_due(ws_timers_t *t, const ws_timer_settings_t *set,
                             ws_timer_phase_e phase,
                             const ws_timer_stop_t *stop, apr_time_t now);

/* The earliest time at which ws_timers_due may find something due, if no
 * event (ws_timers_rx and the others) comes meanwhile: an owner need not
 * look at the connection's timers before then.  0: look now (closing
 * without a close sent yet, or the child stops at once); APR_INT64_MAX:
 * never (no ping, no idle timeout, nothing outstanding). */
apr_time_t ws_timers_next(const ws_timers_t *t, const ws_timer_settings_t *set,
                          ws_timer_phase_e phase, const ws_timer_stop_t *stop);

#endif /* WS_TIMERS_H */
