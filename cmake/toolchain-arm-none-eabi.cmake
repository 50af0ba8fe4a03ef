# cmake/toolchain-arm-none-eabi.cmake - Cortex-M3 (Thumb-2) with Debian's gcc-arm-none-eabi and
# picolibc. Set MOTE_ARM_CPU_FLAGS for another core, e.g. "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard".
#   cmake -S . -B build/arm -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-arm-none-eabi.cmake
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)

set(MOTE_ARM_CPU_FLAGS "-mcpu=cortex-m3 -mthumb" CACHE STRING "CPU flags for arm-none-eabi-gcc")
set(CMAKE_C_FLAGS_INIT "${MOTE_ARM_CPU_FLAGS} --specs=picolibc.specs")
set(CMAKE_ASM_FLAGS_INIT "${MOTE_ARM_CPU_FLAGS}")

# Executables need a board's memory map (tests/embedded gives qemu's); compiler checks do not.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
