/*
 * ws_deflate.c -- permessage-deflate on zlib (see ws_deflate.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "ws_deflate.h"

struct ws_deflate {
    ws_deflate_conf_t conf;
    z_stream inf;
    int inf_live;               /* inflateInit2 done */
    int inf_ended;              /* this message's stream had its final
                                 * block (BFINAL, section 7.2.3.3): only
                                 * our tail may follow */
    z_stream def;               /* with server context takeover only */
    int def_live;
};

static const uint8_t tail[4] = { 0x00, 0x00, 0xff, 0xff };

ws_deflate_t *ws_deflate_create(const ws_deflate_conf_t *conf)
{
    ws_deflate_t *d = calloc(1, sizeof(*d));

    if (d) {
        d->conf = *conf;
    }
    return d;
}

void ws_deflate_destroy(ws_deflate_t *d)
{
    if (!d) {
        return;
    }
    if (d->inf_live) {
        inflateEnd(&d->inf);
    }
    if (d->def_live) {
        deflateEnd(&d->def);
    }
    free(d);
}

/* --- inflate --- */

static int inf_start(ws_deflate_t *d)
{
    if (d->inf_live) {
        return WS_DEFLATE_OK;
    }
    memset(&d->inf, 0, sizeof(d->inf));
    /* Raw deflate (negative bits), the client's window. */
    if (inflateInit2(&d->inf, -d->conf.params.client_max_window_bits)
        != Z_OK) {
        return WS_DEFLATE_NOMEM;
    }
    d->inf_live = 1;
    return WS_DEFLATE_OK;
}

static int inf_run(ws_deflate_t *d, const uint8_t *in, size_t len,
                   ws_deflate_sink_fn sink, void *arg)
{
    uint8_t out[WS_DEFLATE_CHUNK];

    d->inf.next_in = (Bytef *)(uintptr_t)in;
    d->inf.avail_in = (uInt)len;
    do {
        int zr;
        size_t got;

        d->inf.next_out = out;
        d->inf.avail_out = sizeof(out);
        zr = inflate(&d->inf, Z_SYNC_FLUSH);
        if (zr == Z_MEM_ERROR) {
            return WS_DEFLATE_NOMEM;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR && zr != Z_STREAM_END) {
            return WS_DEFLATE_BAD;
        }
        got = sizeof(out) - d->inf.avail_out;
        if (got && sink(arg, out, got) != 0) {
            return WS_DEFLATE_SINK;
        }
        if (zr == Z_STREAM_END) {
            /* A final block (BFINAL): the message's data ends here;
             * anything after it but our tail is not deflate. */
            d->inf_ended = 1;
            inflateReset(&d->inf);
            if (d->inf.avail_in && in != tail) {
                return WS_DEFLATE_BAD;
            }
            break;
        }
        if (zr == Z_BUF_ERROR && got == 0) {
            break;              /* all input taken, nothing more out */
        }
    } while (d->inf.avail_in > 0 || d->inf.avail_out == 0);
    return WS_DEFLATE_OK;
}

int ws_deflate_inflate(ws_deflate_t *d, const uint8_t *in, size_t len,
                       int last, ws_deflate_sink_fn sink, void *arg)
{
    int rv;

    if ((rv = inf_start(d)) != WS_DEFLATE_OK) {
        return rv;
    }
    if (len && d->inf_ended) {
        return WS_DEFLATE_BAD;  /* data after the final block */
    }
    if (len && (rv = inf_run(d, in, len, sink, arg)) != WS_DEFLATE_OK) {
        return rv;
    }
    if (!last) {
        return WS_DEFLATE_OK;
    }
    /* Section 7.2.2: append 0x00 0x00 0xff 0xff and inflate it (not
     * after a final block: the stream is over). */
    if (!d->inf_ended
        && (rv = inf_run(d, tail, sizeof(tail), sink, arg))
           != WS_DEFLATE_OK) {
        return rv;
    }
    d->inf_ended = 0;
    if (d->conf.params.client_no_context_takeover) {
        /* The next message starts afresh: nothing to keep. */
        inflateEnd(&d->inf);
        d->inf_live = 0;
    }
    return WS_DEFLATE_OK;
}

void ws_deflate_inflate_abort(ws_deflate_t *d)
{
    if (d && d->inf_live) {
        inflateEnd(&d->inf);
        d->inf_live = 0;
    }
    if (d) {
        d->inf_ended = 0;
    }
}

/* --- deflate --- */

int ws_deflate_wanted(const ws_deflate_t *d, size_t len)
{
    return d && len >= d->conf.min_size;
}

uint32_t ws_deflate_key(const ws_deflate_t *d)
{
    if (!d || !d->conf.params.server_no_context_takeover) {
        return 0;
    }
    return 0x80000000u | ((uint32_t)d->conf.level << 16)
           | ((uint32_t)d->conf.mem_level << 8)
           | (uint32_t)d->conf.params.server_max_window_bits;
}

/* The calling thread's compressor for server_no_context_takeover. */
typedef struct {
    z_stream zs;
    uint32_t key;               /* the settings it was made with */
} tls_def_t;

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_free(void *p)
{
    tls_def_t *t = p;

    deflateEnd(&t->zs);
    free(t);
}

static void tls_init(void)
{
    pthread_key_create(&tls_key, tls_free);
}

static z_stream *def_stream(ws_deflate_t *d)
{
    const ws_deflate_conf_t *c = &d->conf;
    int bits = c->params.server_max_window_bits;
    uint32_t key = ws_deflate_key(d);
    tls_def_t *t;

    if (!key) {
        if (!d->def_live) {
            memset(&d->def, 0, sizeof(d->def));
            if (deflateInit2(&d->def, c->level, Z_DEFLATED, -bits,
                             c->mem_level, Z_DEFAULT_STRATEGY) != Z_OK) {
                return NULL;
            }
            d->def_live = 1;
        }
        return &d->def;
    }
    pthread_once(&tls_once, tls_init);
    t = pthread_getspecific(tls_key);
    if (t && t->key != key) {
        deflateEnd(&t->zs);
        free(t);
        pthread_setspecific(tls_key, NULL);
        t = NULL;
    }
    if (!t) {
        if (!(t = calloc(1, sizeof(*t)))) {
            return NULL;
        }
        if (deflateInit2(&t->zs, c->level, Z_DEFLATED, -bits, c->mem_level,
                         Z_DEFAULT_STRATEGY) != Z_OK) {
            free(t);
            return NULL;
        }
        t->key = key;
        pthread_setspecific(tls_key, t);
    }
    else {
        deflateReset(&t->zs);
    }
    return &t->zs;
}

int ws_deflate_compress(ws_deflate_t *d, const uint8_t *in, size_t len,
                        uint8_t **out, size_t *olen)
{
    z_stream *zs = def_stream(d);
    size_t cap, n = 0;
    uint8_t *buf;

    if (!zs) {
        return WS_DEFLATE_NOMEM;
    }
    cap = deflateBound(zs, (uLong)len) + 16;
    if (!(buf = malloc(cap))) {
        return WS_DEFLATE_NOMEM;
    }
    zs->next_in = (Bytef *)(uintptr_t)in;
    zs->avail_in = (uInt)len;
    for (;;) {
        int zr;

        zs->next_out = buf + n;
        zs->avail_out = (uInt)(cap - n);
        zr = deflate(zs, Z_SYNC_FLUSH);
        n = cap - zs->avail_out;
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            free(buf);
            return WS_DEFLATE_NOMEM;
        }
        if (zs->avail_in == 0 && zs->avail_out > 0) {
            break;              /* all in, and the flush fitted */
        }
        {
            uint8_t *more = realloc(buf, cap * 2);

            if (!more) {
                free(buf);
                return WS_DEFLATE_NOMEM;
            }
            buf = more;
            cap *= 2;
        }
    }
    /* Section 7.2.1: remove the sync flush's empty block tail. */
    if (n >= 4 && !memcmp(buf + n - 4, tail, 4)) {
        n -= 4;
    }
    if (n == 0) {
        buf[n++] = 0x00;        /* section 7.2.3.6: an empty message */
    }
    *out = buf;
    *olen = n;
    return WS_DEFLATE_OK;
}

void ws_deflate_trim(ws_deflate_t *d)
{
    if (d && d->inf_live && d->conf.params.client_no_context_takeover) {
        inflateEnd(&d->inf);
        d->inf_live = 0;
    }
}

size_t ws_deflate_memory(const ws_deflate_t *d)
{
    size_t m = 0;

    if (!d) {
        return 0;
    }
    if (d->inf_live) {
        m += ((size_t)1 << d->conf.params.client_max_window_bits) + 7160;
    }
    if (d->def_live) {
        m += ((size_t)1 << (d->conf.params.server_max_window_bits + 2))
             + ((size_t)1 << (d->conf.mem_level + 9)) + 5816;
    }
    return m;
}
