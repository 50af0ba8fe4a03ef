/*
 * mote/mote.h - umbrella header of libmote, the device library of mote.
 * Include this one; the parts are listed here in the order they build on each other.
 */
#ifndef MOTE_MOTE_H
#define MOTE_MOTE_H

#include "mote/error.h"
#include "mote/codec.h"
#include "mote/transport.h"
#include "mote/client.h"

#endif /* MOTE_MOTE_H */
