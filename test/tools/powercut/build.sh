#!/bin/sh
# The power-cut simulator ships with the package now (powercut/ at the top); this path still
# builds it for the scripts and tests that make variant builds through it.
exec sh "$(cd "$(dirname "$0")" && pwd)/../../../powercut/build.sh" "$@"
