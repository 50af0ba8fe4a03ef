/*
 * tls_record.c - the TLS record layer of a connection past its handshake (tls_record.h says why).
 *
 * RFC 8446 section 5 (TLS 1.3 records, nonces, KeyUpdate), RFC 5246 section 6 and RFC 5288 (TLS
 * 1.2 AES-GCM: 4-byte implicit salt, 8-byte explicit nonce), RFC 7905 (ChaCha20-Poly1305 in both
 * versions: the IV XOR the sequence number). The keys come from OpenSSL: TLS 1.3 traffic secrets
 * through the key log callback, expanded here with HKDF-Expand-Label; the TLS 1.2 key block from
 * the session's master secret with the TLS PRF.
 */
#define _GNU_SOURCE
#include "tls_record.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/tls1.h>

#include "broker.h"

#define REC_HDR 5
#define MAX_PLAIN 16384
#define MAX_CIPHER (MAX_PLAIN + 256) /* what a peer may send (TLS 1.3's bound; 1.2 allows 2048) */
#define TAG_LEN 16
#define SCRATCH_CAP (64 * 1024 + MAX_CIPHER + REC_HDR)

enum { AES128GCM, AES256GCM, CHACHA };

struct moted_tls_rl {
    uint8_t version; /* 12 or 13 */
    uint8_t cipher;  /* AES128GCM, AES256GCM, CHACHA */
    uint8_t key_len, iv_len, hash_len;
    uint8_t closed; /* close_notify seen */
    uint16_t max_frag;
    uint64_t seq_r, seq_w;
    uint8_t key_r[32], key_w[32];
    uint8_t iv_r[12], iv_w[12];
    uint8_t secret_r[48], secret_w[48]; /* TLS 1.3: for KeyUpdate */
    /* While not idle only: */
    uint8_t *in; /* a partial record from the socket */
    uint32_t in_len;
    uint8_t *plain; /* opened bytes the caller had no room for */
    uint32_t plain_off, plain_len;
    uint8_t *out;                         /* the unsent rest of a sealed record */
    uint32_t out_off, out_len, out_plain; /* out_plain: the plaintext it carries */
    uint8_t pending_ku; /* a KeyUpdate (update_not_requested) to send before the next data */
};

/* Fetched once: OpenSSL 3 looks an algorithm up in its providers at every implicit fetch, which
 * costs more than sealing a small record. Shared by all threads (they are reference counted). */
static EVP_CIPHER *ciphers[3];
static EVP_KDF *hkdf, *prf;
static pthread_once_t fetched = PTHREAD_ONCE_INIT;

static void fetch_all(void)
{
    ciphers[AES128GCM] = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
    ciphers[AES256GCM] = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    ciphers[CHACHA] = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
    hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    prf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
}

/* Per thread: one cipher context, rekeyed for every record, and one buffer. */
static __thread EVP_CIPHER_CTX *tctx;
static __thread uint8_t *scratch;

void moted__tls_rl_thread_done(void)
{
    EVP_CIPHER_CTX_free(tctx);
    tctx = NULL;
    moted__free(scratch);
    scratch = NULL;
}

size_t moted__tls_rl_idle_size(void)
{
    return sizeof(struct moted_tls_rl);
}

static int thread_setup(void)
{
    pthread_once(&fetched, fetch_all);
    if (!ciphers[AES128GCM] || !ciphers[AES256GCM] || !ciphers[CHACHA] || !hkdf || !prf)
        return -1;
    if (!tctx && !(tctx = EVP_CIPHER_CTX_new()))
        return -1;
    if (!scratch && !(scratch = moted__malloc(SCRATCH_CAP)))
        return -1;
    return 0;
}

static const EVP_CIPHER *cipher_of(const struct moted_tls_rl *rl)
{
    return ciphers[rl->cipher];
}

/* ---------------------------------------------------------------------------------------------
 * Keys
 * ------------------------------------------------------------------------------------------- */

static const char *digest_of(const struct moted_tls_rl *rl)
{
    return rl->hash_len == 48 ? "SHA384" : "SHA256";
}

/* RFC 8446 7.1: HKDF-Expand-Label(secret, label, "", len). */
static int expand_label(const struct moted_tls_rl *rl, const uint8_t *secret, const char *label,
                        uint8_t *out, size_t len)
{
    uint8_t info[2 + 1 + 6 + 32 + 1];
    size_t ll = strlen(label), n = 0;
    EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(hkdf);
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY, ok;
    OSSL_PARAM params[5];
    info[n++] = (uint8_t)(len >> 8);
    info[n++] = (uint8_t)len;
    info[n++] = (uint8_t)(6 + ll);
    memcpy(info + n, "tls13 ", 6);
    n += 6;
    memcpy(info + n, label, ll);
    n += ll;
    info[n++] = 0; /* empty context */
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest_of(rl), 0);
    params[1] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, rl->hash_len);
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n);
    params[4] = OSSL_PARAM_construct_end();
    ok = kctx && EVP_KDF_derive(kctx, out, len, params) == 1;
    EVP_KDF_CTX_free(kctx);
    return ok ? 0 : -1;
}

static int keys13(struct moted_tls_rl *rl, int write)
{
    const uint8_t *secret = write ? rl->secret_w : rl->secret_r;
    return expand_label(rl, secret, "key", write ? rl->key_w : rl->key_r, rl->key_len) ||
           expand_label(rl, secret, "iv", write ? rl->iv_w : rl->iv_r, 12);
}

/* RFC 5246 6.3: the key block from the master secret (AEAD suites: keys and IVs only). */
static int keys12(struct moted_tls_rl *rl, SSL *ssl)
{
    uint8_t master[48], seed[13 + 64], block[2 * 32 + 2 * 12];
    size_t mlen = SSL_SESSION_get_master_key(SSL_get_session(ssl), master, sizeof master);
    size_t blen = 2u * rl->key_len + 2u * rl->iv_len;
    EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(prf);
    OSSL_PARAM params[4];
    int ok;
    memcpy(seed, "key expansion", 13);
    if (mlen != 48 || SSL_get_server_random(ssl, seed + 13, 32) != 32 ||
        SSL_get_client_random(ssl, seed + 45, 32) != 32) {
        EVP_KDF_CTX_free(kctx);
        return -1;
    }
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest_of(rl), 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, master, mlen);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed, sizeof seed);
    params[3] = OSSL_PARAM_construct_end();
    ok = kctx && EVP_KDF_derive(kctx, block, blen, params) == 1;
    EVP_KDF_CTX_free(kctx);
    OPENSSL_cleanse(master, sizeof master);
    if (!ok)
        return -1;
    /* client write key, server write key, client IV, server IV; we are the server */
    memcpy(rl->key_r, block, rl->key_len);
    memcpy(rl->key_w, block + rl->key_len, rl->key_len);
    memcpy(rl->iv_r, block + 2 * rl->key_len, rl->iv_len);
    memcpy(rl->iv_w, block + 2 * rl->key_len + rl->iv_len, rl->iv_len);
    OPENSSL_cleanse(block, sizeof block);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Sealing and opening one record
 * ------------------------------------------------------------------------------------------- */

static void nonce_of(const struct moted_tls_rl *rl, const uint8_t *iv, uint64_t seq,
                     const uint8_t *explicit_nonce, uint8_t nonce[12])
{
    if (rl->version == 12 && rl->cipher != CHACHA) { /* salt || explicit nonce */
        memcpy(nonce, iv, 4);
        memcpy(nonce + 4, explicit_nonce, 8);
        return;
    }
    memcpy(nonce, iv, 12);
    for (int i = 0; i < 8; i++)
        nonce[11 - i] ^= (uint8_t)(seq >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* AEAD: seal (enc) or open in place. Returns 0, or -1 (open: the tag does not match). */
static int aead(const struct moted_tls_rl *rl, int enc, const uint8_t *key, const uint8_t nonce[12],
                const uint8_t *aad, size_t aad_len, uint8_t *data, size_t len, uint8_t *tag)
{
    int n = 0;
    if (EVP_CipherInit_ex(tctx, cipher_of(rl), NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(tctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) != 1 ||
        EVP_CipherInit_ex(tctx, NULL, NULL, key, nonce, enc) != 1 ||
        EVP_CipherUpdate(tctx, NULL, &n, aad, (int)aad_len) != 1 ||
        (len && EVP_CipherUpdate(tctx, data, &n, data, (int)len) != 1))
        return -1;
    if (!enc && EVP_CIPHER_CTX_ctrl(tctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, tag) != 1)
        return -1;
    if (EVP_CipherFinal_ex(tctx, data + len, &n) != 1)
        return -1;
    if (enc && EVP_CIPHER_CTX_ctrl(tctx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, tag) != 1)
        return -1;
    return 0;
}

/* Seals `len` bytes of content type `type` into out (header included). Returns its size. */
static size_t seal(struct moted_tls_rl *rl, uint8_t type, const uint8_t *in, size_t len,
                   uint8_t *out)
{
    uint8_t nonce[12], aad[13], *body = out + REC_HDR;
    size_t body_len, plain_len = len;
    if (rl->version == 13) {
        memcpy(body, in, len);
        body[len] = type; /* TLSInnerPlaintext: content, type, no padding */
        plain_len = len + 1;
        body_len = plain_len + TAG_LEN;
        out[0] = 23;
    } else {
        size_t explicit_len = rl->cipher == CHACHA ? 0 : 8;
        if (explicit_len)
            put_u64(body, rl->seq_w);
        body += explicit_len;
        memcpy(body, in, len);
        body_len = explicit_len + len + TAG_LEN;
        out[0] = type;
    }
    out[1] = 3;
    out[2] = 3;
    out[3] = (uint8_t)(body_len >> 8);
    out[4] = (uint8_t)body_len;
    if (rl->version == 13) {
        memcpy(aad, out, REC_HDR);
        nonce_of(rl, rl->iv_w, rl->seq_w, NULL, nonce);
        aead(rl, 1, rl->key_w, nonce, aad, REC_HDR, body, plain_len, body + plain_len);
    } else {
        put_u64(aad, rl->seq_w);
        aad[8] = type;
        aad[9] = 3;
        aad[10] = 3;
        aad[11] = (uint8_t)(len >> 8);
        aad[12] = (uint8_t)len;
        nonce_of(rl, rl->iv_w, rl->seq_w, out + REC_HDR, nonce);
        aead(rl, 1, rl->key_w, nonce, aad, sizeof aad, body, len, body + len);
    }
    rl->seq_w++;
    return REC_HDR + body_len;
}

/* Opens the record at rec (header included, `total` bytes). Returns the content length (the
 * content starts at *content), or -1 with *why. *type gets the content type. */
static long open_record(struct moted_tls_rl *rl, uint8_t *rec, size_t total, uint8_t **content,
                        uint8_t *type, const char **why)
{
    uint8_t nonce[12], aad[13], *body = rec + REC_HDR;
    size_t body_len = total - REC_HDR, len;
    if (rl->version == 13) {
        if (rec[0] != 23 || body_len < TAG_LEN + 1) {
            *why = "TLS record error (not an encrypted record after the handshake)";
            return -1;
        }
        len = body_len - TAG_LEN;
        nonce_of(rl, rl->iv_r, rl->seq_r, NULL, nonce);
        if (aead(rl, 0, rl->key_r, nonce, rec, REC_HDR, body, len, body + len)) {
            *why = "TLS record error (bad record mac): the data was changed on the way, or the "
                   "client's TLS stack is broken";
            return -1;
        }
        while (len && body[len - 1] == 0) /* padding */
            len--;
        if (!len) {
            *why = "TLS record error (a record without a content type)";
            return -1;
        }
        *type = body[--len];
    } else {
        size_t explicit_len = rl->cipher == CHACHA ? 0 : 8;
        if (body_len < explicit_len + TAG_LEN) {
            *why = "TLS record error (a record too short for its cipher)";
            return -1;
        }
        len = body_len - explicit_len - TAG_LEN;
        put_u64(aad, rl->seq_r);
        aad[8] = rec[0];
        aad[9] = rec[1];
        aad[10] = rec[2];
        aad[11] = (uint8_t)(len >> 8);
        aad[12] = (uint8_t)len;
        nonce_of(rl, rl->iv_r, rl->seq_r, body, nonce);
        body += explicit_len;
        if (aead(rl, 0, rl->key_r, nonce, aad, sizeof aad, body, len, body + len)) {
            *why = "TLS record error (bad record mac): the data was changed on the way, or the "
                   "client's TLS stack is broken";
            return -1;
        }
        *type = rec[0];
    }
    if (len > MAX_PLAIN) {
        *why = "TLS record error (record overflow)";
        return -1;
    }
    rl->seq_r++;
    *content = body;
    return (long)len;
}

/* ---------------------------------------------------------------------------------------------
 * Taking over from OpenSSL
 * ------------------------------------------------------------------------------------------- */

/* Whether the record at rec (n bytes, header included) opens with rl's write keys at sequence
 * seq: one OpenSSL sealed with the keys we derived. Uses the thread's buffer (n <= its size). */
static int sealed_with_our_keys(const struct moted_tls_rl *rl, const uint8_t *rec, size_t n,
                                uint64_t seq)
{
    struct moted_tls_rl probe = *rl; /* the read side's machinery with the write keys */
    uint8_t *content, type;
    const char *why;
    int ok;
    memcpy(probe.key_r, rl->key_w, sizeof probe.key_r);
    memcpy(probe.iv_r, rl->iv_w, sizeof probe.iv_r);
    probe.seq_r = seq;
    memcpy(scratch, rec, n);
    ok = open_record(&probe, scratch, n, &content, &type, &why) >= 0;
    OPENSSL_cleanse(&probe, sizeof probe);
    return ok;
}

/* Walks the records of `written`; *last gets the offset of the last one. -1 if it does not
 * parse as whole records. */
static int walk_records(const uint8_t *written, size_t wlen, size_t *last)
{
    size_t off = 0;
    *last = 0;
    while (off + REC_HDR <= wlen) {
        size_t rec_len = (size_t)written[off + 3] << 8 | written[off + 4];
        if (off + REC_HDR + rec_len > wlen || rec_len > MAX_CIPHER)
            return -1;
        *last = off;
        off += REC_HDR + rec_len;
    }
    return off == wlen ? 0 : -1;
}

/* How many records at the end of `written` open with the server's write keys, from sequence 0:
 * those OpenSSL sealed with the traffic keys (TLS 1.3 session tickets). -1 if the stream does
 * not parse, or has records of ours before others. */
static long count_sealed(const struct moted_tls_rl *rl, const uint8_t *written, size_t wlen)
{
    long count = 0;
    size_t last;
    if (walk_records(written, wlen, &last))
        return -1;
    for (size_t off = 0; off + REC_HDR <= wlen;) {
        size_t n = REC_HDR + ((size_t)written[off + 3] << 8 | written[off + 4]);
        if (written[off] == 23) {
            if (sealed_with_our_keys(rl, written + off, n, (uint64_t)count))
                count++;
            else if (count) /* sealed records are the last ones: a gap is not ours */
                return -1;
        }
        off += n;
    }
    return count;
}

struct moted_tls_rl *moted__tls_rl_take(SSL *ssl, const struct moted_tls_secrets *sec,
                                        const uint8_t *written, size_t wlen, const char **why)
{
    const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
    uint16_t id = c ? SSL_CIPHER_get_protocol_id(c) : 0;
    int v = SSL_version(ssl);
    struct moted_tls_rl *rl;
    uint8_t mfl;

    if (thread_setup()) {
        *why = "out of memory";
        return NULL;
    }
    if (SSL_has_pending(ssl)) {
        *why = "the client's data was already read";
        return NULL;
    }
    rl = moted__calloc(1, sizeof *rl);
    if (!rl) {
        *why = "out of memory";
        return NULL;
    }
    switch (id) {
    case 0x1301:
    case 0xC02B:
    case 0xC02F: /* AES-128-GCM */
        rl->cipher = AES128GCM, rl->key_len = 16, rl->hash_len = 32;
        break;
    case 0x1302:
    case 0xC02C:
    case 0xC030: /* AES-256-GCM */
        rl->cipher = AES256GCM, rl->key_len = 32, rl->hash_len = 48;
        break;
    case 0x1303:
    case 0xCCA8:
    case 0xCCA9: /* ChaCha20-Poly1305 */
        rl->cipher = CHACHA, rl->key_len = 32, rl->hash_len = 32;
        break;
    default:
        *why = "a suite other than AES-GCM or ChaCha20-Poly1305";
        moted__free(rl);
        return NULL;
    }
    mfl = SSL_SESSION_get_max_fragment_length(SSL_get_session(ssl));
    rl->max_frag = mfl >= 1 && mfl <= 4 ? (uint16_t)(256u << mfl) : MAX_PLAIN;
    if (v == TLS1_3_VERSION) {
        long sealed;
        rl->version = 13;
        rl->iv_len = 12;
        if (sec->client_len != rl->hash_len || sec->server_len != rl->hash_len) {
            *why = "no traffic secrets";
            goto no;
        }
        memcpy(rl->secret_r, sec->client, rl->hash_len);
        memcpy(rl->secret_w, sec->server, rl->hash_len);
        if (keys13(rl, 0) || keys13(rl, 1)) {
            *why = "key derivation failed";
            goto no;
        }
        sealed = count_sealed(rl, written, wlen);
        if (sealed < 0) {
            *why = "what the handshake wrote does not parse";
            goto no;
        }
        rl->seq_w = (uint64_t)sealed; /* the session tickets */
        rl->seq_r = 0;
    } else if (v == TLS1_2_VERSION) {
        rl->version = 12;
        rl->iv_len = rl->cipher == CHACHA ? 12 : 4;
        if (keys12(rl, ssl)) {
            *why = "key derivation failed";
            goto no;
        }
        /* The Finished messages were each side's record 0 under these keys. Ours is the last
         * record written: it must open at sequence 0. */
        size_t last;
        if (walk_records(written, wlen, &last)) {
            *why = "what the handshake wrote does not parse";
            goto no;
        }
        if (wlen < REC_HDR || wlen - last > REC_HDR + 256 || written[last] != 22) {
            *why = "our Finished is not where it should be";
            goto no;
        }
        if (!sealed_with_our_keys(rl, written + last, wlen - last, 0)) {
            *why = "our Finished does not open with the derived keys";
            goto no;
        }
        rl->seq_w = 1;
        rl->seq_r = 1;
    } else {
        *why = "a TLS version other than 1.2 or 1.3";
        goto no;
    }
    return rl;
no:
    OPENSSL_cleanse(rl, sizeof *rl);
    moted__free(rl);
    return NULL;
}

struct moted_tls_rl *moted__tls_rl_raw(int version, int suite, const uint8_t *key_r,
                                       const uint8_t *iv_r, const uint8_t *key_w,
                                       const uint8_t *iv_w, const uint8_t *secret_r,
                                       const uint8_t *secret_w, uint16_t max_frag)
{
    struct moted_tls_rl *rl;
    if (thread_setup() || !(rl = moted__calloc(1, sizeof *rl)))
        return NULL;
    rl->version = version == 13 ? 13 : 12;
    rl->cipher = suite == 1 ? AES256GCM : suite == 2 ? CHACHA : AES128GCM;
    rl->key_len = rl->cipher == AES128GCM ? 16 : 32;
    rl->hash_len = rl->cipher == AES256GCM ? 48 : 32;
    rl->iv_len = rl->version == 13 || rl->cipher == CHACHA ? 12 : 4;
    rl->max_frag = max_frag ? max_frag : MAX_PLAIN;
    memcpy(rl->key_r, key_r, rl->key_len);
    memcpy(rl->key_w, key_w, rl->key_len);
    memcpy(rl->iv_r, iv_r, rl->iv_len);
    memcpy(rl->iv_w, iv_w, rl->iv_len);
    memcpy(rl->secret_r, secret_r, rl->hash_len);
    memcpy(rl->secret_w, secret_w, rl->hash_len);
    return rl;
}

size_t moted__tls_rl_seal(struct moted_tls_rl *rl, uint8_t type, const uint8_t *in, size_t len,
                          uint8_t *out)
{
    return thread_setup() ? 0 : seal(rl, type, in, len, out);
}

/* ---------------------------------------------------------------------------------------------
 * The transport
 * ------------------------------------------------------------------------------------------- */

/* Sends what `out` holds. 1 all sent, 0 not yet, -1 failed. */
static int send_out(struct moted_tls_rl *rl, int fd)
{
    while (rl->out_off < rl->out_len) {
        ssize_t n = send(fd, rl->out + rl->out_off, rl->out_len - rl->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        rl->out_off += (uint32_t)n;
    }
    moted__free(rl->out);
    rl->out = NULL;
    rl->out_off = rl->out_len = 0;
    return 1;
}

/* Keeps the unsent part of sealed bytes (a record cut by the socket) for the next call. */
static int keep_out(struct moted_tls_rl *rl, const uint8_t *p, size_t n, size_t plain)
{
    rl->out = moted__malloc(n);
    if (!rl->out)
        return -1;
    memcpy(rl->out, p, n);
    rl->out_off = 0;
    rl->out_len = (uint32_t)n;
    rl->out_plain = (uint32_t)plain;
    return 0;
}

/* RFC 8446 7.2: the next traffic secret of one direction, its keys, and sequence 0. */
static int next_keys(struct moted_tls_rl *rl, int write)
{
    uint8_t *secret = write ? rl->secret_w : rl->secret_r, next[48];
    if (expand_label(rl, secret, "traffic upd", next, rl->hash_len))
        return -1;
    memcpy(secret, next, rl->hash_len);
    OPENSSL_cleanse(next, sizeof next);
    if (keys13(rl, write))
        return -1;
    if (write)
        rl->seq_w = 0;
    else
        rl->seq_r = 0;
    return 0;
}

/* RFC 8446 4.6.3: the client updated its keys; it may ask us to update ours. */
static int key_update(struct moted_tls_rl *rl, const uint8_t *msg, size_t len, const char **why)
{
    if (len != 5 || msg[1] || msg[2] || msg[3] != 1 || msg[4] > 1) {
        *why = "TLS error: a malformed KeyUpdate";
        return -1;
    }
    if (next_keys(rl, 0))
        return -1;
    if (msg[4] == 1)
        rl->pending_ku = 1; /* answered before our next record */
    return 0;
}

/* Our KeyUpdate (update_not_requested), then our new keys. */
static int send_key_update(struct moted_tls_rl *rl, int fd)
{
    static const uint8_t ku[5] = {24, 0, 0, 1, 0};
    uint8_t rec[REC_HDR + sizeof ku + 1 + TAG_LEN];
    size_t n = seal(rl, 22, ku, sizeof ku, rec);
    ssize_t sent = send(fd, rec, n, MSG_NOSIGNAL);
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        return -1;
    if (sent < (ssize_t)n &&
        keep_out(rl, rec + (sent > 0 ? sent : 0), n - (size_t)(sent > 0 ? sent : 0), 0))
        return -1;
    rl->pending_ku = 0;
    return next_keys(rl, 1);
}

long moted__tls_rl_read(struct moted_tls_rl *rl, int fd, uint8_t *buf, size_t len, const char **why)
{
    size_t have, off = 0, got = 0;
    ssize_t n;

    if (rl->plain) { /* what did not fit last time */
        size_t k = rl->plain_len - rl->plain_off < len ? rl->plain_len - rl->plain_off : len;
        memcpy(buf, rl->plain + rl->plain_off, k);
        rl->plain_off += (uint32_t)k;
        if (rl->plain_off == rl->plain_len) {
            moted__free(rl->plain);
            rl->plain = NULL;
            rl->plain_off = rl->plain_len = 0;
        }
        return (long)k;
    }
    if (rl->closed)
        return -1;
    if (thread_setup()) {
        *why = "out of memory for TLS records";
        return -2;
    }
    have = rl->in_len;
    if (have)
        memcpy(scratch, rl->in, have);
    moted__free(rl->in);
    rl->in = NULL;
    rl->in_len = 0;
    do
        n = recv(fd, scratch + have, SCRATCH_CAP - have, 0);
    while (n < 0 && errno == EINTR);
    if (n == 0)
        return -1; /* the client closed (without close_notify: a truncation we report as a close) */
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        n = 0;
    }
    have += (size_t)n;

    /* Open every whole record in place; contents move to the front of scratch. */
    while (have - off >= REC_HDR) {
        size_t rec_len = (size_t)scratch[off + 3] << 8 | scratch[off + 4];
        uint8_t *content, type;
        long clen;
        if (rec_len > MAX_CIPHER + (rl->version == 12 ? 1792 : 0)) {
            *why = "TLS record error (record overflow)";
            return -2;
        }
        if (have - off < REC_HDR + rec_len)
            break;
        clen = open_record(rl, scratch + off, REC_HDR + rec_len, &content, &type, why);
        if (clen < 0)
            return -2;
        off += REC_HDR + rec_len;
        if (type == 23) {
            memmove(scratch + got, content, (size_t)clen);
            got += (size_t)clen;
        } else if (type == 21) {                /* alert */
            if (clen == 2 && content[1] == 0) { /* close_notify */
                rl->closed = 1;
                break;
            }
            *why = "the client sent a TLS alert";
            return -2;
        } else if (type == 22 && rl->version == 13 && clen >= 1 && content[0] == 24) {
            if (key_update(rl, content, (size_t)clen, why))
                return -2;
        } else {
            *why = type == 22 ? "the client started a new handshake (renegotiation is not "
                                "supported)"
                              : "TLS record error (unexpected record type)";
            return -2;
        }
    }
    if (have > off) { /* a partial record: kept until the rest comes */
        rl->in = moted__malloc(have - off);
        if (!rl->in) {
            *why = "out of memory for a TLS record";
            return -2;
        }
        memcpy(rl->in, scratch + off, have - off);
        rl->in_len = (uint32_t)(have - off);
    }
    if (got > len) { /* more than the caller has room for: keep the rest */
        rl->plain = moted__malloc(got - len);
        if (!rl->plain) {
            *why = "out of memory for TLS data";
            return -2;
        }
        memcpy(rl->plain, scratch + len, got - len);
        rl->plain_len = (uint32_t)(got - len);
        got = len;
    }
    memcpy(buf, scratch, got);
    if (!got && rl->closed)
        return -1;
    return (long)got;
}

long moted__tls_rl_write(struct moted_tls_rl *rl, int fd, const uint8_t *buf, size_t len)
{
    size_t done = 0, sealed = 0, rec_size[64], nrec = 0;
    ssize_t n;
    uint64_t seq0;

    if (rl->out) { /* finish the record the socket cut; it carries the first out_plain bytes */
        int rc = send_out(rl, fd);
        if (rc <= 0)
            return rc;
        return (long)rl->out_plain;
    }
    if (thread_setup())
        return -1;
    if (rl->pending_ku && send_key_update(rl, fd))
        return -1;
    if (rl->out)
        return 0; /* our KeyUpdate waits for the socket: data after it */
    /* Seal as many records as fit in scratch, send them, keep a cut one. */
    seq0 = rl->seq_w;
    while (done < len && nrec < 64 && sealed + REC_HDR + rl->max_frag + 64 <= SCRATCH_CAP) {
        size_t chunk = len - done < rl->max_frag ? len - done : rl->max_frag;
        rec_size[nrec++] = seal(rl, 23, buf + done, chunk, scratch + sealed);
        sealed += rec_size[nrec - 1];
        done += chunk;
    }
    do
        n = send(fd, scratch, sealed, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        n = 0;
    }
    /* Records sent whole count; a cut one is finished next time; unsent ones were never seen,
     * so their sequence numbers are used again. */
    size_t at = 0, plain = 0;
    for (size_t i = 0; i < nrec; i++) {
        size_t chunk = len - plain < rl->max_frag ? len - plain : rl->max_frag;
        if (at + rec_size[i] <= (size_t)n) {
            at += rec_size[i];
            plain += chunk;
            continue;
        }
        if (at < (size_t)n) { /* cut */
            if (keep_out(rl, scratch + (size_t)n, at + rec_size[i] - (size_t)n, chunk))
                return -1;
            rl->seq_w = seq0 + i + 1;
        } else {
            rl->seq_w = seq0 + i;
        }
        return (long)plain;
    }
    return (long)plain;
}

int moted__tls_rl_pending(const struct moted_tls_rl *rl)
{
    return rl->plain != NULL;
}

void moted__tls_rl_close(struct moted_tls_rl *rl, int fd)
{
    if (!rl)
        return;
    if (!rl->out && !thread_setup()) {
        static const uint8_t close_notify[2] = {1, 0};
        uint8_t rec[REC_HDR + 8 + 2 + 1 + TAG_LEN];
        size_t n = seal(rl, 21, close_notify, sizeof close_notify, rec);
        (void)!send(fd, rec, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    moted__free(rl->in);
    moted__free(rl->plain);
    moted__free(rl->out);
    OPENSSL_cleanse(rl, sizeof *rl);
    moted__free(rl);
}
