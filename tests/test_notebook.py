"""examples/backtest.ipynb runs top to bottom in a real Jupyter kernel (nbclient + ipykernel
of this venv) against the harness PostgreSQL and a temporary lake, and says what it must."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

import t0lake
from t0lake import demo

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "backtest.ipynb"
HEX64 = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture
def certified_dsn(examples_dsn: str) -> str:
    """The example stores with the demo's planted posts, the trainer-derived store
    certified: what the notebook sets up when it starts its own server."""
    demo.plant_signal(examples_dsn)
    t0lake.certify(examples_dsn, demo.ENTRYPOINT, check_days=3)
    return examples_dsn


def _text(nb: nbformat.NotebookNode) -> list[str]:
    lines: list[str] = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                lines += output["text"].splitlines()
    return lines


def test_notebook_is_stored_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_python3_kernel_is_this_venv_interpreter() -> None:
    # nbclient starts the kernelspec "python3"; its argv[0] "python" must become the
    # interpreter running the tests (the venv's), not whatever "python" is on PATH.
    command = KernelManager(kernel_name="python3").format_kernel_cmd()
    assert command[0] == sys.executable
    assert command[1:3] == ["-m", "ipykernel_launcher"]


def test_backtest_notebook_runs_against_postgres_and_a_new_lake(
    certified_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no T0LAKE_LAKE: the notebook makes a temporary lake (under this TMPDIR) and must
    # remove it in its last cell
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("T0LAKE_PG_DSN", certified_dsn)
    monkeypatch.delenv("T0LAKE_LAKE", raising=False)
    monkeypatch.setenv("TMPDIR", str(temp))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=300,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell

    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    lines = _text(nb)

    # the lake was a new temporary directory, held the exported snapshot, and is gone
    [lake_line] = [line for line in lines if line.startswith("lake: ")]
    lake = Path(lake_line.removeprefix("lake: "))
    assert lake.parent == temp and lake.name.startswith("t0lake-notebook-")
    assert any(line.startswith("snapshot 1: 20 days written") for line in lines)
    assert "cleaned up: - lake" in lines
    assert not lake.exists() and list(temp.iterdir()) == []

    # one metric and one fingerprint per split of the task
    n_splits = len(demo.task_splits(demo.Task()))
    metrics = [line for line in lines if line.startswith("METRIC ")]
    assert [int(re.search(r"split=(\d+)", m)[1]) for m in metrics] == list(range(n_splits))  # type: ignore[index]
    for m in metrics:
        mae, naive = (float(re.search(rf"{k}=([0-9.]+)", m)[1]) for k in ("mae", "naive"))  # type: ignore[index]
        assert mae > 0 and naive > 0
    prints = [line.split()[-1] for line in lines if line.startswith("FINGERPRINT ")]
    assert len(prints) == n_splits and all(HEX64.match(p) for p in prints)
    assert len(set(prints)) == n_splits  # different training frames, different fingerprints

    # the training frame is reproduced from the same snapshot: same fingerprint, same rows
    runs = [line.split()[-1] for line in lines if line.startswith("REPRODUCE run")]
    assert len(runs) == 2 and runs[0] == runs[1] and HEX64.match(runs[0])
    assert runs[0] == prints[0]
    assert "same fingerprint: True | same rows: True" in lines
    assert "same as the backtest's split 0: True" in lines
    # and the record names the snapshot, the proof and the days the join read
    text = "\n".join(lines)
    assert '"snapshot_id": 1' in text and '"verified": true' in text
    assert '"2026-01-01"' in text and '"2026-01-05"' in text and '"2026-01-06"' not in text

    # the planted signal: an honest skill in every split, and the leaky join's inflated one
    leaks = [line for line in lines if line.startswith("LEAK ")]
    assert len(leaks) == n_splits
    for leak in leaks:
        honest, leaky, known = (
            float(re.search(rf"{k}=([+-][0-9.]+)", leak)[1])  # type: ignore[index]
            for k in ("t0lake", "leaky", "known_at")
        )
        assert 0 < honest < leaky and abs(known - honest) < 0.05

    # the plot of the per-split metric
    assert any("image/png" in o.get("data", {}) for o in outputs)
