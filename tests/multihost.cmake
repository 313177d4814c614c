# aesweep across several hosts (tests/multihost/multihost-tests.sh): multihost_setup makes three
# network namespaces on one bridge (tests/multihost/net.sh) and a Slurm cluster with one slurmd per
# host; the tests run studies across them with mpirun (hostfile, rsh agent) and srun -N 3, lose a
# host mid-study (its processes killed, or its link cut), slow the network down, and requeue a job
# across the nodes; multihost_teardown removes it all, also after a failed test (CTest fixture).
# They share RESOURCE_LOCK slurm with tests/slurm.cmake, so the two clusters never run side by side
# (namespaces and daemons are machine-wide), and cpus, so no other MPI test runs beside them.
set(AESWEEP_MH_ENV
  "AESWEEP_BIN=$<TARGET_FILE:aesweep>"
  "AESWEEP_SRC=${CMAKE_SOURCE_DIR}"
  "MULTIHOST_TEST_DIR=${CMAKE_BINARY_DIR}/multihost-test")
set(AESWEEP_MH_SH ${CMAKE_CURRENT_SOURCE_DIR}/multihost/multihost-tests.sh)

add_test(NAME multihost_setup COMMAND bash ${AESWEEP_MH_SH} setup)
set_tests_properties(multihost_setup PROPERTIES FIXTURES_SETUP multihost
  ENVIRONMENT "${AESWEEP_MH_ENV}" TIMEOUT 600 RESOURCE_LOCK "slurm;cpus")
add_test(NAME multihost_teardown COMMAND bash ${AESWEEP_MH_SH} teardown)
set_tests_properties(multihost_teardown PROPERTIES FIXTURES_CLEANUP multihost
  ENVIRONMENT "${AESWEEP_MH_ENV}" TIMEOUT 120 RESOURCE_LOCK "slurm;cpus")

# mpirun: 3 hosts x 2 ranks with a hostfile; srun: jobs/study.sbatch and jobs/study-mpirun.sbatch
# with -N 3; killhost / linkcut: a host lost mid-study, the job ends (bounded), --resume on the two
# hosts left is byte-identical; slow: netem delay 20ms; requeue: jobs/study-requeue.sbatch -N 3
# cut twice, finished in the third allocation.
foreach(t mpirun srun killhost linkcut slow requeue)
  add_test(NAME multihost_${t} COMMAND bash ${AESWEEP_MH_SH} ${t})
  set_tests_properties(multihost_${t} PROPERTIES FIXTURES_REQUIRED multihost
    ENVIRONMENT "${AESWEEP_MH_ENV}" TIMEOUT 600 RESOURCE_LOCK "slurm;cpus")
endforeach()
