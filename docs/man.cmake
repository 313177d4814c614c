# man.cmake - builds aesweep.1 from docs/aesweep.1.in: the COMMANDS section is printed by the built
# binary (`aesweep --man-commands`, from the command tables of src/cli.c), the rest is the template.
#   cmake -DBIN=build/aesweep -DIN=docs/aesweep.1.in -DOUT=build/aesweep.1 -DVERSION=0.4.0
#         -DDATADIR=/usr/local/share/aesweep -DDOCDIR=/usr/local/share/doc/aesweep -P docs/man.cmake
execute_process(COMMAND ${BIN} --man-commands OUTPUT_VARIABLE commands RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${BIN} --man-commands failed (${rc})")
endif()
file(READ ${IN} page)
string(REPLACE "@COMMANDS@\n" "${commands}" page "${page}")
string(REPLACE "@AESWEEP_VERSION@" "${VERSION}" page "${page}")
string(REPLACE "@AESWEEP_DATADIR@" "${DATADIR}" page "${page}")
string(REPLACE "@AESWEEP_DOCDIR@" "${DOCDIR}" page "${page}")
file(WRITE ${OUT}.tmp "${page}")
file(RENAME ${OUT}.tmp ${OUT})
