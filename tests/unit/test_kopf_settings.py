"""How `tend run`'s options configure kopf: peering (auto-detected or mandatory) and the
cluster scanning a namespaced install's Role cannot grant."""

from __future__ import annotations

import kopf

from tend.runtime.handlers import RunOptions, configure


def settings_for(options: RunOptions) -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    configure(settings, options)
    return settings


def test_peering_is_auto_detected_unless_made_mandatory() -> None:
    assert settings_for(RunOptions()).peering.mandatory is False
    mandatory = settings_for(RunOptions(peering="tend", peering_mandatory=True))
    assert mandatory.peering.mandatory is True
    assert mandatory.peering.name == "tend"


def test_watching_named_namespaces_turns_off_kopfs_namespace_and_crd_scanning() -> None:
    # Cluster-wide, kopf watches CRDs (the ClusterRole grants it); serving named namespaces it
    # would also list every namespace, which deploy/components/namespaced's Role cannot grant.
    assert settings_for(RunOptions()).scanning.disabled is False
    assert settings_for(RunOptions(namespaces=["shop"])).scanning.disabled is True
