/* One TLS connection's SSL, made from a context for the stream layer: the
 * names it checks, the side it plays, and the words and errno of a failure.
 * The stream layer drives it (BIOs, handshake, records); nothing here does
 * I/O. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "io/tls.h"

/* A client checks the certificate against the name it meant to reach. An
 * address goes in the IP check only: SNI carries host names, never
 * addresses (RFC 6066). */
static int client_names(SSL *ssl, const char *name)
{
    if (!name || !*name)
        return 0;
    unsigned char addr[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) != 1)
            return ringo__tls_fail(-EINVAL, "server_hostname %s", name);
        return 0;
    }
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set_tlsext_host_name(ssl, name) != 1 || SSL_set1_host(ssl, name) != 1)
        return ringo__tls_fail(-EINVAL, "server_hostname '%.300s'", name);
    return 0;
}

int ringo__tls_ssl_new(ringo_tls *t, const char *server_hostname, SSL **out)
{
    if (!t || !out || (t->server && server_hostname))
        return ringo__tls_fail(-EINVAL, "ssl_new: %s", !t || !out ? "NULL argument"
                                                     : "a server takes no server_hostname");
    ERR_clear_error();
    SSL *ssl = SSL_new(t->ctx);
    if (!ssl)
        return ringo__tls_fail(-ENOMEM, "SSL_new");
    int ret = t->server ? 0 : client_names(ssl, server_hostname);
    if (ret < 0) {
        SSL_free(ssl);
        return ret;
    }
    if (t->server)
        SSL_set_accept_state(ssl);
    else
        SSL_set_connect_state(ssl);
    *out = ssl;
    ringo__tls_ref(t);
    return 0;
}

void ringo__tls_ssl_free(SSL *ssl)
{
    if (!ssl)
        return;
    ringo_tls *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    SSL_free(ssl);
    ringo__tls_unref(t);
}

/* Reasons that say a certificate was refused: by our verification, or by
 * the peer's, which tells us with an alert. */
static bool cert_reason(unsigned long e)
{
    if (!e || ERR_GET_LIB(e) != ERR_LIB_SSL)
        return false;
    switch (ERR_GET_REASON(e)) {
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
        return true;
    default:
        return false;
    }
}

int ringo__tls_failure(const SSL *ssl, char *buf, size_t cap)
{
    if (!cap)
        return -EPROTO;
    buf[0] = '\0';
    long vr = SSL_get_verify_result(ssl);
    if (vr != X509_V_OK && (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER)) {
        /* The queue only repeats "certificate verify failed". */
        snprintf(buf, cap, "certificate verify failed: %s", X509_verify_cert_error_string(vr));
        ERR_clear_error();
        return -EKEYREJECTED;
    }
    int err = cert_reason(ERR_peek_error()) || cert_reason(ERR_peek_last_error()) ? -EKEYREJECTED
                                                                                  : -EPROTO;
    ringo__tls_drain(buf, cap);
    if (!buf[0])
        snprintf(buf, cap, "TLS failed with no reason from OpenSSL (the connection broke)");
    return err;
}
