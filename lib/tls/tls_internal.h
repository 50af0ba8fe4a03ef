/*
 * tls_internal.h - what the files of lib/tls share: the certificate reader (x509scan.c), the
 * record reader and engine glue (tls.c), the error mapping and texts (explain.c), certificate
 * helpers (certs.c). Never installed; users include mote/tls.h.
 */
#ifndef MOTE_TLS_INTERNAL_H
#define MOTE_TLS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mote/tls.h"

/* What our certificate checker decided on top of BearSSL's own code (struct mote_tls.verdict). */
enum {
    MOTE_TLS_VERDICT_NONE = 0,
    MOTE_TLS_VERDICT_PIN_MISMATCH, /* reported to BearSSL as BR_ERR_X509_NOT_TRUSTED */
    MOTE_TLS_VERDICT_NO_CLOCK,     /* ... as BR_ERR_X509_TIME_UNKNOWN */
    MOTE_TLS_VERDICT_HOSTNAME_IP,  /* ... as BR_ERR_X509_BAD_SERVER_NAME */
    MOTE_TLS_VERDICT_ANCHOR_KEY,   /* BearSSL's BR_ERR_X509_NOT_TRUSTED, for a chain whose last
                                      issuer is named like an anchor: the signature is wrong */
};

/* Which way a certificate's dates failed against the clock (struct mote_tls_scan.date_bad). */
enum {
    MOTE_TLS_DATES_OK = 0,
    MOTE_TLS_DATES_EXPIRED,
    MOTE_TLS_DATES_NOT_YET_VALID,
};

/* 1970-01-01 in BearSSL's day count (days since 0000-01-01, proleptic Gregorian). */
#define MOTE_TLS_UNIX_EPOCH_DAYS 719528u

/* x509scan.c: reads each certificate of the server's chain as BearSSL receives it. */
void mote__tls_scan_chain(struct mote_tls *t);
void mote__tls_scan_cert(struct mote_tls *t);
void mote__tls_scan_bytes(struct mote_tls *t, const uint8_t *buf, size_t len);
void mote__tls_scan_cert_end(struct mote_tls *t);
/* 1 when the server's certificate carries exactly the pinned key. */
int mote__tls_scan_pin_ok(const struct mote_tls *t);

/* Calendar: days since 0000-01-01 <-> year, month, day (years 1..9999). */
uint32_t mote__tls_days_from_civil(uint32_t y, uint32_t m, uint32_t d);
void mote__tls_civil_from_days(uint32_t days, uint32_t *y, uint32_t *m, uint32_t *d);

/* Parses an IPv4 or IPv6 literal; returns its length (4 or 16), or 0 if @p s is not one. */
size_t mote__tls_parse_ip(const char *s, uint8_t out[16]);

/* explain.c: fills t->err from BearSSL's error code and what the checker and readers saw. */
void mote__tls_set_error(struct mote_tls *t, int br_err);
void mote__tls_error(struct mote_error *e, int code, uint8_t layer, int32_t raw);

/* A bounded string builder: never writes past len, always NUL-terminates (len > 0). */
struct mote__tls_out {
    char *buf;
    size_t len;
    size_t used;
};
void mote__tls_put(struct mote__tls_out *o, const char *s);
void mote__tls_put_n(struct mote__tls_out *o, const char *s, size_t n);
void mote__tls_put_u(struct mote__tls_out *o, uint32_t v);
void mote__tls_put_date(struct mote__tls_out *o, uint32_t days);

#endif /* MOTE_TLS_INTERNAL_H */
