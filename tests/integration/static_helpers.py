# SPDX-License-Identifier: Apache-2.0
"""Where the daemon's static helpers (crio-pinns, crio-pause) of the build under test are."""

import os
from pathlib import Path

import crio_helpers as h


def helper_binary(name):
    """The helper next to the crio binary under test (CRIO_BINARY, as tests/run-all sets it), else in
    $BUILD (default build): where the daemon looks, next to its own executable."""
    if os.environ.get("CRIO_BINARY"):
        return h.BINARY.parent / name
    build = Path(os.environ.get("BUILD") or "build")
    return (build if build.is_absolute() else h.REPO / build) / name
