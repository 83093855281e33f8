/*
 * ws_private.h -- what every httpd-facing file of mod_websocket shares:
 * the module declaration for logging and the log tag convention.
 *
 * Log tags: every message at debug level or above carries a tag of our own,
 * "WSnnnnn", unique per call site and never reused (httpd's AHnnnnn numbers
 * are httpd's).  The next free number is in docs/INTERNALS.md.
 */
#ifndef WS_PRIVATE_H
#define WS_PRIVATE_H

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"

/* mod_websocket.c declares the module itself (AP_DECLARE_MODULE does what
 * APLOG_USE_MODULE does). */
#ifndef WS_MAIN_FILE
APLOG_USE_MODULE(websocket);
#endif

extern module AP_MODULE_DECLARE_DATA websocket_module;

/* The module's version, as the startup line and the status page say it. */
#define WS_MODULE_VERSION "0.1.0"

/* "WS00012: " -- the tag prefix of a log message. */
#define WSLOGNO(n) "WS" #n ": "

#endif /* WS_PRIVATE_H */
