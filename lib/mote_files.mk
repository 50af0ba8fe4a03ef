# lib/mote_files.mk - the source files and include directories of libmote, for firmware projects
# built with plain Makefiles. Include this file, then compile $(MOTE_CODEC_SOURCES) and
# $(MOTE_CLIENT_SOURCES) with $(addprefix -I,$(MOTE_INCLUDE_DIRS) $(MOTE_CODEC_PRIVATE_INCLUDE_DIRS)).
# The codec and the client engine need no OS and build with -ffreestanding; the POSIX port
# ($(MOTE_PORT_POSIX_SOURCES)) is for Linux, macOS and the BSDs. Keep lib/mote_files.cmake in step.

MOTE_LIB_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

MOTE_CODEC_SOURCES := \
	$(MOTE_LIB_DIR)/codec/error.c \
	$(MOTE_LIB_DIR)/codec/utf8.c \
	$(MOTE_LIB_DIR)/codec/topic.c \
	$(MOTE_LIB_DIR)/codec/props.c \
	$(MOTE_LIB_DIR)/codec/frame.c \
	$(MOTE_LIB_DIR)/codec/decode.c \
	$(MOTE_LIB_DIR)/codec/encode.c

# The client engine (sans-I/O, no OS calls): needs the codec.
MOTE_CLIENT_SOURCES := \
	$(MOTE_LIB_DIR)/client/client.c

# TCP sockets and a blocking run loop for POSIX systems: needs the client.
MOTE_PORT_POSIX_SOURCES := \
	$(MOTE_LIB_DIR)/port/posix.c

# Public headers: #include "mote/mote.h".
MOTE_INCLUDE_DIRS := $(MOTE_LIB_DIR)/../include

# Private to the codec's own sources (lib/codec/codec_internal.h); users never need it.
MOTE_CODEC_PRIVATE_INCLUDE_DIRS := $(MOTE_LIB_DIR)/codec

# TLS on BearSSL (lib/tls): the sources, and their private header (lib/tls/tls_internal.h). They need
# BearSSL's headers on the include path and BearSSL itself (its sources, or a library) in the
# firmware, and no OS: they build with -ffreestanding too (docs/tls.md). Needs the codec.
MOTE_TLS_SOURCES := \
	$(MOTE_LIB_DIR)/tls/tls.c \
	$(MOTE_LIB_DIR)/tls/x509scan.c \
	$(MOTE_LIB_DIR)/tls/certs.c \
	$(MOTE_LIB_DIR)/tls/explain.c

MOTE_TLS_PRIVATE_INCLUDE_DIRS := $(MOTE_LIB_DIR)/tls
