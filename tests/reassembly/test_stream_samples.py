"""The stream-* sample captures are what sample_pcaps/expected/stream-*.json says they are.

Read back with the same tshark passes scripts/make_stream_samples.py recorded them with: the
counts (packets, flags, retransmissions, out-of-order, duplicates) are unchanged, and tshark's
own follow rebuilds, from the capture alone, the bytes whose sha256 the programs recorded.
So a failure of the reassembly tests is ours, not the fixture's.
"""

from __future__ import annotations

import json
import shutil
import sys

import pytest
from helpers import EXPECTED_DIR, REPO_ROOT, SAMPLE_DIR

sys.path.insert(0, str(REPO_ROOT / "scripts"))
from make_stream_samples import (
    SCENARIOS,
    exact_duplicate_frames,
    follow_check,
    tshark_counts,
)

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")

SPECS = {f"stream-{sc.name}": json.loads((EXPECTED_DIR / f"stream-{sc.name}.json").read_text()) for sc in SCENARIOS}


@pytest.mark.parametrize("name", SPECS)
def test_tshark_counts_are_the_recorded_ones(name):
    spec = SPECS[name]
    path = SAMPLE_DIR / spec["file"]
    recorded = spec["tshark_observed"]["counts"]
    counts = tshark_counts(path)
    assert counts == {k: recorded[k] for k in counts}
    dups = exact_duplicate_frames(path, spec["server_port"])
    assert (dups["orig"], dups["resp"]) == (recorded["exact_duplicates_orig"], recorded["exact_duplicates_resp"])


@pytest.mark.parametrize("name", SPECS)
def test_tshark_follow_rebuilds_what_the_programs_wrote(name):
    spec = SPECS[name]
    follow = follow_check(SAMPLE_DIR / spec["file"], spec["connections"])
    assert follow["all_match"], follow["streams"]
    assert [(r["orig_bytes"], r["resp_bytes"]) for r in follow["streams"]] == \
        [(c["orig_bytes"], c["resp_bytes"]) for c in spec["connections"]]


@pytest.mark.parametrize("name", ["stream-lossy-ipv4", "stream-lossy-ipv6"])
def test_lossy_captures_show_loss_reordering_and_duplicates(name):
    spec = SPECS[name]
    counts, bridge = spec["tshark_observed"]["counts"], spec["bridge_did"]
    assert counts["retransmission"] > 0 and counts["out_of_order"] > 0 and counts["lost_segment"] > 0
    assert counts["exact_duplicates_orig"] > 0  # the bridge's copies of client data, captured after it
    # Client data passes the bridge before the capture point: its drops, copies and swaps all show.
    assert bridge["orig"]["dropped"] > 0 and bridge["orig"]["duplicated"] > 0 and bridge["orig"]["reordered"] > 0
    assert bridge["resp"]["dropped"] > 0  # server data is captured as sent: these come back as retransmissions


def test_clean_capture_is_clean():
    spec = SPECS["stream-clean-ipv4"]
    counts = spec["tshark_observed"]["counts"]
    assert [counts[k] for k in ("retransmission", "out_of_order", "lost_segment", "exact_duplicates_orig",
                                "bad_tcp_checksum", "frames_over_1514_bytes")] == [0] * 6
    assert all(v == 0 for d in ("orig", "resp") for k, v in spec["bridge_did"][d].items()
               if k not in ("frames", "data_frames"))


def test_stream_samples_stay_small():
    sizes = {name: (SAMPLE_DIR / spec["file"]).stat().st_size for name, spec in SPECS.items()}
    assert max(sizes.values()) <= 300_000 and sum(sizes.values()) <= 1_200_000, sizes
