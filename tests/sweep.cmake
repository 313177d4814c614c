# End-to-end MPI tests of `aesweep run` (tests/test_sweep.py), one CTest
# entry per test function.
foreach(t byte_identical_across_ranks cube_equals_train_cell_by_cell arch_cells_equal_train epoch_reuse_is_exact
          xarray_and_h5py_layout diverged_cells_are_recorded_and_skipped sigkill_rank_then_resume sigkill_mpirun_then_resume sigterm_exit_code_then_resume validate_prints_plan resume_journal_of_0_4_0)
  add_test(NAME sweep_${t}
    COMMAND ${PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_SOURCE_DIR}/test_sweep.py -k test_${t})
  set_tests_properties(sweep_${t} PROPERTIES
    ENVIRONMENT "AESWEEP_BIN=$<TARGET_FILE:aesweep>;AESWEEP_SRC=${CMAKE_SOURCE_DIR}"
    TIMEOUT 600 RESOURCE_LOCK cpus)
endforeach()
