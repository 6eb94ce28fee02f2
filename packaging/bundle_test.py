"""`make bundle-test`: the desktop bundle (dist/mspt, made by `make bundle`) works on its own.

- The bundled `mspt-app` starts offscreen with an empty user folder, opens the sample project,
  recognizes it and exits cleanly (exit code 0); what it read must be close to the sample's text.
- The bundled `mspt` transcribes the sample page it carries.
- Prints the bundle's size and the app's start-up time (the figures in benchmarks/RESULTS.md).

Nothing from this checkout's Python is used: the programs run with an environment that has no
PYTHONPATH and no virtualenv, from a temporary folder.

    .venv/bin/python packaging/bundle_test.py dist/mspt
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def char_error_rate(truth: str, text: str) -> float:
    """Levenshtein distance / length of ``truth`` (kept here: the bundle test imports no mspt)."""
    previous = list(range(len(text) + 1))
    for i, a in enumerate(truth, 1):
        current = [i]
        for j, b in enumerate(text, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return previous[-1] / max(1, len(truth))


def main() -> int:
    bundle = Path(sys.argv[1] if len(sys.argv) > 1 else "dist/mspt").resolve()
    cli, app = bundle / "mspt", bundle / "mspt-app"
    samples = next(bundle.rglob("_resources/samples"))
    truth = " ".join((samples / "sample-page.txt").read_text(encoding="utf-8").split())
    work = Path(tempfile.mkdtemp(prefix="mspt-bundle-test-"))
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "MSPT_"))}
    env = {
        **clean,
        "QT_QPA_PLATFORM": "offscreen",
        "MSPT_DATA_DIR": str(work / "data"),
        "MSPT_CACHE_DIR": str(work / "cache"),
    }

    print(f"bundle: {bundle} ({folder_size(bundle) / 2**20:.0f} MiB)")
    version = subprocess.run([cli, "--version"], env=env, cwd=work, capture_output=True, text=True, check=True)
    print(f"cli: {version.stdout.strip()}")

    start = time.perf_counter()
    done = subprocess.run(
        [cli, "transcribe", samples / "sample-page.png", "--no-ground-truth", "--out", "out", "--to", "txt", "page"],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        print(done.stderr[-3000:])
        return 1
    text = " ".join((work / "out" / "sample-page.txt").read_text(encoding="utf-8").split())
    cli_cer = char_error_rate(truth, text)
    print(f"cli transcribe: {time.perf_counter() - start:.1f} s, page CER {100 * cli_cer:.1f} %")

    report = work / "app-report.json"
    start = time.perf_counter()
    ran = subprocess.run(
        [app, "--sample"],  # with no project named, a first start shows the welcome panel instead
        env={**env, "MSPT_BUNDLE_SMOKE_TEST": str(report), "MSPT_BUNDLE_T0": repr(time.time())},
        cwd=work,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    took = time.perf_counter() - start
    if ran.returncode != 0 or not report.is_file():
        print(f"app: exit code {ran.returncode}\n{ran.stderr[-3000:]}")
        return 1
    read = json.loads(report.read_text(encoding="utf-8"))
    app_cer = char_error_rate(truth, " ".join(" ".join(read["lines"]).split()))
    print(
        f"app: opened {read['project']}, recognized {len(read['lines'])} lines, page CER {100 * app_cer:.1f} %, "
        f"start to exit {took:.1f} s"
    )

    print(f"app start-up (launch to the sample project shown): {read['shown_after_s']:.1f} s")
    ok = cli_cer <= 0.08 and app_cer <= 0.08
    print("bundle test: " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
