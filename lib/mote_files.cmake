# lib/mote_files.cmake - the source files and include directories of libmote, for firmware projects
# that build it with their own CMake (ESP-IDF, Zephyr, a vendor SDK). include() this file, then add
# ${MOTE_CODEC_SOURCES} and ${MOTE_CLIENT_SOURCES} to a target and ${MOTE_INCLUDE_DIRS} to its include
# path. The codec and the client engine need no OS and build with -ffreestanding; the POSIX port
# (${MOTE_PORT_POSIX_SOURCES}) is for Linux, macOS and the BSDs. Keep lib/mote_files.mk in step.

set(MOTE_CODEC_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/codec/error.c
    ${CMAKE_CURRENT_LIST_DIR}/codec/utf8.c
    ${CMAKE_CURRENT_LIST_DIR}/codec/topic.c
    ${CMAKE_CURRENT_LIST_DIR}/codec/props.c
    ${CMAKE_CURRENT_LIST_DIR}/codec/frame.c
    ${CMAKE_CURRENT_LIST_DIR}/codec/decode.c
    ${CMAKE_CURRENT_LIST_DIR}/codec/encode.c
)

# The client engine (sans-I/O, no OS calls): needs the codec.
set(MOTE_CLIENT_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/client/client.c
)

# TCP sockets and a blocking run loop for POSIX systems: needs the client.
set(MOTE_PORT_POSIX_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/port/posix.c
)

# Public headers: #include "mote/mote.h".
set(MOTE_INCLUDE_DIRS ${CMAKE_CURRENT_LIST_DIR}/../include)

# Private to the codec's own sources (lib/codec/codec_internal.h); users never need it.
set(MOTE_CODEC_PRIVATE_INCLUDE_DIRS ${CMAKE_CURRENT_LIST_DIR}/codec)

# TLS on BearSSL (lib/tls): the sources, and their private header (lib/tls/tls_internal.h). They need
# BearSSL's headers on the include path and BearSSL itself (its sources, or a library) in the
# firmware, and no OS: they build with -ffreestanding too (docs/tls.md). Needs the codec.
set(MOTE_TLS_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/tls/tls.c
    ${CMAKE_CURRENT_LIST_DIR}/tls/x509scan.c
    ${CMAKE_CURRENT_LIST_DIR}/tls/certs.c
    ${CMAKE_CURRENT_LIST_DIR}/tls/explain.c
)
set(MOTE_TLS_PRIVATE_INCLUDE_DIRS ${CMAKE_CURRENT_LIST_DIR}/tls)
