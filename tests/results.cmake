# Result files as third-party readers see them (xarray/h5netcdf, netCDF-C's
# ncdump, netCDF4-python, pandas), learning curves, `aesweep export` against
# analysis.load_runs, and `aesweep status` on a running and a cut-off study
# (tests/test_results.py).  One CTest entry per group of tests; each group
# runs its own small studies under mpirun.
foreach(t layout curves tables status)
  if(t STREQUAL "layout")
    set(k "xarray_opens or sel_by or creation_order or netcdf_c or info_json")
  elseif(t STREQUAL "curves")
    set(k "curve or learning_curves")
  elseif(t STREQUAL "tables")
    set(k "export or previous_schema")
  else()
    set(k "status")
  endif()
  add_test(NAME results_${t}
    COMMAND ${PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_SOURCE_DIR}/test_results.py -k "${k}")
  set_tests_properties(results_${t} PROPERTIES
    ENVIRONMENT "AESWEEP_BIN=$<TARGET_FILE:aesweep>;AESWEEP_SRC=${CMAKE_SOURCE_DIR};PYTHON=${PYTHON};MPLBACKEND=Agg;OPENBLAS_NUM_THREADS=1"
    TIMEOUT 900 RESOURCE_LOCK cpus)
endforeach()
