# Cross-compiling for 64-bit Windows with Debian's mingw-w64
# (gcc-mingw-w64-x86-64):
#   cmake -S . -B build-windows \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-x86_64-w64-mingw32.cmake
# scripts/test-windows.sh does this and runs the result under Wine, which
# CMake then uses to run the tests (CMAKE_CROSSCOMPILING_EMULATOR).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(NVSF_MINGW x86_64-w64-mingw32)

find_program(CMAKE_C_COMPILER NAMES ${NVSF_MINGW}-gcc REQUIRED)
find_program(CMAKE_RC_COMPILER NAMES ${NVSF_MINGW}-windres REQUIRED)
set(CMAKE_FIND_ROOT_PATH /usr/${NVSF_MINGW})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# One .exe that needs nothing but Windows' own DLLs: libgcc linked in.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")

# Debian's wine64 keeps its loader out of PATH.
find_program(NVSF_WINE NAMES wine64 wine PATHS /usr/lib/wine NO_CMAKE_FIND_ROOT_PATH)
if(NVSF_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${NVSF_WINE})
endif()
