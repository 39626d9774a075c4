/* A build without OpenSSL (io/tls_off.c): the TLS calls exist and refuse. */
#include <criterion/criterion.h>
#include <errno.h>

#include "helpers.h"

Test(tls_off, every_call_returns_enotsup)
{
    ringo_tls *t = (ringo_tls *)&t;
    ringo_tls_opts o = { .cert_file = "c.pem", .key_file = "k.pem" };
    cr_assert_eq(ringo_tls_new_client(&t, NULL), -ENOTSUP);
    cr_assert_eq(ringo_tls_new_server(&t, &o), -ENOTSUP);
    cr_assert_eq(ringo_tls_new_client(NULL, NULL), -ENOTSUP);
    cr_assert_eq(t, (ringo_tls *)&t);
    ringo_tls_free(NULL);
}
