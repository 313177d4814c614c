# The kernels' other SIMD paths, tested on this machine too: small libraries
# of the model sources compiled for another target, and the kernel tests
# linked against each (test_lanes_<isa>, test_fastpath_<isa>,
# test_parity_<isa>):
#   avx2     -march=haswell -mno-avx512f (AVX2 + FMA), where the compiler
#            takes it and this CPU runs it (avx2 and fma in /proc/cpuinfo);
#   generic  -DAESWEEP_PORTABLE: the GCC vector-extension fallback that
#            non-x86 targets build (always);
#   nofma    the same fallback for a target without an FMA instruction
#            (-march=x86-64-v2, as a distribution's baseline build), where
#            vfma is a multiply and an add (always on x86).
# Not in sanitizer builds (the native suite covers those).
include(CheckCCompilerFlag)
check_c_compiler_flag("-march=haswell" AESWEEP_CC_HASWELL)
set(AESWEEP_CPU_AVX2 OFF)
if(EXISTS /proc/cpuinfo)
  file(STRINGS /proc/cpuinfo _flags REGEX "^flags" LIMIT_COUNT 1)
  if(_flags MATCHES " avx2 " AND _flags MATCHES " fma ")
    set(AESWEEP_CPU_AVX2 ON)
  endif()
endif()

function(aesweep_isa_tests isa)
  set(flags ${ARGN})
  add_library(aesweep_model_${isa} STATIC ${AESWEEP_MODEL_SOURCES})
  # after -march=native on the command line, so these win; the same
  # per-file options as the main library (source properties are per folder)
  target_compile_options(aesweep_model_${isa} PRIVATE ${flags} -fno-math-errno -ffp-contract=off)
  target_include_directories(aesweep_model_${isa} PUBLIC ${CMAKE_SOURCE_DIR}/include ${CMAKE_BINARY_DIR}/include)
  target_link_libraries(aesweep_model_${isa} PUBLIC PkgConfig::OPENBLAS m)
  foreach(name test_lanes test_fastpath test_parity)
    add_executable(${name}_${isa} ${CMAKE_CURRENT_SOURCE_DIR}/${name}.c)
    target_compile_options(${name}_${isa} PRIVATE ${flags})
    target_include_directories(${name}_${isa} PRIVATE ${HDF5_INCLUDE_DIRS})
    target_link_libraries(${name}_${isa} PRIVATE aesweep_model_${isa} PkgConfig::CMOCKA ${HDF5_C_LIBRARIES})
    add_test(NAME ${name}_${isa} COMMAND ${name}_${isa} WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
    set_tests_properties(${name}_${isa} PROPERTIES ENVIRONMENT "AESWEEP_SRC=${CMAKE_SOURCE_DIR};OPENBLAS_NUM_THREADS=1")
  endforeach()
endfunction()

if(NOT AESWEEP_SANITIZE)
  if(AESWEEP_CC_HASWELL AND AESWEEP_CPU_AVX2)
    aesweep_isa_tests(avx2 -march=haswell -mno-avx512f)
  endif()
  aesweep_isa_tests(generic -DAESWEEP_PORTABLE)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
    aesweep_isa_tests(nofma -DAESWEEP_PORTABLE -march=x86-64-v2 -mtune=generic)
  endif()
endif()
