/*
 * main_mps2.c - the seed device on the emulated Cortex-M3 (qemu -M mps2-an385, picolibc
 * semihosting) against a broker in the same program: a BearSSL server and a small MQTT responder
 * at the other end of an in-memory byte pipe. The device runs on a painted stack of its own and
 * the broker on another, so the peak measured is the device's alone (`make size` prints it as
 * "seed-device stack:"). Three runs, each a full handshake: the CA-verified chain, the pinned
 * key, and an unknown CA (the error path, with its explanation).
 */
#include <stdio.h>
#include <string.h>

#include "device.h"
#include "mote/mote.h"
#include "mps2_server.h"   /* generated: SEED_SERVER_CERT_PEM, SEED_SERVER_KEY_PEM, SEED_MPS2_NOW */
#include "trust_anchors.h" /* generated: `mote certs embed` of the CA that signed the server */

/* mps2_other_ca.c: the anchors of a CA that signed nothing here. */
extern const br_x509_trust_anchor *const seed_other_anchors;
extern const size_t seed_other_anchor_count;

#define ID "seed01"
#define PINGS 3u
#define PAINT 0xa5

static uint8_t device_stack[16384] __attribute__((aligned(8)));
static uint8_t broker_stack[32768] __attribute__((aligned(8)));

/*
 * Calls @p fn with the stack pointer at @p top (8-byte aligned), then comes back to this stack.
 * r4 keeps the old stack pointer: the callee saves it (AAPCS).
 */
static void run_on_stack(void (*fn)(void), uint8_t *top)
{
    __asm volatile("mov r4, sp\n\t"
                   "mov sp, %1\n\t"
                   "blx %0\n\t"
                   "mov sp, r4\n\t"
                   :
                   : "r"(fn), "r"(top)
                   : "r0", "r1", "r2", "r3", "r4", "r12", "lr", "memory", "cc");
}

static size_t stack_used(const uint8_t *stack, size_t size)
{
    size_t untouched = 0;

    while (untouched < size && stack[untouched] == PAINT)
        untouched++;
    return size - untouched;
}

/* ---------------------------------------------------------------------------------------------
 * The pipe between device and broker
 * ------------------------------------------------------------------------------------------- */

struct pipe {
    uint8_t buf[2048];
    size_t len;
};

static struct pipe to_broker, to_device;
static int broker_closed;

static size_t pipe_take(struct pipe *p, uint8_t *out, size_t len)
{
    if (len > p->len)
        len = p->len;
    memcpy(out, p->buf, len);
    memmove(p->buf, p->buf + len, p->len - len);
    p->len -= len;
    return len;
}

static size_t pipe_put(struct pipe *p, const uint8_t *in, size_t len)
{
    if (len > sizeof p->buf - p->len)
        len = sizeof p->buf - p->len;
    memcpy(p->buf + p->len, in, len);
    p->len += len;
    return len;
}

static int32_t device_send(void *ctx, const uint8_t *buf, size_t len)
{
    (void)ctx;
    if (broker_closed)
        return MOTE_ERR_CLOSED;
    return (int32_t)pipe_put(&to_broker, buf, len);
}

static int32_t device_recv(void *ctx, uint8_t *buf, size_t len)
{
    (void)ctx;
    if (to_device.len == 0)
        return broker_closed ? MOTE_ERR_CLOSED : 0;
    return (int32_t)pipe_take(&to_device, buf, len);
}

/* ---------------------------------------------------------------------------------------------
 * The broker: BearSSL's server engine and an MQTT 3.1.1 responder that checks what it gets
 * ------------------------------------------------------------------------------------------- */

static br_ssl_server_context server;
static unsigned char server_buf[BR_SSL_BUFSIZE_BIDI];
static unsigned char cert_der[1024];
static br_x509_certificate chain;
static br_skey_decoder_context key_decoder;
static unsigned char key_x[66];
static br_ec_private_key key;
static const uint8_t test_seed[32] = {
    0x6d, 0x6f, 0x74, 0x65, 0x20, 0x73, 0x65, 0x65, 0x64, 0x2d, 0x64, 0x65, 0x76, 0x69, 0x63, 0x65,
    0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x6f, 0x6e, 0x6c, 0x79, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21,
}; /* fixed: this is a test run, not a device; a device reads its hardware RNG */
static int broker_ready;

static struct responder {
    uint8_t in[512];
    size_t in_len;
    uint8_t out[64];
    size_t out_len;
    uint32_t pings;
    uint8_t will_ok, online, offline, disconnected, bad;
} mq;

static void reply(const uint8_t *bytes, size_t len)
{
    if (mq.out_len + len <= sizeof mq.out) {
        memcpy(mq.out + mq.out_len, bytes, len);
        mq.out_len += len;
    } else {
        mq.bad = 1;
    }
}

static int is(struct mote_slice s, const char *text)
{
    return s.len == strlen(text) && memcmp(s.ptr, text, s.len) == 0;
}

static void handle(const struct mote_packet *p)
{
    static const uint8_t connack[] = {0x20, 0x02, 0x00, 0x00}, pingresp[] = {0xd0, 0x00};

    switch (p->type) {
    case MOTE_CONNECT: {
        const struct mote_connect *c = &p->u.connect;

        mq.will_ok = c->will && c->will_qos == 1 && c->will_retain &&
                     is(c->will_topic, "devices/" ID "/status") && is(c->will_payload, "offline");
        reply(connack, sizeof connack);
        break;
    }
    case MOTE_PUBLISH: {
        const struct mote_publish *m = &p->u.publish;
        uint8_t puback[4] = {0x40, 0x02, (uint8_t)(m->packet_id >> 8), (uint8_t)m->packet_id};
        char want[12];

        if (is(m->topic, "devices/" ID "/status") && m->retain && is(m->payload, "online"))
            mq.online = 1;
        else if (is(m->topic, "devices/" ID "/status") && m->retain && is(m->payload, "offline"))
            mq.offline = 1;
        else if (is(m->topic, "devices/" ID "/ping") &&
                 (snprintf(want, sizeof want, "%u", (unsigned)mq.pings + 1), is(m->payload, want)))
            mq.pings++;
        else
            mq.bad = 1;
        if (m->qos == 1)
            reply(puback, sizeof puback);
        break;
    }
    case MOTE_PINGREQ:
        reply(pingresp, sizeof pingresp);
        break;
    case MOTE_DISCONNECT:
        mq.disconnected = 1;
        break;
    default:
        mq.bad = 1;
        break;
    }
}

static void responder_run(void)
{
    for (;;) {
        struct mote_frame f;
        struct mote_packet p;
        int rc = mote_codec_frame(mq.in, mq.in_len, sizeof mq.in, &f);

        if (rc == MOTE_NEED_MORE)
            return;
        if (rc != MOTE_OK || mote_codec_decode(mq.in, f.total, MOTE_V311, &p) != MOTE_OK) {
            mq.bad = 1;
            mq.in_len = 0;
            return;
        }
        handle(&p);
        memmove(mq.in, mq.in + f.total, mq.in_len - f.total);
        mq.in_len -= f.total;
    }
}

/* Moves every byte it can between the pipe, BearSSL's server engine and the responder. */
static void broker_pump(void)
{
    br_ssl_engine_context *eng = &server.eng;

    for (;;) {
        unsigned state = br_ssl_engine_current_state(eng);
        unsigned char *b;
        size_t len;

        if (state & BR_SSL_CLOSED) {
            broker_closed = 1;
            return;
        }
        if (state & BR_SSL_SENDREC) {
            b = br_ssl_engine_sendrec_buf(eng, &len);
            len = pipe_put(&to_device, b, len);
            if (len == 0)
                return;
            br_ssl_engine_sendrec_ack(eng, len);
        } else if (state & BR_SSL_RECVAPP) {
            b = br_ssl_engine_recvapp_buf(eng, &len);
            if (len > sizeof mq.in - mq.in_len)
                len = sizeof mq.in - mq.in_len;
            memcpy(mq.in + mq.in_len, b, len);
            mq.in_len += len;
            br_ssl_engine_recvapp_ack(eng, len);
            responder_run();
        } else if ((state & BR_SSL_SENDAPP) && mq.out_len) {
            b = br_ssl_engine_sendapp_buf(eng, &len);
            if (len > mq.out_len)
                len = mq.out_len;
            memcpy(b, mq.out, len);
            memmove(mq.out, mq.out + len, mq.out_len - len);
            mq.out_len -= len;
            br_ssl_engine_sendapp_ack(eng, len);
            br_ssl_engine_flush(eng, 0);
        } else if ((state & BR_SSL_RECVREC) && to_broker.len) {
            b = br_ssl_engine_recvrec_buf(eng, &len);
            br_ssl_engine_recvrec_ack(eng, pipe_take(&to_broker, b, len));
        } else {
            return;
        }
    }
}

/* The server's certificate and key, from the PEM texts compiled in. */
static void broker_setup(void)
{
    static uint8_t der[512];
    size_t cert_len, der_len;
    const br_ec_private_key *k;

    if (mote_tls_pem_to_der((const uint8_t *)SEED_SERVER_CERT_PEM, sizeof SEED_SERVER_CERT_PEM - 1,
                            cert_der, sizeof cert_der, &cert_len, NULL) != MOTE_OK ||
        mote_tls_pem_to_der((const uint8_t *)SEED_SERVER_KEY_PEM, sizeof SEED_SERVER_KEY_PEM - 1,
                            der, sizeof der, &der_len, NULL) != MOTE_OK)
        return;
    br_skey_decoder_init(&key_decoder);
    br_skey_decoder_push(&key_decoder, der, der_len);
    k = br_skey_decoder_get_ec(&key_decoder);
    if (br_skey_decoder_last_error(&key_decoder) != 0 || k == NULL || k->xlen > sizeof key_x)
        return;
    memcpy(key_x, k->x, k->xlen);
    key.curve = k->curve;
    key.x = key_x;
    key.xlen = k->xlen;
    chain.data = cert_der;
    chain.data_len = cert_len;
    br_ssl_server_init_full_ec(&server, &chain, 1, BR_KEYTYPE_EC, &key);
    br_ssl_engine_set_buffer(&server.eng, server_buf, sizeof server_buf, 1);
    br_ssl_engine_inject_entropy(&server.eng, test_seed, sizeof test_seed);
    broker_ready = 1;
}

static void broker_reset(void)
{
    memset(&mq, 0, sizeof mq);
    to_broker.len = to_device.len = 0;
    broker_closed = !br_ssl_server_reset(&server);
}

/* ---------------------------------------------------------------------------------------------
 * The port: virtual time, the pipe as the TCP connection
 * ------------------------------------------------------------------------------------------- */

static uint32_t clock_ms;
static uint32_t random_state = 7;

static int emu_open(void *ctx, const char *host, uint16_t port, struct mote_transport *out,
                    struct mote_error *err)
{
    (void)ctx;
    (void)host;
    (void)port;
    (void)err;
    run_on_stack(broker_reset, broker_stack + sizeof broker_stack);
    out->ctx = NULL;
    out->send = device_send;
    out->recv = device_recv;
    return MOTE_OK;
}

static void emu_close(void *ctx)
{
    (void)ctx;
    run_on_stack(broker_pump, broker_stack + sizeof broker_stack); /* the last bytes sent */
    broker_closed = 1;
}

static uint32_t emu_now_ms(void *ctx)
{
    (void)ctx;
    return clock_ms;
}

static int64_t emu_unix_time(void *ctx)
{
    (void)ctx;
    return (int64_t)SEED_MPS2_NOW + clock_ms / 1000;
}

/* The broker runs while the device waits; when it has nothing to say, the time passes at once. */
static void emu_wait(void *ctx, uint32_t ms, int want_write)
{
    size_t before = to_device.len;

    (void)ctx;
    (void)want_write;
    run_on_stack(broker_pump, broker_stack + sizeof broker_stack);
    if (to_device.len == before && !broker_closed)
        clock_ms += ms > 60000 ? 60000 : ms;
}

static uint32_t emu_random(void *ctx)
{
    (void)ctx;
    random_state = random_state * 1103515245u + 12345u;
    return random_state >> 8;
}

static void emu_print(void *ctx, const char *line)
{
    (void)ctx;
    fputs("  device: ", stdout);
    fputs(line, stdout);
    fputs("\n", stdout);
}

/* ---------------------------------------------------------------------------------------------
 * The runs
 * ------------------------------------------------------------------------------------------- */

static struct seed_settings settings;
static const struct seed_port port = {
    .open = emu_open,
    .close = emu_close,
    .now_ms = emu_now_ms,
    .unix_time = emu_unix_time,
    .wait = emu_wait,
    .random = emu_random,
    .print = emu_print,
    .seed = test_seed,
    .seed_len = sizeof test_seed,
};
static int device_rc;

static void device_main(void)
{
    device_rc = seed_device_run(&settings, &port);
}

/* Runs the device once on a freshly painted stack; returns 1 if it went as @p want_rc says. */
static int run(const char *name, int want_rc)
{
    size_t peak;
    int ok;

    printf("%s:\n", name);
    memset(device_stack, PAINT, sizeof device_stack);
    clock_ms = 0;
    run_on_stack(device_main, device_stack + sizeof device_stack);
    peak = stack_used(device_stack, sizeof device_stack);
    if (want_rc == MOTE_OK)
        ok = device_rc == MOTE_OK && mq.will_ok && mq.online && mq.pings == PINGS && mq.offline &&
             mq.disconnected && !mq.bad;
    else
        ok = device_rc == want_rc;
    printf("  broker saw: will %s, online %s, %u pings, offline %s, DISCONNECT %s%s\n",
           mq.will_ok ? "ok" : "no", mq.online ? "yes" : "no", (unsigned)mq.pings,
           mq.offline ? "yes" : "no", mq.disconnected ? "yes" : "no",
           mq.bad ? ", and something unexpected" : "");
    printf("  result %s (%s), %u ms of device time\n", ok ? "ok" : "FAIL",
           device_rc == MOTE_OK ? "MOTE_OK" : mote_err_name(device_rc), (unsigned)clock_ms);
    printf("stack %s %u %s\n", name, (unsigned)peak, ok ? "ok" : "FAIL");
    return ok;
}

int main(void)
{
    int passed = 0, failed = 0;

    memset(broker_stack, PAINT, sizeof broker_stack);
    run_on_stack(broker_setup, broker_stack + sizeof broker_stack);
    if (!broker_ready) {
        printf("the test broker could not load its certificate or key\n0 passed, 1 failed\n");
        return 1;
    }
    settings.host = "localhost";
    settings.port = 8883;
    settings.id = ID;
    settings.pings = PINGS;

    settings.anchors = MOTE_TRUST_ANCHORS;
    settings.anchor_count = MOTE_TRUST_ANCHORS_NUM;
    run("verified", MOTE_OK) ? passed++ : failed++;

    settings.anchors = NULL;
    settings.anchor_count = 0;
    settings.pin = &MOTE_PINNED_KEY;
    run("pinned", MOTE_OK) ? passed++ : failed++;

    settings.pin = NULL;
    settings.anchors = seed_other_anchors;
    settings.anchor_count = seed_other_anchor_count;
    run("untrusted", MOTE_ERR_TLS_UNTRUSTED) ? passed++ : failed++;

    printf("broker stack peak %u (not the device's)\n",
           (unsigned)stack_used(broker_stack, sizeof broker_stack));
    printf("%d passed, %d failed\n", passed, failed);
    return failed;
}
