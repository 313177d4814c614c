# version.cmake - writes include/aesweep/version.h into the build tree at every build, so that
# `aesweep --version` and every result file's `git_commit` name the commit the binary was built
# from, not the one CMake was configured at (a `git pull` + `cmake --build` does not re-run the
# configure step). A tree with uncommitted changes to tracked files gets "-dirty", as git describe
# would: such a binary cannot be rebuilt from its commit alone. configure_file rewrites the header
# only when its text changes, so an unchanged commit recompiles nothing.
#
#   cmake -DSRC=<source dir> -DOUT=<header> -DPROJECT_VERSION=<x.y.z> -DGIT=<git> -P version.cmake
set(AESWEEP_GIT_COMMIT "unknown")
if(GIT AND EXISTS "${SRC}/.git")
  execute_process(COMMAND ${GIT} rev-parse --short=12 HEAD WORKING_DIRECTORY ${SRC}
    OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
  if(rc EQUAL 0 AND commit)
    set(AESWEEP_GIT_COMMIT "${commit}")
    # --no-optional-locks: a build must not take git's index lock from under the user's git
    execute_process(COMMAND ${GIT} --no-optional-locks status --porcelain --untracked-files=no
      WORKING_DIRECTORY ${SRC} OUTPUT_VARIABLE changes ERROR_QUIET RESULT_VARIABLE rc)
    if(rc EQUAL 0 AND NOT changes STREQUAL "")
      set(AESWEEP_GIT_COMMIT "${commit}-dirty")
    endif()
  endif()
endif()
configure_file(${SRC}/include/aesweep/version.h.in ${OUT} @ONLY)
