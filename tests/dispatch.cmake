# The run layer across ranks (tests/dispatch_rounds.c, an MPI program, not
# cmocka): a stage in several rounds over subsets of its tasks, batched and
# unbatched, equals one round bit for bit; the journal holds every task once.
add_executable(dispatch_rounds ${CMAKE_CURRENT_SOURCE_DIR}/dispatch_rounds.c)
target_include_directories(dispatch_rounds PRIVATE ${HDF5_INCLUDE_DIRS})
target_link_libraries(dispatch_rounds PRIVATE aesweep_lib)
foreach(np 1 3)
  add_test(NAME dispatch_rounds_np${np}
    COMMAND mpirun --oversubscribe -np ${np} $<TARGET_FILE:dispatch_rounds>)
  set_tests_properties(dispatch_rounds_np${np} PROPERTIES
    ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OPENBLAS_NUM_THREADS=1"
    PASS_REGULAR_EXPRESSION "dispatch_rounds: ok" TIMEOUT 300 RESOURCE_LOCK cpus)
endforeach()
# Carried states (tests/dispatch_halving.c, MPI): a toy two-rung halving stage
# equals its tasks trained from scratch bit for bit; rank 0 keeps the live
# states only; a resume from the rung-0 journal records trains rung 1 alone.
add_executable(dispatch_halving ${CMAKE_CURRENT_SOURCE_DIR}/dispatch_halving.c)
target_include_directories(dispatch_halving PRIVATE ${HDF5_INCLUDE_DIRS})
target_link_libraries(dispatch_halving PRIVATE aesweep_lib)
foreach(np 1 3)
  add_test(NAME dispatch_halving_np${np}
    COMMAND mpirun --oversubscribe -np ${np} $<TARGET_FILE:dispatch_halving>)
  set_tests_properties(dispatch_halving_np${np} PROPERTIES
    ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OPENBLAS_NUM_THREADS=1"
    PASS_REGULAR_EXPRESSION "dispatch_halving: ok" TIMEOUT 300 RESOURCE_LOCK cpus)
endforeach()
