# SPDX-License-Identifier: Apache-2.0
"""The config reference in docs/ is generated from the daemon; it must match what the daemon prints."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_crio_conf_reference_is_current(crio_binary):
    gen = os.path.join(REPO, 'docs', 'gen-crio-conf-doc.py')
    fresh = subprocess.run([sys.executable, gen, crio_binary], check=True, capture_output=True,
                           text=True).stdout
    with open(os.path.join(REPO, 'docs', 'crio.conf.5.md')) as f:
        assert f.read() == fresh, 'docs/crio.conf.5.md is stale: run docs/gen-crio-conf-doc.py'
