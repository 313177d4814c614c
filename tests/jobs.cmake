# The job scripts' own logic without a cluster (tests/jobs/jobs-test.sh): jobs/*.sbatch and
# jobs/submit-chain.sh with srun, mpirun, sbatch and scontrol stubbed. Seconds; no Slurm needed (the
# real cluster runs are the slurm_* tests, tests/slurm.cmake).
add_test(NAME jobs_scripts COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/jobs/jobs-test.sh ${CMAKE_SOURCE_DIR})
set_tests_properties(jobs_scripts PROPERTIES TIMEOUT 120)
