"""Warning headers: quoting, de-duplication and kube-apiserver's 4 Ki-rune truncation."""

from __future__ import annotations

from tend_sim.warning_headers import warning_headers


def test_quoted_and_deduplicated() -> None:
    headers = warning_headers(['unknown field "spec.a"', "back\\slash", 'unknown field "spec.a"'])
    assert headers is not None
    assert [v for _, v in headers] == [
        '299 - "unknown field \\"spec.a\\""',
        '299 - "back\\\\slash"',
    ]
    assert warning_headers([]) is None
    assert warning_headers(["bell\x07"]) is None  # control characters: not sent


def test_past_4ki_runes_every_warning_is_cut_to_256_and_the_rest_dropped() -> None:
    texts = [f"{i}" + "x" * 999 for i in range(10)]  # 1,000 runes each
    headers = warning_headers(texts)
    assert headers is not None
    values = [v for _, v in headers]
    # the fifth crosses 4,096: all five so far are cut to 256, then more fit until 4,096
    assert all(len(v) == len('299 - ""') + 256 for v in values)
    assert len(values) == 10
    many = warning_headers([f"{i:03d}" + "y" * 297 for i in range(40)])  # 300 runes each
    assert many is not None
    # the 14th crosses 4,096: the 14 are cut to 256 (3,584), two more fit, the rest dropped
    assert len(many) == 16
