/* TLS in a build without OpenSSL 3 (meson -Dtls=disabled, or auto not
 * finding it): the same calls exist, so the ABI does not depend on the
 * build, and refuse with -ENOTSUP. No context can exist, so the internal
 * calls only ever see NULL. */
#include <errno.h>

#include "io/tls.h"

static __thread bool refused;

static int no_tls(void)
{
    refused = true;
    return -ENOTSUP;
}

int ringo_tls_new_client(ringo_tls **out, const ringo_tls_opts *opts)
{
    (void)out, (void)opts;
    return no_tls();
}

int ringo_tls_new_server(ringo_tls **out, const ringo_tls_opts *opts)
{
    (void)out, (void)opts;
    return no_tls();
}

void ringo_tls_free(ringo_tls *t) { (void)t; }

ringo_tls *ringo__tls_ref(ringo_tls *t) { return t; }
void ringo__tls_unref(ringo_tls *t) { (void)t; }
bool ringo__tls_is_server(const ringo_tls *t) { (void)t; return false; }

int ringo_open_tls_connection(ringo_stream **out, const char *host, const char *port,
                              ringo_tls *tls, const char *server_hostname)
{
    (void)out, (void)host, (void)port, (void)tls, (void)server_hostname;
    return no_tls();
}

int ringo_stream_start_tls(ringo_stream *s, ringo_tls *tls, const char *server_hostname)
{
    (void)s, (void)tls, (void)server_hostname;
    return no_tls();
}

const char *ringo_stream_alpn(const ringo_stream *s) { (void)s; return NULL; }
const char *ringo_stream_tls_error(const ringo_stream *s) { (void)s; return NULL; }

const char *ringo__tls_last_error(void)
{
    return refused ? "ringo was built without TLS (no OpenSSL 3 found)" : NULL;
}
