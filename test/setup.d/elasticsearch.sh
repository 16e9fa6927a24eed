#!/usr/bin/env bash
# The elasticsearch destination's tests run against the stack's Elasticsearch: its system packages
# (Java 17, unzip, maven) and its distribution (Maven Central, cached under ~/.cache/sluice/) are
# fetched here, before the run, so that test/run.sh's background start of it only unpacks and starts.
set -euo pipefail
node dist/stack/cli.js install elasticsearch
