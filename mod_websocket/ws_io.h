/*
 * ws_io.h -- how bytes move between the network and a session.
 *
 * Owns: the connection's side of a session (ws_io_t, in the connection's
 * pool): reading through httpd's input filters without blocking and within
 * a budget, the output brigade and writing it without blocking, closing
 * the connection httpd's way, and the two ways to run a connection: on its
 * own thread (ws_io_run_thread) or a turn at a time for an event loop
 * (ws_io_turn and friends, called by ws_loop).  Also stopping a prefork
 * child safely while a WebSocket runs on it.
 *
 * Must not: interpret WebSocket bytes (the session's engine does), know
 * event loops (they call in), or touch handler state.
 */
#ifndef WS_IO_H
#define WS_IO_H

#include "apr_time.h"
#include "httpd.h"

#include "ws_session.h"

typedef struct ws_io ws_io_t;

/* child_init: what stopping a prefork child needs. */
void ws_io_child_init(apr_pool_t *pchild);

/* Under prefork, from before on_open until the WebSocket has ended on
 * this thread: SIGTERM and SIGHUP (httpd's immediate stop and restart,
 * whose handler runs the child's cleanups inside the signal) only make
 * the connection close with 1001 in normal context; release restores
 * httpd's handlers and, if such a signal came, raises it again (and so
 * does not return).  No-ops under other MPMs. */
void ws_io_stop_signals_catch(void);
void ws_io_stop_signals_release(void);

/* After the 101: c carries ws from now on.  The io state lives in
 * c->pool and holds a reference to ws until that pool goes; the session
 * ends (on_close) if the pool goes first. */
ws_io_t *ws_io_create(ws_session_t *ws, conn_rec *c);

/* post_config: find mod_logio's byte count (plain connections are read
 * from the socket, not through its filter, once the core filter holds
 * nothing; what is read is still counted). */
void ws_io_post_config(void);

ws_session_t *ws_io_session(const ws_io_t *io);
conn_rec *ws_io_conn(const ws_io_t *io);

/* Own-thread mode: run the connection on the calling thread until it
 * ends (its session ENDED, its output written as far as it goes). */
void ws_io_run_thread(ws_io_t *io);

/* --- event loops (the loop's thread) --------------------------------- */

/* The loop takes the connection (owner: the loop; slot: its record) and
 * runs its first turn.  Each returns 1 to keep the connection, 0 when it
 * may be released. */
int ws_io_adopted(ws_io_t *io, ws_owner_t *owner, void *slot,
                  apr_time_t now);
/* A turn: read if readable (or input was left over), mail, timers,
 * write -- or, with push_now 0, leave the writing to the caller's
 * ws_io_push later in its round (a loop writes after every turn of the
 * round: a client gets its answers together, with fewer wake-ups). */
int ws_io_turn(ws_io_t *io, int readable, apr_time_t now, int push_now);
/* A timer tick (every WS_TIMER_TICK_MS): a turn without input, and idle
 * memory given back. */
int ws_io_tick(ws_io_t *io, apr_time_t now);
/* After a tick: the earliest time the next tick may have something to do
 * if nothing happens on the connection meanwhile (its timers, a pending
 * trim, a lingering close): 0 for the next tick. */
apr_time_t ws_io_next_tick(const ws_io_t *io, apr_time_t now);
/* The output of the last turn was not all written: wait for
 * writability. */
int ws_io_wants_write(const ws_io_t *io);
/* Input is wanted: not while WS_READ_PAUSE bytes of output wait for a
 * peer that does not read them (the owner polls for writability only). */
int ws_io_wants_read(const ws_io_t *io);
/* The last turn stopped at its read budget: come back next round. */
int ws_io_busy(const ws_io_t *io);
/* Closed and drained: no more polling, only ticks until released. */
int ws_io_drained(const ws_io_t *io);
/* The socket to poll. */
int ws_io_fd(const ws_io_t *io);
/* The owner's thread, for a session ws of this loop that got output from
 * another session's callback: write it now. */
void ws_io_push(ws_io_t *io);
/* The child stops at once: close with 1001, best effort. */
void ws_io_goodbye(ws_io_t *io);
/* The loop is exiting: goodbye, and the session ends (on_close). */
void ws_io_finish_now(ws_io_t *io);
/* Destroy the connection (its pool: the socket, mpm_event's counts). */
void ws_io_release(ws_io_t *io);

#endif /* WS_IO_H */
