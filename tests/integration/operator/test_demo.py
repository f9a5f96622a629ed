"""`tend demo` (what `make demo` runs): the samples become Ready, shown in a steady table, and
the scripted crash loop exhausts its budget and pages the demo's receivers."""

from __future__ import annotations

from pathlib import Path

from tend_sim.demo import COLUMNS, demo

SAMPLES = Path(__file__).resolve().parents[3] / "deploy" / "samples"


async def test_the_demo_brings_every_sample_to_ready_in_one_aligned_table() -> None:
    lines: list[str] = []
    code = await demo(SAMPLES, failures=SAMPLES / "failures", speed=20, deadline=60,
                      echo=lines.append)  # fmt: skip
    assert code == 0, "\n".join(lines)
    assert lines[-2].strip().startswith("all 6 ManagedServices Ready in"), lines[-2]
    assert lines[-1].startswith("crasher: restart budget exhausted after 3 restarts;"), lines[-1]
    assert "paged up to critical" in lines[-1]
    pages = [line for line in lines if line.startswith("  >> ")]
    assert pages == [line for line in pages if "default/crasher is failing: CrashLoop" in line], (
        "only the crasher pages"
    )
    assert [p.split(":")[0] for p in pages] == ["  >> team-slack", "  >> oncall-pagerduty"]
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
    assert sorted(final) == ["api", "health-monitor", "migrate", "postgres", "redis", "worker"]
    assert all(ready == "True" for ready, _ in final.values()), final
    assert final["migrate"][1] == "Succeeded"
