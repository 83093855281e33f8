/*
 * ws_api.h -- the ws_api_t table handed to every handler's init (see
 * ws_api.c and the public ws_plugin_api.h).
 */
#ifndef WS_API_H
#define WS_API_H

#include "ws_plugin_api.h"

extern const ws_api_t ws_api;

#endif /* WS_API_H */
