/*
 * fuzz_tls_record.c - moted's TLS record layer (broker/tls_record.c) against a peer that seals
 * what the input says: application data of any size, records of any content type (alerts,
 * KeyUpdate and other handshake messages, unknown types), raw garbage, all cut into socket
 * writes of any size and read back through buffers of any size; and data moted writes, read
 * back by the peer. The peer is a second record layer with the mirrored keys, over a socketpair.
 *
 * Invariants: what moted reads is always a prefix of the application data the peer sealed in
 * order (anything else must stop the stream: a bad record, an alert, a renegotiation), every
 * byte moted writes opens on the peer's side in order, and nothing leaks.
 *
 * Input: byte 0 picks the version (bit 0), the suite (bits 1-2) and 512-byte records (bit 6);
 * then ops: 0 data, 1 a record of type t, 2 garbage, 3 moted reads, 4 moted writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "tls_record.h"

#define MAX_STREAM (256 * 1024)

static const uint8_t *in_pos, *in_end;

static unsigned next(unsigned mod)
{
    unsigned v = in_pos < in_end ? *in_pos++ : 0;
    return mod ? v % mod : v;
}

static unsigned next16(unsigned mod)
{
    unsigned v = next(0) << 8;
    v |= next(0);
    return mod ? v % mod : v;
}

struct side {
    int fd;
    struct moted_tls_rl *rl;
};

static uint8_t sealed[16384 + 64], scratchbuf[70000];
static uint8_t *expect, *got, *wrote;
static size_t expect_len, got_len, wrote_len, peer_got_len;
static int moted_stopped; /* moted's reads ended (closed or failed): later bytes are not read */

static void pattern(uint8_t *p, size_t n, size_t at)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((at + i) * 131u + 7u);
}

/* moted reads until there is nothing more (or the stream ends). */
static void moted_reads(struct side *m, size_t len)
{
    while (!moted_stopped) {
        const char *why = NULL;
        long n = moted__tls_rl_read(m->rl, m->fd, scratchbuf, len, &why);
        if (n < 0) {
            FUZZ_CHECK(n == -1 || why != NULL, "a failed read without a reason");
            moted_stopped = 1;
            return;
        }
        if (n == 0)
            return;
        FUZZ_CHECK((size_t)n <= len, "read %ld bytes into %zu", n, len);
        FUZZ_CHECK(
            got_len + (size_t)n <= expect_len && !memcmp(expect + got_len, scratchbuf, (size_t)n),
            "moted read bytes the peer did not seal as application data (at %zu, %ld)", got_len, n);
        memcpy(got + got_len, scratchbuf, (size_t)n);
        got_len += (size_t)n;
    }
}

/* The peer's bytes go into the socket; when it is full moted reads first. */
static void peer_send(struct side *p, struct side *m, const uint8_t *buf, size_t len)
{
    size_t off = 0;
    int spins = 0;
    while (off < len) {
        size_t chunk = len - off;
        unsigned cut = next(8);
        if (cut)
            chunk = chunk < cut * 97u ? chunk : cut * 97u;
        ssize_t n = send(p->fd, buf + off, chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (moted_stopped || ++spins > 1000)
            return; /* nobody reads any more: the rest is lost, as on a closed connection */
        moted_reads(m, sizeof scratchbuf);
    }
}

/* The peer reads and opens what moted wrote. */
static void peer_reads(struct side *p)
{
    for (;;) {
        const char *why = NULL;
        long n = moted__tls_rl_read(p->rl, p->fd, scratchbuf, sizeof scratchbuf, &why);
        FUZZ_CHECK(n >= 0, "the peer cannot open what moted wrote: %s", why ? why : "closed");
        if (n == 0)
            return;
        FUZZ_CHECK(peer_got_len + (size_t)n <= wrote_len &&
                       !memcmp(wrote + peer_got_len, scratchbuf, (size_t)n),
                   "the peer opened bytes moted did not write (at %zu)", peer_got_len);
        peer_got_len += (size_t)n;
    }
}

static void moted_writes(struct side *m, struct side *p, size_t len)
{
    uint8_t *buf;
    size_t off = 0;
    int spins = 0;
    if (wrote_len + len > MAX_STREAM)
        return;
    buf = malloc(len ? len : 1);
    FUZZ_CHECK(buf != NULL, "out of memory");
    pattern(buf, len, wrote_len + 1000);
    memcpy(wrote + wrote_len, buf, len);
    wrote_len += len;
    while (off < len) {
        long n = moted__tls_rl_write(m->rl, m->fd, buf + off, len - off);
        FUZZ_CHECK(n >= 0, "moted's write failed on a live socketpair");
        FUZZ_CHECK((size_t)n <= len - off, "wrote %ld of %zu", n, len - off);
        off += (size_t)n;
        if (n == 0) {
            FUZZ_CHECK(++spins < 10000, "moted's write makes no progress");
            peer_reads(p);
        }
    }
    free(buf);
    peer_reads(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t k1[32] = {1, 2, 3}, k2[32] = {4, 5, 6}, iv1[12] = {7}, iv2[12] = {8},
                         s1[48] = {9}, s2[48] = {10};
    struct side m = {-1, NULL}, p = {-1, NULL};
    int sv[2], version, suite;
    uint16_t frag;

    if (size < 1)
        return 0;
    in_pos = data + 1;
    in_end = data + size;
    version = data[0] & 1 ? 13 : 12;
    suite = (data[0] >> 1) % 3;
    frag = data[0] & 0x40 ? 512 : 16384;
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair: %s", strerror(errno));
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    m.fd = sv[0];
    p.fd = sv[1];
    m.rl = moted__tls_rl_raw(version, suite, k1, iv1, k2, iv2, s1, s2, frag);
    p.rl = moted__tls_rl_raw(version, suite, k2, iv2, k1, iv1, s2, s1, frag);
    FUZZ_CHECK(m.rl && p.rl, "out of memory");
    expect = malloc(MAX_STREAM);
    got = malloc(MAX_STREAM);
    wrote = malloc(MAX_STREAM);
    FUZZ_CHECK(expect && got && wrote, "out of memory");
    expect_len = got_len = wrote_len = peer_got_len = 0;
    moted_stopped = 0;

    for (int ops = 0; in_pos < in_end && ops < 64; ops++) {
        switch (next(5)) {
        case 0: { /* application data, sealed by the peer */
            size_t len = next16(frag + 1u);
            if (expect_len + len > MAX_STREAM)
                break;
            pattern(expect + expect_len, len, expect_len);
            size_t n = moted__tls_rl_seal(p.rl, 23, expect + expect_len, len, sealed);
            if (!moted_stopped)
                expect_len += len;
            peer_send(&p, &m, sealed, n);
            break;
        }
        case 1: { /* a record of another type: its content from the input */
            uint8_t type = (uint8_t)next(0), content[64];
            size_t len = next(sizeof content + 1);
            for (size_t i = 0; i < len; i++)
                content[i] = (uint8_t)next(0);
            if (type == 23)
                type = 24; /* application data is op 0 */
            if (type == 0 && version == 13)
                type = 1; /* TLS 1.3: inner type 0 is padding, so content + 23 + zeros would be
                             application data: a real peer never seals type 0 */
            size_t n = moted__tls_rl_seal(p.rl, type, content, len, sealed);
            peer_send(&p, &m, sealed, n);
            break;
        }
        case 2: { /* garbage */
            uint8_t junk[64];
            size_t len = next(sizeof junk + 1);
            for (size_t i = 0; i < len; i++)
                junk[i] = (uint8_t)next(0);
            peer_send(&p, &m, junk, len);
            break;
        }
        case 3: /* moted reads, into a buffer of 1 to 70000 bytes */
            moted_reads(&m, 1 + next16(sizeof scratchbuf));
            break;
        case 4: /* moted writes */
            moted_writes(&m, &p, next16(3 * 16384u));
            break;
        }
    }
    moted_reads(&m, sizeof scratchbuf);
    /* Whatever stopped the stream, moted read a prefix of the application data (checked as it
     * went); with nothing but application data it read all of it. */
    moted__tls_rl_close(m.rl, m.fd);
    moted__tls_rl_close(p.rl, p.fd);
    close(sv[0]);
    close(sv[1]);
    free(expect);
    free(got);
    free(wrote);
    moted__tls_rl_thread_done();
    return 0;
}
