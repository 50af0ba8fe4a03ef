# lib/mote_files.mk - the source files and include directories of libmote, for firmware projects
# built with plain Makefiles. Include this file, then compile $(MOTE_CODEC_SOURCES) with
# $(addprefix -I,$(MOTE_INCLUDE_DIRS) $(MOTE_CODEC_PRIVATE_INCLUDE_DIRS)). The codec needs no OS and
# builds with -ffreestanding. Keep lib/mote_files.cmake in step with this list.

MOTE_LIB_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

MOTE_CODEC_SOURCES := \
	$(MOTE_LIB_DIR)/codec/error.c \
	$(MOTE_LIB_DIR)/codec/utf8.c \
	$(MOTE_LIB_DIR)/codec/topic.c \
	$(MOTE_LIB_DIR)/codec/props.c \
	$(MOTE_LIB_DIR)/codec/frame.c \
	$(MOTE_LIB_DIR)/codec/decode.c \
	$(MOTE_LIB_DIR)/codec/encode.c

# Public headers: #include "mote/mote.h".
MOTE_INCLUDE_DIRS := $(MOTE_LIB_DIR)/../include

# Private to the codec's own sources (lib/codec/codec_internal.h); users never need it.
MOTE_CODEC_PRIVATE_INCLUDE_DIRS := $(MOTE_LIB_DIR)/codec
