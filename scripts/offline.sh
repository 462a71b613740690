#!/usr/bin/env bash
# Runs a command without the network (only the loopback interface, in a network namespace of its
# own) where this machine allows it (as root), else as it is: the test suite proves it needs
# nothing beyond this machine. PIXSEEK_TEST_NETWORK=1 keeps the network.
set -euo pipefail
if [ -z "${PIXSEEK_TEST_NETWORK:-}" ] && [ "$(id -u)" = 0 ] && command -v ip >/dev/null \
   && unshare --net true 2>/dev/null; then
  exec unshare --net -- bash -c 'ip link set lo up && exec "$@"' offline "$@"
fi
echo "offline.sh: running with the network (no network namespace here)" >&2
exec "$@"
