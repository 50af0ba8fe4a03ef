/*
 * main_bare.c - the seed device on a bare-metal board, as a stub: the trust anchors compiled in
 * (trust_anchors.h, as `mote certs embed` writes it) and the places where a firmware plugs in its
 * TCP stack (lwIP, an AT modem), its clocks and its RNG. It builds for Cortex-M3 (linked) and the
 * ESP8266 (objects) so that `make size` measures a real device program; it does not run anywhere.
 * -DSEED_PINNED: trust the broker's key alone (MOTE_PINNED_KEY) instead of the CA.
 */
#include "device.h"
#include "trust_anchors.h" /* mote certs embed --dir mote-certs -o trust_anchors.h */

#ifndef SEED_BROKER
#define SEED_BROKER "broker.local"
#endif
#ifndef SEED_ID
#define SEED_ID "seed01"
#endif

/* What the board's drivers keep up to date. */
static volatile uint32_t ticks_ms;   /* the SysTick interrupt adds 1 every millisecond */
static volatile int64_t sntp_time;   /* the SNTP client sets it; 0 until it has an answer */
static volatile uint32_t sntp_at_ms; /* ticks_ms when sntp_time was set */
static uint8_t rng_seed[32];         /* read from the hardware RNG at boot */
static uint32_t rng_state = 1;

/* The TCP connection: replace these with the vendor's stack (lwIP raw API, a modem's AT+CIPSEND).
 * They follow mote/transport.h: bytes moved, 0 for "not now", a negative MOTE_ERR_* when it is
 * over. */
static int32_t tcp_send(void *ctx, const uint8_t *buf, size_t len)
{
    (void)ctx;
    (void)buf;
    (void)len;
    return MOTE_ERR_IO;
}

static int32_t tcp_recv(void *ctx, uint8_t *buf, size_t len)
{
    (void)ctx;
    (void)buf;
    (void)len;
    return MOTE_ERR_IO;
}

static int board_open(void *ctx, const char *host, uint16_t port, struct mote_transport *out,
                      struct mote_error *err)
{
    (void)ctx;
    (void)host;
    (void)port;
    /* DNS and TCP connect here; on failure say which: */
    err->code = MOTE_ERR_TCP_UNREACHABLE;
    err->layer = MOTE_LAYER_TCP;
    out->ctx = NULL;
    out->send = tcp_send;
    out->recv = tcp_recv;
    return err->code;
}

static void board_close(void *ctx)
{
    (void)ctx;
}

static uint32_t board_now_ms(void *ctx)
{
    (void)ctx;
    return ticks_ms;
}

static int64_t board_unix_time(void *ctx)
{
    (void)ctx;
    return sntp_time > 0 ? sntp_time + (ticks_ms - sntp_at_ms) / 1000 : 0;
}

static void board_wait(void *ctx, uint32_t ms, int want_write)
{
    uint32_t start = ticks_ms;

    (void)ctx;
    (void)want_write;
    /* A firmware sleeps here (WFI) until the network interrupt or the deadline. */
    while (ticks_ms - start < ms)
        ;
}

static uint32_t board_random(void *ctx)
{
    (void)ctx;
    rng_state = rng_state * 1103515245u + 12345u; /* a firmware reads its RNG instead */
    return rng_state >> 8;
}

static void board_print(void *ctx, const char *line)
{
    (void)ctx;
    (void)line; /* a UART write, a log buffer */
}

int main(void)
{
    static const struct seed_settings s = {
        .host = SEED_BROKER,
        .port = 8883,
        .id = SEED_ID,
#ifdef SEED_PINNED
        .pin = &MOTE_PINNED_KEY,
#else
        .anchors = MOTE_TRUST_ANCHORS,
        .anchor_count = MOTE_TRUST_ANCHORS_NUM,
#endif
        .keep_trying = 1,
    };
    static const struct seed_port port = {
        .open = board_open,
        .close = board_close,
        .now_ms = board_now_ms,
        .unix_time = board_unix_time,
        .wait = board_wait,
        .random = board_random,
        .print = board_print,
        .seed = rng_seed,
        .seed_len = sizeof rng_seed,
    };

    for (;;)
        seed_device_run(&s, &port);
}
