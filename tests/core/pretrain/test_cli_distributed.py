"""The CLI from store to fine-tuned model, and two-process gloo pre-training with torchrun."""

import os
import subprocess
import sys
from pathlib import Path

from safetensors import safe_open

from mspt_core.cli import main
from mspt_core.pretrain.targets import TARGETS_FILE, ClusterTargets
from mspt_core.train.checkpoint import CHECKPOINT
from tests.core.pretrain.conftest import write_store

REPO = Path(__file__).resolve().parents[3]
TINY = [
    "--size",
    "tiny",
    "--clusters",
    "8",
    "--kmeans-columns",
    "500",
    "--max-width",
    "160",
    "--batch-size",
    "4",
    "--warmup",
    "1",
    "--device",
    "cpu",
    "--threads",
    "1",
]


def _keys(path: Path) -> set[str]:
    with safe_open(str(path), framework="pt") as f:
        return set(f.keys())


def test_cli_pretrain_install_list_and_finetune(tmp_path, monkeypatch, capsys, fondue):
    monkeypatch.setenv("MSPT_DATA_DIR", str(tmp_path / "data"))
    page = fondue / "data/Dracula/05dracula.pdf_page_51.xml"
    assert main(["linestore", "build", str(page), "--out", str(tmp_path / "store"), "--lines-per-shard", "8"]) == 0
    assert "28 lines in 4 shards" in capsys.readouterr().out
    assert (
        main(
            [
                "pretrain",
                str(tmp_path / "store"),
                "--out",
                str(tmp_path / "run"),
                "--steps",
                "3",
                "--feature-layer",
                "2",
                "--install-as",
                "my-encoder",
                *TINY,
            ]
        )
        == 0
    )
    # The preset's k-means features: the bundled default model, here after 2 transformer layers.
    spec = ClusterTargets.load(tmp_path / "run" / TARGETS_FILE).spec
    assert (spec["features"], spec["layer"], Path(spec["source"]).name) == ("encoder", 2, "default")
    # Raw archive input: the store is built inside the run folder first.
    assert main(["pretrain", str(page), "--out", str(tmp_path / "raw"), "--steps", "1", *TINY]) == 0
    assert (tmp_path / "raw" / "lines" / "store.json").exists() and (tmp_path / "raw" / "encoder").is_dir()
    capsys.readouterr()
    assert main(["models", "list"]) == 0
    listing = capsys.readouterr().out
    (row,) = [line for line in listing.splitlines() if line.startswith("my-encoder\t")]
    assert "\tencoder, " in row
    assert (
        main(
            [
                "finetune",
                str(page),
                "--encoder",
                "my-encoder",
                "--out",
                str(tmp_path / "ft"),
                "--steps",
                "2",
                "--batch-size",
                "4",
                "--warmup",
                "1",
                "--val-every",
                "2",
                "--device",
                "cpu",
                "--freeze-steps",
                "1",
            ]
        )
        == 0
    )
    assert (tmp_path / "ft" / "best" / "model.safetensors").exists()


def test_two_process_gloo_pretraining_runs_and_saves_like_one_process(tmp_path):
    store = write_store(tmp_path / "store", 40, lines_per_shard=5)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "mspt_core.cli",
        "pretrain",
        str(store.root),
        "--out",
        str(tmp_path / "ddp"),
        "--steps",
        "3",
        *TINY,
    ]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 process(es)" in done.stdout
    assert main(["pretrain", str(store.root), "--out", str(tmp_path / "one"), "--steps", "3", *TINY]) == 0
    per_rank_rng = {"rng.torch.rank0", "rng.torch.rank1"}  # each rank's own RNG, for resume
    assert per_rank_rng <= _keys(tmp_path / "ddp" / CHECKPOINT)
    for name in (CHECKPOINT, "encoder/model.safetensors"):
        assert _keys(tmp_path / "ddp" / name) - per_rank_rng == _keys(tmp_path / "one" / name), name
