/*
 * size_probe.c - the sizes `make size` reports, as the target's compiler lays the structs out:
 * each object below is as large as what it names, and `nm -S` on the cross-compiled object reads
 * them. Never linked.
 */
#include "mote/client.h"
#include "mote/tls.h"

#define PROBE(name, bytes) const unsigned char probe_##name[bytes] = {0}

PROBE(mote_tls, sizeof(struct mote_tls));
PROBE(ssl_client_context, sizeof(br_ssl_client_context));
PROBE(x509_union, sizeof(((struct mote_tls *)0)->x));
PROBE(x509_minimal_context, sizeof(br_x509_minimal_context));
PROBE(x509_knownkey_context, sizeof(br_x509_knownkey_context));
PROBE(tls_detail, sizeof(struct mote_tls_detail));
PROBE(mote_client, sizeof(struct mote_client));
PROBE(mote_inflight, sizeof(struct mote_inflight));
PROBE(align_mote_tls, _Alignof(struct mote_tls));
