"""Claim volumes on a host (`executor.claimvolumes`) against a fake Podman API: listed back from
their labels only, made when missing with the claim's labels, kept (never emptied) when present,
a same-named volume of someone else refused, a volume made meanwhile by a sibling pod accepted."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.executor import claimvolumes, errors, protocol
from reconciler.model import base, claims, hoststate, observedjson

VOLUME = claims.volume_name("shop", "data")
LABELS = {hoststate.MANAGED_BY: hoststate.MANAGER, hoststate.LABEL_NAMESPACE: "shop",
          claims.LABEL_CLAIM: "data", claims.LABEL_RECLAIM: "Retain"}  # fmt: skip


class FakeApi:
    def __init__(self, volumes: dict[str, dict[str, Any]] | None = None, race: bool = False):
        self.volumes = dict(volumes or {})
        self.race = race
        self.calls: list[str] = []

    def list_volumes(self, filters: dict[str, list[str]]) -> list[dict[str, Any]]:
        self.calls.append(f"list {sorted(filters['label'])}")
        return [{"Name": name, **data} for name, data in self.volumes.items()]

    def inspect_volume(self, name: str) -> dict[str, Any] | None:
        self.calls.append(f"inspect {name}")
        found = self.volumes.get(name)
        return None if found is None else {"Name": name, **found}

    def create_volume(self, spec: dict[str, Any]) -> None:
        self.calls.append(f"create {spec['Name']}")
        if self.race:  # a sibling pod's create won
            self.volumes[spec["Name"]] = {"Labels": dict(spec["Label"])}
            raise errors.OperationFailed("create volume", "volume already exists")
        self.volumes[spec["Name"]] = {"Labels": dict(spec["Label"])}


class Session:
    """What `claimvolumes` uses of a HostSession: its API, target and the executor's counters."""

    def __init__(self, api: FakeApi, stats: protocol.ExecutorStats) -> None:
        self.api = api
        self.stats = stats
        self.target = hoststate.HostTarget("h1", "198.18.0.11", 22, "rc-h1")


def _session(api: FakeApi) -> Any:
    return Session(api, protocol.ExecutorStats())


def _run() -> hoststate.PodRun:
    volume = claims.ClaimVolume("shop", "data", VOLUME, base.FrozenMap(LABELS))
    return hoststate.PodRun("shop", "web-0", "h1", "x", base.FrozenMap(), (), claims=(volume,))


def test_observe_reads_only_our_claim_volumes() -> None:
    api = FakeApi({
        VOLUME: {"Labels": LABELS, "CreatedAt": "2026-11-29T14:00:00Z"},
        "rc-pvc-other": {"Labels": {**LABELS, claims.LABEL_CLAIM: "other"}},  # name not ours
        "hand-made": {"Labels": {"x": "y"}},
    })  # fmt: skip
    [found] = claimvolumes.observe(_session(api))
    assert (found.namespace, found.claim, found.volume) == ("shop", "data", VOLUME)
    assert found.host == "h1"
    assert found.created_at == "2026-11-29T14:00:00Z"
    assert claims.LABEL_CLAIM in api.calls[0] and hoststate.MANAGED_BY in api.calls[0]


def test_prepare_makes_a_missing_volume_with_the_claim_labels() -> None:
    api = FakeApi()
    claimvolumes.prepare(_session(api), _run())
    assert api.volumes[VOLUME]["Labels"] == LABELS


def test_prepare_keeps_an_existing_volume() -> None:
    api = FakeApi({VOLUME: {"Labels": LABELS}})
    claimvolumes.prepare(_session(api), _run())
    assert api.calls == [f"inspect {VOLUME}"]  # never removed, never re-made


def test_prepare_refuses_a_volume_it_did_not_make() -> None:
    api = FakeApi({VOLUME: {"Labels": {"owner": "someone"}}})
    with pytest.raises(errors.NameConflict):
        claimvolumes.prepare(_session(api), _run())


def test_prepare_accepts_a_volume_a_sibling_pod_made_meanwhile() -> None:
    api = FakeApi(race=True)
    claimvolumes.prepare(_session(api), _run())
    assert api.calls == [f"inspect {VOLUME}", f"create {VOLUME}", f"inspect {VOLUME}"]


class RemovingApi(FakeApi):
    def __init__(self, volumes: dict[str, dict[str, Any]], users: int = 0) -> None:
        super().__init__(volumes)
        self.users = users

    def list_containers(self, filters: dict[str, list[str]]) -> list[dict[str, Any]]:
        self.calls.append(f"containers {filters}")
        return [{"Id": str(i)} for i in range(self.users)]

    def remove_volume(self, name: str) -> None:
        self.calls.append(f"remove {name}")
        del self.volumes[name]


def _claim() -> claims.ObservedClaim:
    return claims.ObservedClaim("shop", "data", VOLUME, "h1", base.FrozenMap(LABELS))


def test_remove_takes_an_unused_claim_volume() -> None:
    api = RemovingApi({VOLUME: {"Labels": LABELS}})
    assert "removed" in claimvolumes.remove(_session(api), _claim())
    assert VOLUME not in api.volumes


def test_remove_leaves_a_used_or_foreign_volume() -> None:
    used = RemovingApi({VOLUME: {"Labels": LABELS}}, users=1)
    assert "still used" in claimvolumes.remove(_session(used), _claim())
    foreign = RemovingApi({VOLUME: {"Labels": {"owner": "someone"}}})
    assert "left alone" in claimvolumes.remove(_session(foreign), _claim())
    assert VOLUME in used.volumes and VOLUME in foreign.volumes


def test_claims_travel_through_the_daemons_observe_codec() -> None:
    seen = {"h1": hoststate.HostObservation("h1", True, (), claims=(_claim(),))}
    targets = {"h1": hoststate.HostTarget("h1", "198.18.0.11")}
    [(_, back)] = observedjson.decode(observedjson.encode(seen, targets))
    assert back.claims == (_claim(),)  # `get pvc` and `diff` through a daemon see them too
