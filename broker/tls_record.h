/*
 * tls_record.h - moted's own TLS record layer, for connections past their handshake.
 *
 * OpenSSL does the handshake; then, for the AEAD suites (AES-GCM, ChaCha20-Poly1305, TLS 1.2 and
 * 1.3), the connection's keys and sequence numbers are taken out of the SSL object and the object
 * is freed: an idle TLS connection then costs its keys (about 250 bytes) instead of OpenSSL's
 * ~13 KB per SSL object. Records are sealed and opened with EVP one at a time, in buffers of the
 * thread (none are kept while a connection is idle). Only what a connection past its handshake
 * needs is here: application data, alerts, and TLS 1.3 KeyUpdate. Anything else from the client
 * (a renegotiation, a post-handshake message moted did not ask for) closes the connection.
 */
#ifndef MOTED_TLS_RECORD_H
#define MOTED_TLS_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

struct moted_tls_rl;

/* TLS 1.3 traffic secrets, as the key log callback reports them during the handshake. */
struct moted_tls_secrets {
    uint8_t client[48], server[48];
    uint8_t client_len, server_len;
};

/*
 * Builds the record layer of a connection whose handshake just finished. `written` is what the
 * server wrote during the handshake (to count the records it sealed with its traffic keys).
 * NULL when this connection stays with OpenSSL (another suite, data already buffered, or the
 * state did not check out); *why then says which, for a debug line.
 */
struct moted_tls_rl *moted__tls_rl_take(SSL *ssl, const struct moted_tls_secrets *sec,
                                        const uint8_t *written, size_t wlen, const char **why);

/* Transport contract (broker.h): bytes moved, 0 try again later, -1 closed, -2 failed (then
 * *why says what happened). */
long moted__tls_rl_read(struct moted_tls_rl *rl, int fd, uint8_t *buf, size_t len,
                        const char **why);
long moted__tls_rl_write(struct moted_tls_rl *rl, int fd, const uint8_t *buf, size_t len);
/* 1 when decrypted bytes wait to be read (no socket event will come for them). */
int moted__tls_rl_pending(const struct moted_tls_rl *rl);
/* Sends close_notify if the socket takes it now, and frees everything. */
void moted__tls_rl_close(struct moted_tls_rl *rl, int fd);
/* Frees this thread's buffers and cipher context (a thread that is done). */
void moted__tls_rl_thread_done(void);
/* Heap bytes one connection's record layer holds while idle. */
size_t moted__tls_rl_idle_size(void);

/* For the fuzz harness and tests: a record layer from raw keys, no handshake (version 12 or 13;
 * suite 0 AES-128-GCM, 1 AES-256-GCM, 2 ChaCha20-Poly1305; TLS 1.3 secrets for KeyUpdate), and
 * sealing a record of any content type as this side would (out: len + 30 bytes). */
struct moted_tls_rl *moted__tls_rl_raw(int version, int suite, const uint8_t *key_r,
                                       const uint8_t *iv_r, const uint8_t *key_w,
                                       const uint8_t *iv_w, const uint8_t *secret_r,
                                       const uint8_t *secret_w, uint16_t max_frag);
size_t moted__tls_rl_seal(struct moted_tls_rl *rl, uint8_t type, const uint8_t *in, size_t len,
                          uint8_t *out);

#endif /* MOTED_TLS_RECORD_H */
