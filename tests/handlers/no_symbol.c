/*
 * no_symbol.c -- a test-only shared object that is not a handler: it has
 * no `ws_handler` symbol, so WebSocketLoadHandler must refuse it at
 * configtest, naming the missing symbol.
 */
#include "ws_plugin_api.h"

__attribute__((visibility("default"))) int not_a_handler = 1;
