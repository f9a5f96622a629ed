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


def test_stored_objects_share_their_key_strings() -> None:
    """Bodies parsed separately (as the HTTP layer does) are stored with one copy of each key."""
    from tend_sim.store import Store

    store = Store()
    cms = store.resource("configmaps")
    for i in range(2):
        body = json.loads(json.dumps({"metadata": {"name": f"c{i}"}, "data": {"someKey": "v"}}))
        store.create(cms, {**body, "metadata": {**body["metadata"], "namespace": "default"}})
    a, b = (store.get_entry(cms, "default", f"c{i}").obj for i in range(2))
    (ka,), (kb,) = a["data"], b["data"]
    assert ka == kb == "someKey"
    assert ka is kb
