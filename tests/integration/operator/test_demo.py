"""`tend demo` (what `make demo` runs): the samples become Ready, shown in a steady table, and
the scripted failures (a crash loop, an OOM kill) exhaust their budgets and page the demo's
receivers, each up its ladder, with the reason it failed."""

from __future__ import annotations

import re
from pathlib import Path

from tend_sim.demo import COLUMNS, demo

SAMPLES = Path(__file__).resolve().parents[3] / "deploy" / "samples"


async def test_the_demo_brings_every_sample_to_ready_in_one_aligned_table() -> None:
    lines: list[str] = []
    code = await demo(SAMPLES, failures=SAMPLES / "failures", speed=20, deadline=60,
                      echo=lines.append)  # fmt: skip
    assert code == 0, "\n".join(lines)
    assert lines[-3].strip().startswith("all 6 ManagedServices Ready in"), lines[-3]
    summaries = sorted(lines[-2:])
    for summary, name in zip(summaries, ["crasher", "memory-hog"], strict=True):
        assert re.match(rf"{name}: restart budget exhausted \(\d+ restarts so far\);", summary)
        assert "paged up to critical" in summary, summary
    pages = [line for line in lines if line.startswith("  >> ")]
    reasons = {"crasher": "CrashLoop", "memory-hog": "OOMKilled"}
    for name, reason in reasons.items():
        mine = [page for page in pages if f"default/{name} is failing: {reason}" in page]
        assert [p.split(":")[0] for p in mine] == ["  >> team-slack", "  >> oncall-pagerduty"]
    assert len(pages) == 4, "only the scripted failures page"
    header = next(line for line in lines if line.startswith("NAMESPACE"))
    assert header.split() == list(COLUMNS)
    starts = [header.index(name) for name in COLUMNS]
    table = [line for line in lines if line.startswith("default ")]
    assert table, lines
    for line in table:
        # every cell starts under its header: nothing shifts as phases change
        assert all(line[start - 1 : start] in (" ", "") for start in starts[1:]), line
        assert all(line[start] != " " for start in starts if start < len(line)), line
    final = {line.split()[1]: line.split()[2:4] for line in table}
    assert final.pop("crasher") == ["False", "Degraded"]
    assert final.pop("memory-hog") == ["False", "Degraded"]
    assert sorted(final) == ["api", "health-monitor", "migrate", "postgres", "redis", "worker"]
    assert all(ready == "True" for ready, _ in final.values()), final
    assert final["migrate"][1] == "Succeeded"
