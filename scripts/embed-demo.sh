#!/usr/bin/env bash
# Regenerates Sources/VMSim/Scenario/Demo.swift from examples/demo.vmsim (the built-in demo is
# the example file, byte for byte; a test checks that they agree).
set -euo pipefail
cd "$(dirname "$0")/.."
{
  echo '/// The built-in demo scenario `vmsim run` runs without a file (generated from'
  echo '/// examples/demo.vmsim by scripts/embed-demo.sh; a test checks they agree).'
  echo 'public enum DemoScenario {'
  echo '    public static let name = "demo"'
  echo '    public static let text = #"""'
  sed 's/^/        /; s/^ *$//' examples/demo.vmsim
  echo ''
  echo '        """#'
  echo '}'
} > Sources/VMSim/Scenario/Demo.swift
