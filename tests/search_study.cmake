# The search study (issue 16): tests/search_{ranks,resume,exact}.sh run the real binary under mpirun on
# tests/specs/search_ci.cfg and search_slow.cfg; their checks are tests/search_study.py's. ~1 min together.
foreach(t ranks resume exact)
  add_test(NAME search_${t}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/search_${t}.sh $<TARGET_FILE:aesweep> ${CMAKE_SOURCE_DIR})
  set_tests_properties(search_${t} PROPERTIES
    ENVIRONMENT "PYTHON=${PYTHON};OPENBLAS_NUM_THREADS=1"
    TIMEOUT 600 RESOURCE_LOCK cpus)
endforeach()
# The resume test again on the dataflow schedule (align = "flow"): no rounds, so the cuts land while
# brackets run different rungs and ranks hold handed-out tasks and states.
# And TPE batches as a dataflow: a resumed run proposes the opened batches again from the journal,
# so the file equals the uninterrupted run's only if no proposal depended on timing.
# And Hyperband with promote = "asha": promotions happen mid-rung, so the cuts land between a
# promotion and the rung's end; a resumed run replays the rule from the journaled results.
# And TPE batches with promote = "asha": a resumed run replays each batch's promotions and opens the
# batches again as their rungs close, proposing from the journal alone.
foreach(v flow tpeflow asha tpeasha)
  add_test(NAME search_resume_${v}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/search_resume.sh $<TARGET_FILE:aesweep> ${CMAKE_SOURCE_DIR}
      ${CMAKE_CURRENT_SOURCE_DIR}/specs/search_slow_${v}.cfg)
  set_tests_properties(search_resume_${v} PROPERTIES
    ENVIRONMENT "PYTHON=${PYTHON};OPENBLAS_NUM_THREADS=1"
    TIMEOUT 600 RESOURCE_LOCK cpus)
endforeach()
# cut once batch 0 has a rung-1 result (batch 1 open), then once it has its rung-2 one (batch 2 open too)
set_property(TEST search_resume_tpeflow APPEND PROPERTY ENVIRONMENT "SEARCH_CUT_RUNGS=1 2 3")
# under ASHA a rung-1 result comes before rung 0 closes (review), so later: a rung-3 result needs
# batch 0's rungs 0-2 closed (so batch 1 open), a rung-4 one its rung 3 too (batch 2 open as well)
set_property(TEST search_resume_tpeasha APPEND PROPERTY ENVIRONMENT "SEARCH_CUT_RUNGS=2 3 4")
