# The kernels' AVX2 paths, tested on an AVX-512 machine too: a second, small
# library of the model sources compiled for Haswell (AVX2 + FMA, no AVX-512)
# and the kernel tests linked against it (test_lanes_avx2,
# test_fastpath_avx2, test_parity_avx2).  Registered where the compiler
# accepts -march=haswell and this CPU runs AVX2 code (x86-64 with avx2 and
# fma in /proc/cpuinfo); elsewhere the native build is the only one there is.
include(CheckCCompilerFlag)
check_c_compiler_flag("-march=haswell" AESWEEP_CC_HASWELL)
set(AESWEEP_CPU_AVX2 OFF)
if(EXISTS /proc/cpuinfo)
  file(STRINGS /proc/cpuinfo _flags REGEX "^flags" LIMIT_COUNT 1)
  if(_flags MATCHES " avx2 " AND _flags MATCHES " fma ")
    set(AESWEEP_CPU_AVX2 ON)
  endif()
endif()
if(AESWEEP_CC_HASWELL AND AESWEEP_CPU_AVX2 AND NOT AESWEEP_SANITIZE)
  add_library(aesweep_model_avx2 STATIC
    ${CMAKE_SOURCE_DIR}/src/model.c ${CMAKE_SOURCE_DIR}/src/kernel_fast.c
    ${CMAKE_SOURCE_DIR}/src/kernel_lanes.c ${CMAKE_SOURCE_DIR}/src/rng.c)
  # after -march=native on the command line, so these win
  target_compile_options(aesweep_model_avx2 PRIVATE -march=haswell -mno-avx512f -fno-math-errno)
  target_include_directories(aesweep_model_avx2 PUBLIC ${CMAKE_SOURCE_DIR}/include ${CMAKE_BINARY_DIR}/include)
  target_link_libraries(aesweep_model_avx2 PUBLIC PkgConfig::OPENBLAS m)
  foreach(name test_lanes test_fastpath test_parity)
    add_executable(${name}_avx2 ${CMAKE_CURRENT_SOURCE_DIR}/${name}.c)
    target_compile_options(${name}_avx2 PRIVATE -march=haswell -mno-avx512f)
    target_include_directories(${name}_avx2 PRIVATE ${HDF5_INCLUDE_DIRS})
    target_link_libraries(${name}_avx2 PRIVATE aesweep_model_avx2 PkgConfig::CMOCKA ${HDF5_C_LIBRARIES})
    add_test(NAME ${name}_avx2 COMMAND ${name}_avx2 WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
    set_tests_properties(${name}_avx2 PROPERTIES ENVIRONMENT "AESWEEP_SRC=${CMAKE_SOURCE_DIR};OPENBLAS_NUM_THREADS=1")
  endforeach()
endif()
