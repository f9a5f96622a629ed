"""objects.to_json: the stored objects' encoding."""

from __future__ import annotations

import json

from tend_sim.objects import to_json


def test_to_json_is_compact_ordered_utf8_and_falls_back_past_64_bits() -> None:
    value = {"b": 1, "a": [True, None, 0.5], "note": "café ✓"}
    out = to_json(value)
    assert out == '{"b":1,"a":[true,null,0.5],"note":"café ✓"}'.encode()  # as Go writes it
    assert json.loads(out) == value
    big = {"n": 2**70}  # msgspec refuses integers past 64 bits; json.dumps takes them
    assert to_json(big) == b'{"n":1180591620717411303424}'
