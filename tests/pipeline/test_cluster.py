"""`--engine ray` on a cluster of several nodes, simulated on this machine with
`ray.cluster_utils.Cluster` (a head node and a worker node, one CPU each, their own raylets
and object stores): the same output bytes as the local engine, and a node lost mid-build
either recovered by Ray (the same bytes) or one clear error with nothing written. About a
minute."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from arenatok.dataset.validate import validate_dir
from arenatok.errors import EngineError
from arenatok.pipeline.driver import build

ray = pytest.importorskip("ray", reason="the ray extra is missing")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Ray's own, on connect


@pytest.fixture
def cluster() -> Iterator[Any]:
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    c.add_node(num_cpus=1)
    ray.init(address=c.address, log_to_driver=False, logging_level="ERROR")
    try:
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


def test_two_nodes_write_the_local_engines_bytes(
    cluster: Any, arena_parquet: Path, tmp_path: Path
) -> None:
    build(arena_parquet, out=tmp_path / "local", limit=None)
    build(arena_parquet, out=tmp_path / "ray", limit=None, engine="ray")
    for name in ("data_out.json", "data_out.jsonl", "mini_data_out.json", "rejects.jsonl"):
        local, remote = tmp_path / "local" / name, tmp_path / "ray" / name
        assert local.exists() == remote.exists()
        if local.exists():
            assert local.read_bytes() == remote.read_bytes(), name
    assert validate_dir(tmp_path / "ray") == []


def test_a_node_lost_mid_build_is_recovered_or_one_clear_error(
    cluster: Any, slow_source: Path, tmp_path: Path
) -> None:
    """The worker node is killed (not shut down) once the first results are in. Ray re-runs
    the lost work on the head node: the build completes with the local engine's bytes; or, if
    it cannot, the build fails with an EngineError and writes nothing."""
    worker = next(n for n in cluster.list_all_nodes() if n is not cluster.head_node)
    lost: list[int] = []

    def progress(done: int, total: int | None) -> None:
        if done and not lost:
            lost.append(done)
            cluster.remove_node(worker, allow_graceful=False)

    build(slow_source, out=tmp_path / "local", limit=None)
    failed: EngineError | None = None
    try:
        build(slow_source, out=tmp_path / "ray", limit=None, engine="ray", progress=progress)
    except EngineError as e:
        failed = e
    if failed is not None:
        assert "the Ray cluster lost work after" in failed.message
        assert not (tmp_path / "ray" / "artifact_metadata.json").exists()
    else:
        local = (tmp_path / "local" / "data_out.jsonl").read_bytes()
        assert (tmp_path / "ray" / "data_out.jsonl").read_bytes() == local
        assert validate_dir(tmp_path / "ray") == []
    assert lost  # the node was lost while the build ran
