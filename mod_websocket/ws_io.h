/*
 * ws_io.h -- how bytes move between the network and a session: parked
 * under mpm_event, or on the connection's own thread (see ws_io.c).
 */
#ifndef WS_IO_H
#define WS_IO_H

#include "ws_session.h"

/* Register the kick filter (from register_hooks). */
void ws_io_register_hooks(void);

/* 1 if connections are parked between events in this process. */
int ws_io_can_park(void);

/* After the 101: run the session.  Returns 1 if it was handed to mpm_event
 * (the request ends now; process_connection continues), 0 if it ran on
 * this thread and is over. */
int ws_io_run(ws_session_t *ws, request_rec *r);

/* PARKED, lock held: give the connection's cached memory back (the timer
 * does this once a connection has been idle for WS_TRIM_AFTER). */
#define WS_TRIM_AFTER apr_time_from_sec(1)
void ws_io_trim(ws_session_t *ws);

/* The process_connection and pre_close_connection hooks. */
int ws_io_process_connection(conn_rec *c);
int ws_io_pre_close(conn_rec *c);

#endif /* WS_IO_H */
