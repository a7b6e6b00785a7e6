#!/bin/bash
# Start-up wrapper: logs the start, runs the server, logs how it ended.
echo "start.sh: starting the server on port ${PORT:-8080}"
trap 'echo "start.sh: got SIGTERM"' TERM
perl /app/server.pl
echo "start.sh: the server exited with status $?"
