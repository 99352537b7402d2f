#!/usr/bin/env bash
# How long pypack takes to read a simple-API HTML page of 10k, 20k, 40k and
# 80k links (a find-links or mirror page of a big project): the median of 5
# parses each. Linear time shows as the time doubling with the page.
# Usage: bench/html-pages.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --quiet --test index_pages page_sizes -- --ignored --nocapture 2>&1 |
  grep -E 'links|test result'
