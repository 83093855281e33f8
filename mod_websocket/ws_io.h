/*
 * ws_io.h -- how bytes move between the network and a session.
 *
 * Owns: reading from the connection's input filters, writing the output
 * brigade, waiting for input or mail, and the closing timeout.  It reads
 * through c->input_filters with non-blocking reads until EAGAIN, so bytes
 * that mod_ssl has already decrypted are never left behind while waiting on
 * the socket.
 *
 * This version runs a connection on the thread that accepted the upgrade,
 * for its whole life (the model of every Apache WebSocket module so far);
 * parking connections under mpm_event is the next step and only replaces
 * ws_io_run().
 */
#ifndef WS_IO_H
#define WS_IO_H

#include "ws_session.h"

/* How long to wait for the peer's close frame after sending ours. */
#define WS_CLOSE_TIMEOUT apr_time_from_sec(5)

/* Run the session on the calling thread until the connection ends.  The
 * session's engine has been started; on return the handler's on_close has
 * been called. */
void ws_io_run(ws_session_t *ws);

#endif /* WS_IO_H */
