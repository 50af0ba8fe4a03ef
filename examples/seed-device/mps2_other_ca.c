/*
 * mps2_other_ca.c - for main_mps2.c: the trust anchors of a CA that signed nothing the test broker
 * holds (other_anchors.h, written by `mote certs embed --cert`), so that the device meets an
 * unknown CA. A file of its own: every embedded header uses the same names.
 */
#include <stddef.h>

#include "other_anchors.h"

extern const br_x509_trust_anchor *const seed_other_anchors;
extern const size_t seed_other_anchor_count;

const br_x509_trust_anchor *const seed_other_anchors = MOTE_TRUST_ANCHORS;
const size_t seed_other_anchor_count = MOTE_TRUST_ANCHORS_NUM;
