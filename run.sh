#!/bin/bash
# run.sh -- install what is missing, build, and run wsd in the foreground
# on its embedded default config: http://127.0.0.1:8080/ (python3-websockets
# too, for the README's Python example)
set -e
cd "$(dirname "$0")"
. tests/lib/deps.sh
wsd_deps run
wsd_build build
echo "built build/wsd; starting it (Ctrl-C stops it)"
exec ./build/wsd "$@"
