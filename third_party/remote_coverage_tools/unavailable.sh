#!/bin/sh
echo "remote_coverage_tools: coverage tools are not available in this offline build" >&2
exit 1
