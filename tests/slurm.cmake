# The jobs/*.sbatch scripts on a real one-node Slurm (tests/slurm/slurm-tests.sh): slurm_setup
# installs what is missing (Debian packages, as root) and starts munged, slurmctld and slurmd with
# all their state under ${CMAKE_BINARY_DIR}/slurm-test; each slurm_<test> submits a script with
# sbatch, waits and checks the HDF5 results; slurm_teardown stops the daemons. The tests share the
# cluster (a CTest fixture, so `ctest -R slurm_requeue` brings it up and down too) and run one at a
# time (RESOURCE_LOCK slurm), and not beside the other MPI tests (cpus): the cluster declares 4 CPUs.
set(AESWEEP_SLURM_ENV
  "AESWEEP_BIN=$<TARGET_FILE:aesweep>"
  "AESWEEP_SRC=${CMAKE_SOURCE_DIR}"
  "SLURM_TEST_DIR=${CMAKE_BINARY_DIR}/slurm-test")
set(AESWEEP_SLURM_SH ${CMAKE_CURRENT_SOURCE_DIR}/slurm/slurm-tests.sh)

add_test(NAME slurm_setup COMMAND bash ${AESWEEP_SLURM_SH} setup)
set_tests_properties(slurm_setup PROPERTIES FIXTURES_SETUP slurm
  ENVIRONMENT "${AESWEEP_SLURM_ENV}" TIMEOUT 900 RESOURCE_LOCK slurm)
add_test(NAME slurm_teardown COMMAND bash ${AESWEEP_SLURM_SH} teardown)
set_tests_properties(slurm_teardown PROPERTIES FIXTURES_CLEANUP slurm
  ENVIRONMENT "${AESWEEP_SLURM_ENV}" TIMEOUT 120 RESOURCE_LOCK slurm)

# srun: jobs/study.sbatch (PMIx); mpirun: jobs/study-mpirun.sbatch; array: jobs/array.sbatch;
# chain: jobs/submit-chain.sh + jobs/analysis.sbatch (afterok, --export=NONE); requeue:
# jobs/study-requeue.sbatch cut twice and resumed, metrics byte-identical; signal: its #SBATCH
# --signal delivered by Slurm; export: --export=NONE with spec and output as arguments; resubmit:
# the requeue refused (--no-requeue), a new job with the same options finishes the study; relaunch:
# ranks that crash before the study wrote anything are launched once more (jobs/study.sbatch).
foreach(t srun mpirun array chain requeue signal export resubmit relaunch)
  add_test(NAME slurm_${t} COMMAND bash ${AESWEEP_SLURM_SH} ${t})
  set_tests_properties(slurm_${t} PROPERTIES FIXTURES_REQUIRED slurm
    ENVIRONMENT "${AESWEEP_SLURM_ENV}" TIMEOUT 600 RESOURCE_LOCK "slurm;cpus")
endforeach()
