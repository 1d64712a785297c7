"""A Wireshark field we know but do not compute gets an error saying why, not the closest names."""

from __future__ import annotations

import pytest

from tcpanalyze.dfilter import DisplayFilter
from tcpanalyze.errors import UsageError


@pytest.mark.parametrize("expression, reason", [
    ("tcp.options.tfo.cookie", "we do not decode TCP Fast Open options"),
    ("tcp.options.tfo", "we do not decode TCP Fast Open options"),
    ("tcp.window_size_scalefactor == 128", "window scaling"),
    ("tcp.analysis.push_bytes_sent > 0", "since the last PSH"),
])
def test_a_field_we_do_not_compute_says_why(expression, reason):
    with pytest.raises(UsageError, match=f"we do not compute: .*{reason}.*--tshark"):
        DisplayFilter.for_packets(expression)


def test_an_unknown_field_still_names_the_closest_ones():
    with pytest.raises(UsageError, match="did you mean tcp.analysis.rto"):
        DisplayFilter.for_packets("tcp.analysis.rtoo")
