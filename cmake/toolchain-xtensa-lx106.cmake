# cmake/toolchain-xtensa-lx106.cmake - the ESP8266 core with Debian's gcc-xtensa-lx106 and picolibc.
# Objects and static libraries only: linking against picolibc's default script fails on literal
# placement, and a firmware links the library with its SDK's own script anyway.
#   cmake -S . -B build/xtensa -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-xtensa-lx106.cmake
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR xtensa)

set(CMAKE_C_COMPILER xtensa-lx106-elf-gcc)
set(CMAKE_ASM_COMPILER xtensa-lx106-elf-gcc)

# -mlongcalls -mtext-section-literals: what the ESP8266 SDKs build with (code runs from flash, far
# from IRAM, and literals sit next to the code that loads them).
set(CMAKE_C_FLAGS_INIT
    "--specs=/usr/lib/xtensa-lx106-elf/picolibc.specs -mlongcalls -mtext-section-literals")

set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
