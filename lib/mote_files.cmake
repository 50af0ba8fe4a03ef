# lib/mote_files.cmake - the source files and include directories of libmote, for firmware projects
# that build it with their own CMake (ESP-IDF, Zephyr, a vendor SDK). include() this file, then add
# ${MOTE_CODEC_SOURCES} to a target and ${MOTE_INCLUDE_DIRS} to its include path. The codec needs no
# OS and builds with -ffreestanding. Keep lib/mote_files.mk in step with this list.

set(MOTE_CODEC_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/codec/error.c
    ${CMAKE_CURRENT_LIST_DIR}/codec/utf8.c
    ${CMAKE_CURRENT_LIST_DIR}/codec/topic.c
    ${CMAKE_CURRENT_LIST_DIR}/codec/props.c
    ${CMAKE_CURRENT_LIST_DIR}/codec/frame.c
    ${CMAKE_CURRENT_LIST_DIR}/codec/decode.c
    ${CMAKE_CURRENT_LIST_DIR}/codec/encode.c
)

# Public headers: #include "mote/mote.h".
set(MOTE_INCLUDE_DIRS ${CMAKE_CURRENT_LIST_DIR}/../include)

# Private to the codec's own sources (lib/codec/codec_internal.h); users never need it.
set(MOTE_CODEC_PRIVATE_INCLUDE_DIRS ${CMAKE_CURRENT_LIST_DIR}/codec)
