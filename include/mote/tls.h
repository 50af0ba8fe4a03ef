/*
 * mote/tls.h - a TLS 1.2 client on BearSSL that wraps any struct mote_transport and is itself
 * one: verified certificates (or a pinned key), small records, session resumption, no malloc,
 * and errors that name the certificate, the dates, the alert or the record size involved.
 *
 * Not part of the umbrella header mote/mote.h, because it pulls in <bearssl.h>: include it where
 * TLS is used. Design, measured memory and the error table: docs/tls.md. Conventions (NULL rules,
 * ownership): docs/conventions.md.
 *
 * @code
 * #include "mote/tls.h"
 * #include "trust_anchors.h"               // from `mote certs embed ca.pem` (see below)
 *
 * static struct mote_tls tls;                // ~7 KB on a 32-bit MCU (docs/tls.md)
 * static uint8_t iobuf[MOTE_TLS_IOBUF_MONO(512)];   // 837 bytes: 512-byte records
 *
 * static int64_t now(void *ctx) { return sntp_unix_time(); }   // <= 0 while unknown
 *
 * struct mote_tls_config cfg = {
 *     .host = "broker.local",
 *     .anchors = MOTE_TRUST_ANCHORS, .anchor_count = MOTE_TRUST_ANCHORS_NUM,
 *     .unix_time = now,
 *     .seed = hw_random_32_bytes, .seed_len = 32,   // devices without an OS random source
 * };
 * struct mote_error err;
 * if (mote_tls_init(&tls, &cfg, iobuf, sizeof iobuf, &err) != MOTE_OK) explain(&err);
 *
 * struct mote_transport tcp = ..., secure;     // tcp: connected, non-blocking
 * mote_tls_transport(&tls, &tcp, &secure);     // starts a session (resumes the last one)
 * mote_client_connect(&client, &secure, now_ms());   // the handshake runs inside send/recv
 * ...
 * // on failure: mote_tls_error(&tls) has the code, the raw BearSSL code and the alert;
 * // mote_tls_explain_detail(&tls, line, sizeof line) says it all in one line.
 * @endcode
 *
 * Trust anchor header format. `mote certs embed` (and any hand-written file) SHALL define, for
 * each CA certificate, its subject DN (DER) and public key as static arrays, and:
 *
 * @code
 * static const br_x509_trust_anchor MOTE_TRUST_ANCHORS[] = {
 *     { { (unsigned char *)TA0_DN, sizeof TA0_DN },   // subject DN, DER
 *       BR_X509_TA_CA,                                 // 0 for a pinned self-signed leaf
 *       { BR_KEYTYPE_EC, { .ec = { BR_EC_secp256r1,
 *                                  (unsigned char *)TA0_EC_Q, sizeof TA0_EC_Q } } } },
 * };
 * #define MOTE_TRUST_ANCHORS_NUM (sizeof MOTE_TRUST_ANCHORS / sizeof MOTE_TRUST_ANCHORS[0])
 * // optional, for pinning instead of a CA:
 * static const br_x509_pkey MOTE_PINNED_KEY = { BR_KEYTYPE_EC, { .ec = { BR_EC_secp256r1,
 *                                               (unsigned char *)PIN_Q, sizeof PIN_Q } } };
 * @endcode
 *
 * `brssl ta` prints the same layout (naming the array TAs and TAs_NUM). At run time,
 * mote_tls_anchor_from_pem()/_der() build the same structure from a certificate. For mutual
 * TLS the header may also define MOTE_CLIENT_CHAIN, MOTE_CLIENT_CHAIN_NUM and MOTE_CLIENT_EC_KEY
 * or MOTE_CLIENT_RSA_KEY, for client_chain, client_chain_len and client_ec_key/client_rsa_key.
 */
#ifndef MOTE_TLS_H
#define MOTE_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <bearssl.h>

#include "mote/client.h" /* struct mote_error, enum mote_layer */
#include "mote/error.h"
#include "mote/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Buffer sizes
 * ------------------------------------------------------------------------------------------- */

/**
 * Record buffer for records of @p rec plaintext bytes (512, 1024, 2048, 4096 or 16384), in
 * half-duplex mode (one buffer for both directions, the default): the record plus BearSSL's worst
 * case overhead of 325 bytes (header, IV, MAC, CBC padding). Anything from 837 bytes up works;
 * the record size asked of the server (max_fragment_length) is the largest of the five values
 * that fits.
 */
#define MOTE_TLS_IOBUF_MONO(rec) ((size_t)(rec) + 325u)
/** Full duplex (mote_tls_config.bidi): input as above, plus 512 + 85 bytes of output buffer. */
#define MOTE_TLS_IOBUF_BIDI(rec) ((size_t)(rec) + 325u + 512u + 85u)
/** The smallest buffer mote_tls_init() accepts: 512-byte records, half duplex. */
#define MOTE_TLS_IOBUF_MIN MOTE_TLS_IOBUF_MONO(512)
/** What a server that ignores max_fragment_length can send: records of 16384 bytes. */
#define MOTE_TLS_IOBUF_FULL MOTE_TLS_IOBUF_MONO(16384)

#ifndef MOTE_TLS_NAME_LEN
/** Room for one name from a certificate (CN, SAN), with its terminating NUL; longer are cut. */
#define MOTE_TLS_NAME_LEN 64
#endif

/* ---------------------------------------------------------------------------------------------
 * Configuration
 * ------------------------------------------------------------------------------------------- */

/**
 * How to reach and trust the server. Every pointer MUST stay valid as long as the struct
 * mote_tls is used (mote_tls_init() copies the struct, not what it points to).
 *
 * Trust: give either anchors (verify the chain to one of them, check the host name and the
 * dates) or pin (accept exactly one public key: no chain, name or date check; the smallest and
 * fastest setup).
 */
struct mote_tls_config {
    /**
     * The broker's host name or IP address, as the device connects to it. A DNS name is sent as
     * SNI and checked against the certificate (SAN dNSName, else CN); an IPv4 or IPv6 literal
     * is not sent (RFC 6066) and is checked against the SAN iPAddress entries. MUST NOT be NULL
     * when anchors are used, unless skip_host_check is set.
     */
    const char *host;
    /** 1: do not check the host name (anyone with a certificate from your CA passes). */
    uint8_t skip_host_check;

    const br_x509_trust_anchor *anchors; /**< CA certificates (see the header format above) */
    size_t anchor_count;
    const br_x509_pkey *pin; /**< or: the one server key to accept (RSA or EC P-256/384/521) */

    /**
     * Current time in seconds since 1970-01-01 UTC (e.g. from SNTP), or <= 0 while unknown.
     * Called once per handshake. Without it (NULL, or unknown), certificate dates cannot be
     * checked and the handshake fails with MOTE_ERR_TLS_NO_CLOCK, unless allow_no_clock is 1.
     */
    int64_t (*unix_time)(void *ctx);
    void *clock_ctx;
    /** 1: without a clock, accept certificates whatever their dates (knowingly). */
    uint8_t allow_no_clock;

    /**
     * Entropy for BearSSL's random generator (at least 32 bytes from a hardware RNG). Optional on
     * Linux, BSD and Windows, where BearSSL reads the OS source itself; required elsewhere, or
     * the handshake fails with MOTE_ERR_TLS_NO_ENTROPY. Used once, by mote_tls_init().
     */
    const uint8_t *seed;
    size_t seed_len;

    /** Client certificate for mutual TLS (optional): the chain, leaf first, DER ... */
    const br_x509_certificate *client_chain;
    size_t client_chain_len;
    const br_ec_private_key *client_ec_key;   /**< ... and its key: EC */
    const br_rsa_private_key *client_rsa_key; /**< ... or RSA */

    /** 1: full-duplex record buffers (more RAM, see MOTE_TLS_IOBUF_BIDI); 0: half duplex. */
    uint8_t bidi;
};

/* ---------------------------------------------------------------------------------------------
 * What the last handshake showed
 * ------------------------------------------------------------------------------------------- */

/** Key types seen in a certificate. */
enum mote_tls_key {
    MOTE_TLS_KEY_NONE = 0,
    MOTE_TLS_KEY_RSA,
    MOTE_TLS_KEY_EC,
    MOTE_TLS_KEY_ED25519,
    MOTE_TLS_KEY_ED448,
    MOTE_TLS_KEY_OTHER,
};

/** Signature algorithms a certificate can be signed with (its issuer's choice). */
enum mote_tls_sig {
    MOTE_TLS_SIG_NONE = 0,
    MOTE_TLS_SIG_RSA_SHA1,
    MOTE_TLS_SIG_RSA_SHA224,
    MOTE_TLS_SIG_RSA_SHA256,
    MOTE_TLS_SIG_RSA_SHA384,
    MOTE_TLS_SIG_RSA_SHA512,
    MOTE_TLS_SIG_RSA_PSS,
    MOTE_TLS_SIG_ECDSA_SHA1,
    MOTE_TLS_SIG_ECDSA_SHA224,
    MOTE_TLS_SIG_ECDSA_SHA256,
    MOTE_TLS_SIG_ECDSA_SHA384,
    MOTE_TLS_SIG_ECDSA_SHA512,
    MOTE_TLS_SIG_ED25519,
    MOTE_TLS_SIG_ED448,
    MOTE_TLS_SIG_OTHER,
};

/**
 * The facts behind the last failure (and the last success), captured while the handshake ran.
 * Names are NUL-terminated, cut to MOTE_TLS_NAME_LEN - 1 bytes, empty when absent; dates are
 * days since 0000-01-01 (BearSSL's count: 1970-01-01 is day 719528), 0 when unknown.
 */
struct mote_tls_detail {
    char subject_cn[MOTE_TLS_NAME_LEN];    /**< the server's certificate: subject CN */
    char issuer_cn[MOTE_TLS_NAME_LEN];     /**< ... and its issuer's CN */
    char top_issuer_cn[MOTE_TLS_NAME_LEN]; /**< issuer of the last certificate sent: the CA the
                                                anchors must hold */
    char name[MOTE_TLS_NAME_LEN];          /**< the server's first SAN (DNS name or IP as text) */
    uint32_t not_before_days;              /**< validity of certificate cert_index ... */
    uint32_t not_after_days;
    uint32_t now_days; /**< the clock used for the check (0: none) */
    uint32_t now_seconds;
    uint8_t cert_index;   /**< 0: the dates are the server's certificate's; n: the n-th above it,
                               the first one whose dates failed */
    uint8_t chain_len;    /**< certificates the server sent */
    uint8_t key_type;     /**< enum mote_tls_key of the server's key */
    uint8_t curve;        /**< EC: BR_EC_secp256r1 (23), secp384r1 (24), secp521r1 (25); 0 other */
    uint16_t key_bits;    /**< RSA modulus or EC field size */
    uint8_t sig_alg;      /**< enum mote_tls_sig: how the server's certificate is signed */
    uint8_t has_alert;    /**< 1: alert holds the alert that ended the handshake */
    uint8_t alert;        /**< TLS alert number, received */
    uint8_t server_hello; /**< 1: the server answered with a ServerHello */
    uint8_t cert_requested; /**< 1: the server asked for a client certificate */
    uint8_t mfl_accepted;   /**< 1: the server confirmed our max_fragment_length */
    uint16_t version;       /**< from ServerHello: 0x0303 is TLS 1.2 */
    uint16_t cipher_suite;  /**< from ServerHello */
    uint16_t max_fragment;  /**< record size we asked for (512..4096), 0 if we asked none */
    uint16_t record_len;    /**< length of the incoming record that did not fit (0: none) */
    uint8_t handshake_done; /**< 1: the handshake completed */
    uint8_t resumed;        /**< 1: the last handshake resumed a session (no certificates) */
    uint8_t anchor_name;    /**< 1: the last certificate sent names a trusted CA as issuer (so
                                 an untrusted chain means a wrong signature, not an unknown CA) */
};

/* ---------------------------------------------------------------------------------------------
 * The TLS context (members private; declared so that it can be static)
 * ------------------------------------------------------------------------------------------- */

/** @cond private */
struct mote_tls_der_level {
    uint32_t end;
    uint8_t kind;
    uint8_t index;
};

/* A streaming reader of the certificates as BearSSL receives them: names, dates, key, SAN. */
struct mote_tls_scan {
    struct mote_tls_der_level stack[8];
    uint32_t pos, skip_end, prim_end, hlen;
    uint32_t nb_days, nb_secs, na_days, na_secs;
    uint16_t pin_pos;
    uint8_t depth, hstate, tag, lenlen;
    uint8_t prim, prim_tag, broken, skip_byte;
    uint8_t cert, tbs_shift, dn, atv_cn;
    uint8_t ext_san, cap_len, name_len, name_done;
    uint8_t have_nb, have_na, key_started, date_bad;
    uint8_t pin_curve_ok, pin_n_ok, pin_e_ok, ip_match;
    uint8_t cap[20];
    uint32_t dn_end, dn_mask; /* the issuer name, compared with the anchors' names */
    uint16_t dn_pos;
    uint8_t dn_on, issuer_match;
};

/* A reader of the raw records that arrive: their sizes, the ServerHello, CertificateRequest. */
struct mote_tls_rec {
    uint32_t hs_left;
    uint16_t body_left, hs_off, sh_next, ext_at, ext_type;
    uint8_t hdr[5];
    uint8_t hdr_have, encrypted, hs_hdr_have, hs_type, ext_len_hi;
    uint8_t hs_hdr[4];
};
/** @endcond */

/**
 * MOTE_TLS_PIN_ONLY: define it when compiling lib/tls AND every file that includes this header
 * for a device that trusts a pinned key only. struct mote_tls then has no room for BearSSL's
 * X.509 chain validator (3 KB of RAM less, and its code is not linked); mote_tls_init() refuses
 * trust anchors with MOTE_ERR_BAD_ARG.
 */

/** All state of one TLS client: engine, certificate checker, session, last error. */
struct mote_tls {
    br_ssl_client_context sc;
    union {
#ifndef MOTE_TLS_PIN_ONLY
        br_x509_minimal_context minimal; /* anchors (3 KB: left out of pin-only builds) */
#endif
        br_x509_knownkey_context known;  /* pin */
    } x;
    const br_x509_class *x509; /* our checker, which feeds x above and reads the certificates */
    struct mote_tls_config cfg;
    struct mote_transport inner;
    br_ssl_session_parameters session; /* of the last full handshake, offered on reconnect */
    uint8_t have_session;
    uint8_t host_ip[16];
    uint8_t host_ip_len; /* 4 or 16: host is an IP literal; 0: a DNS name */
    uint8_t clock_known;
    uint8_t verdict; /* private: what the checker decided, beyond BearSSL's code */
    struct mote_error err;
    struct mote_tls_detail detail;
    struct mote_tls_scan scan;
    struct mote_tls_rec rec;
};

/* ---------------------------------------------------------------------------------------------
 * Functions
 * ------------------------------------------------------------------------------------------- */

/**
 * Sets up @p t with @p cfg and the caller's record buffer. Nothing is sent.
 * @param t       the context (its contents are overwritten)
 * @param cfg     copied; what it points to MUST outlive @p t
 * @param iobuf   record buffer, at least MOTE_TLS_IOBUF_MIN bytes (MOTE_TLS_IOBUF_MONO(512));
 *                MUST outlive @p t
 * @param err     filled on failure (may be NULL); also kept in mote_tls_error(t)
 * @return MOTE_OK; MOTE_ERR_BAD_ARG (NULL pointer, neither or both of anchors and pin, no host
 *         while the host check is on, a host name over 255 bytes, a client chain without key);
 *         MOTE_ERR_BUFFER_TOO_SMALL (err->need, err->have, err->what = "TLS record buffer");
 *         MOTE_ERR_TLS_UNSUPPORTED_KEY (a pin that is neither RSA nor EC P-256/384/521).
 */
int mote_tls_init(struct mote_tls *t, const struct mote_tls_config *cfg, uint8_t *iobuf,
                  size_t iobuf_len, struct mote_error *err);

/**
 * Starts a TLS session over @p inner, a connected transport (copied into @p t), and fills @p out
 * with the TLS transport: its send and recv run the handshake first, then carry application
 * bytes, under transport.h's contract (0: try again; negative: MOTE_ERR_TLS_*, or the inner
 * transport's own error). Offers the session of the last completed handshake for resumption.
 * Call it again for every new connection; the handshake never blocks beyond the inner transport.
 *
 * In half-duplex mode send() returns 0 while received bytes wait to be read: call recv().
 * @return MOTE_OK or MOTE_ERR_BAD_ARG (or the error BearSSL reports at reset, e.g.
 *         MOTE_ERR_TLS_NO_ENTROPY).
 */
int mote_tls_transport(struct mote_tls *t, const struct mote_transport *inner,
                       struct mote_transport *out);

/**
 * Runs the handshake as far as the inner transport allows, for callers that want it done before
 * handing the transport to the MQTT client (send and recv also run it on their own).
 * @return MOTE_OK when complete, MOTE_NEED_MORE when the inner transport would block (call
 *         again when it is readable), or a negative error as recv() would return it.
 */
int mote_tls_handshake(struct mote_tls *t);

/**
 * Sends close_notify as far as the inner transport takes it without blocking. The session stays
 * kept for resumption. The caller closes the inner transport.
 */
void mote_tls_close(struct mote_tls *t);

/** Forgets the kept session: the next handshake is a full one. */
void mote_tls_forget_session(struct mote_tls *t);

/**
 * The session of the last completed full handshake, to keep across a deep sleep (e.g. in RTC
 * memory) and hand back with mote_tls_set_session() after mote_tls_init().
 * @return 1 and a copy in @p out if there is one, else 0.
 */
int mote_tls_get_session(const struct mote_tls *t, br_ssl_session_parameters *out);
void mote_tls_set_session(struct mote_tls *t, const br_ssl_session_parameters *in);

/** 1 if the last handshake resumed a session (no certificate exchanged), else 0. */
int mote_tls_resumed(const struct mote_tls *t);

/**
 * The last failure: code (enum mote_err), layer (MOTE_LAYER_TLS, or MOTE_LAYER_TCP for the
 * inner transport's error), raw (BearSSL's error code, e.g. 62 for BR_ERR_X509_NOT_TRUSTED;
 * 256 + alert for a received alert), reason (the alert number for MOTE_ERR_TLS_ALERT, and for
 * MOTE_ERR_TLS_NO_COMMON_CIPHER when an alert said so), need/have (RECORD_TOO_LARGE: the buffer
 * that record needs and the one given). Never NULL.
 */
const struct mote_error *mote_tls_error(const struct mote_tls *t);

/** The certificate names, dates, key, alert and record sizes of the last handshake. */
const struct mote_tls_detail *mote_tls_detail(const struct mote_tls *t);

/**
 * One line explaining a TLS error from @p e alone: what happened (with the alert name, the
 * BearSSL code name, the bytes needed) and what to do. For mote_error_explain(). Returns @p buf
 * (always NUL-terminated when @p len > 0).
 */
char *mote_tls_explain(const struct mote_error *e, char *buf, size_t len);

/**
 * mote_tls_explain() of the last failure of @p t, followed by the facts of mote_tls_detail():
 * certificate names, dates and the clock, key type, the record that did not fit.
 */
char *mote_tls_explain_detail(const struct mote_tls *t, char *buf, size_t len);

/** Name of a TLS alert ("unknown_ca"), or "unknown alert". Never NULL. */
const char *mote_tls_alert_name(unsigned alert);

/** Name of a BearSSL error code ("BR_ERR_X509_NOT_TRUSTED"), or "BR_ERR_UNKNOWN". */
const char *mote_tls_bearssl_name(int raw);
/** The name of a certificate signature algorithm as lib/tls records it (detail sig_alg). */
const char *mote_tls_sig_name(uint8_t sig);

/* ---------------------------------------------------------------------------------------------
 * Certificates and keys at run time (no allocation: the results point into the caller's memory)
 * ------------------------------------------------------------------------------------------- */

/**
 * Decodes the first PEM object of @p pem (any label) into @p out.
 * @return MOTE_OK with *out_len; MOTE_ERR_BUFFER_TOO_SMALL (err need/have); MOTE_ERR_BAD_ARG
 *         when no complete PEM object is found.
 */
int mote_tls_pem_to_der(const uint8_t *pem, size_t pem_len, uint8_t *out, size_t out_cap,
                        size_t *out_len, struct mote_error *err);

/**
 * Builds a trust anchor from a CA certificate (DER). Its subject DN and public key are copied
 * into @p work, which @p out then points into (work MUST outlive the anchor): about 100 bytes
 * plus 65 (EC P-256) or 260 (RSA-2048). BR_X509_TA_CA is set when the certificate is a CA.
 * @return MOTE_OK; MOTE_ERR_BUFFER_TOO_SMALL (need/have: the work bytes needed);
 *         MOTE_ERR_TLS_UNSUPPORTED_KEY (neither RSA nor EC); MOTE_ERR_TLS_OTHER (not a
 *         certificate; raw: BearSSL's decoding error).
 */
int mote_tls_anchor_from_der(const uint8_t *der, size_t der_len, uint8_t *work, size_t work_len,
                             br_x509_trust_anchor *out, struct mote_error *err);

/** As mote_tls_anchor_from_der(), from the first certificate of a PEM text (no DER copy). */
int mote_tls_anchor_from_pem(const uint8_t *pem, size_t pem_len, uint8_t *work, size_t work_len,
                             br_x509_trust_anchor *out, struct mote_error *err);

/**
 * Reads a DER SubjectPublicKeyInfo (`openssl pkey -pubout -outform DER`) into a key to pin.
 * @p out points into @p der, which MUST outlive it.
 * @return MOTE_OK; MOTE_ERR_TLS_UNSUPPORTED_KEY (not RSA or EC P-256/384/521);
 *         MOTE_ERR_BAD_ARG (not a well-formed SubjectPublicKeyInfo).
 */
int mote_tls_pin_from_der(const uint8_t *der, size_t der_len, br_x509_pkey *out,
                          struct mote_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MOTE_TLS_H */
