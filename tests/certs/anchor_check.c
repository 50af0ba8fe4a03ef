/*
 * anchor_check.c - proves a header from `mote certs embed` is right: BearSSL's br_x509_minimal,
 * given only MOTE_TRUST_ANCHORS, verifies a certificate chain for a server name, and the key it
 * extracts equals MOTE_PINNED_KEY. Built by tests/certs/test.sh against each generated header:
 *   cc -DMOTE_CERTS_HEADER='"mote_ca.h"' anchor_check.c -lbearssl
 *   anchor_check NAME EXPECT CHAIN.pem   EXPECT: 0 (verified), or a BR_ERR_X509_* number
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include MOTE_CERTS_HEADER

/* PEM blocks of a file, decoded with BearSSL's own decoder: DER certificates in order. */
struct der {
    unsigned char *data;
    size_t len, cap;
};

static struct der certs[8];
static size_t ncerts;
static struct der *current;

static void append(void *ctx, const void *p, size_t n)
{
    struct der *d = ctx;
    if (d->len + n > d->cap) {
        d->cap = (d->len + n) * 2;
        d->data = realloc(d->data, d->cap);
        if (!d->data) {
            perror("realloc");
            exit(2);
        }
    }
    memcpy(d->data + d->len, p, n);
    d->len += n;
}

static int read_pem(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    static unsigned char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    br_pem_decoder_context pc;
    br_pem_decoder_init(&pc);
    size_t off = 0;
    while (off < len) {
        off += br_pem_decoder_push(&pc, buf + off, len - off);
        switch (br_pem_decoder_event(&pc)) {
        case BR_PEM_BEGIN_OBJ:
            if (!strcmp(br_pem_decoder_name(&pc), "CERTIFICATE") && ncerts < 8) {
                current = &certs[ncerts++];
                br_pem_decoder_setdest(&pc, append, current);
            } else {
                br_pem_decoder_setdest(&pc, NULL, NULL);
            }
            break;
        case BR_PEM_END_OBJ:
            current = NULL;
            break;
        case BR_PEM_ERROR:
            fprintf(stderr, "%s: bad PEM\n", path);
            return -1;
        default:
            break;
        }
    }
    return ncerts ? 0 : -1;
}

/* 1: k is MOTE_PINNED_KEY; 0: it is not; -1: the header has no pin. */
static int same_key(const br_x509_pkey *k)
{
#ifdef MOTE_SERVER_PIN_KEYTYPE
    const br_x509_pkey *pin = &MOTE_PINNED_KEY;
    if (k->key_type != pin->key_type)
        return 0;
    if (k->key_type == BR_KEYTYPE_EC)
        return k->key.ec.curve == pin->key.ec.curve && k->key.ec.qlen == pin->key.ec.qlen &&
               !memcmp(k->key.ec.q, pin->key.ec.q, pin->key.ec.qlen);
    /* BearSSL may keep leading zero bytes of n; the header has none. */
    const unsigned char *n = k->key.rsa.n;
    size_t nlen = k->key.rsa.nlen;
    while (nlen > 0 && !*n)
        n++, nlen--;
    return nlen == pin->key.rsa.nlen && !memcmp(n, pin->key.rsa.n, nlen) &&
           k->key.rsa.elen == pin->key.rsa.elen &&
           !memcmp(k->key.rsa.e, pin->key.rsa.e, pin->key.rsa.elen);
#else
    (void)k;
    return -1;
#endif
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: anchor_check NAME EXPECT CHAIN.pem\n");
        return 2;
    }
    const char *name = argv[1];
    int expect = atoi(argv[2]);
    if (read_pem(argv[3]))
        return 2;

    br_x509_minimal_context xc;
    br_x509_minimal_init_full(&xc, MOTE_TRUST_ANCHORS, MOTE_TRUST_ANCHORS_NUM);
    const br_x509_class **v = &xc.vtable;
    (*v)->start_chain(v, name);
    for (size_t i = 0; i < ncerts; i++) {
        (*v)->start_cert(v, (uint32_t)certs[i].len);
        (*v)->append(v, certs[i].data, certs[i].len);
        (*v)->end_cert(v);
    }
    int err = (int)(*v)->end_chain(v);
    if (err != expect) {
        fprintf(stderr, "anchor_check: %s for '%s': BearSSL says %d, expected %d\n", argv[3], name,
                err, expect);
        return 1;
    }
    if (err == 0) {
        unsigned usages = 0;
        const br_x509_pkey *k = (*v)->get_pkey(v, &usages);
        if (!k || !(usages & BR_KEYTYPE_SIGN)) {
            fprintf(stderr, "anchor_check: no signing key (usages 0x%x)\n", usages);
            return 1;
        }
        int pin = same_key(k);
        if (pin == 0) {
            fprintf(stderr, "anchor_check: the chain's key differs from MOTE_PINNED_KEY\n");
            return 1;
        }
        printf("anchor_check: %s verified for '%s' by MOTE_TRUST_ANCHORS (%u certificate%s)%s\n",
               argv[3], name, (unsigned)ncerts, ncerts > 1 ? "s" : "",
               pin > 0 ? "; its key equals the pin" : "");
    } else {
        printf("anchor_check: %s for '%s' rejected as expected (BearSSL error %d)\n", argv[3], name,
               err);
    }
    for (size_t i = 0; i < ncerts; i++)
        free(certs[i].data);
    return 0;
}
