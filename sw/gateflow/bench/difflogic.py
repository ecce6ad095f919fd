"""``gateflow bench difflogic``: train a network with difflogic's own code, import it, check it.

difflogic (PyPI ``difflogic`` 0.1.0, MIT) is not a gateflow dependency. Its wheel cannot
be built without CUDA (its ``setup.py`` compiles a CUDA extension), but its Python
implementation (``LogicLayer(..., device="cpu", implementation="python")``) runs on CPU.
:func:`install_difflogic` downloads the release's sdist from the package registry,
checks the file's sha256, and unpacks its Python files into ``build/bench-deps/difflogic``.
Its ``difflogic.py`` imports the compiled extension ``difflogic_cuda`` unconditionally,
though only its CUDA paths call it; the folder therefore also gets an empty
``difflogic_cuda`` module whose every attribute raises. Nothing of difflogic itself is
changed.

The run trains ``Flatten -> LogicLayer x L -> GroupSum`` with difflogic's modules on the
chosen dataset (pixels binarized by gateflow's encoder, so both sides read the same
bits), saves the whole model with ``torch.save``, imports it with
``gateflow.importers.read("difflogic", ...)`` and checks, on every test image, the
netlist's golden class scores against difflogic's own ``model.eval()`` output times tau.
The JSON gives both accuracies, the agreement and the timings.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import json
import sys
import tarfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gateflow.bench import environment
from gateflow.errors import GateflowError

DIFFLOGIC_VERSION = "0.1.0"
DIFFLOGIC_SDIST = (
    "https://files.pythonhosted.org/packages/9c/18/"
    "e7ee8ec8a895f000411853174636f6a90480076da43ca3df40e1e4875fcc/difflogic-0.1.0.tar.gz"
)
DIFFLOGIC_SHA256 = "979ce845a494bdf8ebeeb94d61f3bbf1ae018257ee5b048f936567b53fc115a1"
DIFFLOGIC_DIR = "build/bench-deps/difflogic"
_STUB = '''"""Stands in for difflogic's compiled CUDA extension, which is not built here."""


def __getattr__(name):
    raise ImportError("difflogic_cuda (difflogic's CUDA extension) is not built; "
                      "use LogicLayer(..., device='cpu', implementation='python')")
'''


class DifflogicUnavailable(GateflowError):
    """difflogic could not be downloaded or loaded."""


def install_difflogic(target: str | Path = DIFFLOGIC_DIR) -> dict[str, Any]:
    """Download difflogic's sdist, check its sha256, unpack its Python files to ``target``."""
    target = Path(target)
    try:
        with urllib.request.urlopen(DIFFLOGIC_SDIST, timeout=120) as r:  # noqa: S310 - fixed URL
            data = r.read()
    except OSError as exc:
        raise DifflogicUnavailable(f"could not download {DIFFLOGIC_SDIST}: {exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != DIFFLOGIC_SHA256:
        raise DifflogicUnavailable(f"difflogic sdist has sha256 {digest}, not {DIFFLOGIC_SHA256}")
    pkg = target / "difflogic"
    pkg.mkdir(parents=True, exist_ok=True)
    prefix = f"difflogic-{DIFFLOGIC_VERSION}/difflogic/"
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            name = member.name
            if member.isfile() and name.startswith(prefix) and name.endswith(".py"):
                rest = name[len(prefix) :]
                if "/" in rest:  # the cuda/ sources are not needed
                    continue
                src = tar.extractfile(member)
                assert src is not None
                (pkg / rest).write_bytes(src.read())
    (target / "difflogic_cuda.py").write_text(_STUB)
    (target / "VERSION").write_text(f"difflogic {DIFFLOGIC_VERSION} sha256 {digest}\n")
    return {"installed": str(target), "sha256": digest}


def load_difflogic(folder: str | Path = DIFFLOGIC_DIR):
    """The ``difflogic`` package from ``folder`` (see :func:`install_difflogic`)."""
    folder = Path(folder).resolve()
    if not (folder / "difflogic" / "difflogic.py").is_file():
        raise DifflogicUnavailable(
            f"difflogic is not installed in {folder} (make bench-deps, or "
            "gateflow bench difflogic --install)"
        )
    loaded = sys.modules.get("difflogic")
    if loaded is not None:
        if Path(loaded.__file__).resolve().parent != folder / "difflogic":
            raise DifflogicUnavailable("another difflogic is already imported in this process")
        return loaded
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module("difflogic")
    finally:
        sys.path.remove(str(folder))


@dataclass(frozen=True)
class DifflogicBenchSpec:
    dataset: str = "mnist"
    data_dir: str | None = None
    threshold: int = 128  # pixel >= threshold is a 1 (difflogic's MNIST rounds pixel / 255)
    layers: int = 4
    width: int = 2000
    tau: float = 20.0
    lr: float = 0.01
    batch_size: int = 128
    steps: int = 3000
    seed: int = 0
    threads: int = 1
    out: str = "build/difflogic-mnist"
    folder: str = DIFFLOGIC_DIR


def run_difflogic(spec: DifflogicBenchSpec) -> dict[str, Any]:
    import torch

    from gateflow.data import get_dataset
    from gateflow.importers import ImportOptions, read
    from gateflow.importers.common import check, integer_scores
    from gateflow.ir.golden import eval_bits

    difflogic = load_difflogic(spec.folder)
    torch.set_num_threads(spec.threads)
    torch.manual_seed(spec.seed)
    data = get_dataset(spec.dataset, spec.data_dir)
    options = ImportOptions(thresholds=(float(spec.threshold),))
    from gateflow.importers.common import input_encoder

    encoder = input_encoder(data.X_train.shape[1], options.thresholds)
    x_train = torch.as_tensor(encoder.encode(data.X_train), dtype=torch.float32)
    y_train = torch.as_tensor(data.y_train, dtype=torch.long)
    bits_test = encoder.encode(data.X_test)
    classes = int(data.y_train.max()) + 1

    layers: list[Any] = [torch.nn.Flatten()]
    width_in = x_train.shape[1]
    for _ in range(spec.layers):
        layers.append(
            difflogic.LogicLayer(width_in, spec.width, device="cpu", implementation="python")
        )
        width_in = spec.width
    layers.append(difflogic.GroupSum(classes, tau=spec.tau, device="cpu"))
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=spec.lr)
    gen = torch.Generator().manual_seed(spec.seed)
    t0 = time.perf_counter()
    model.train()
    # difflogic 0.1.0's forward_python prints the index dtypes on every call: kept off stdout
    with contextlib.redirect_stdout(io.StringIO()):
        for _ in range(spec.steps):
            idx = torch.randint(0, len(x_train), (spec.batch_size,), generator=gen)
            loss = torch.nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        train_s = time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            scores = [model(torch.as_tensor(bits_test[i : i + 1000], dtype=torch.float32))
                      for i in range(0, len(bits_test), 1000)]  # fmt: skip

    out = Path(spec.out)
    out.mkdir(parents=True, exist_ok=True)
    difflogic_scores = integer_scores(torch.cat(scores), spec.tau, "difflogic GroupSum")
    torch.save(model, out / "model.pt")

    t1 = time.perf_counter()
    imported = read("difflogic", out / "model.pt", options)
    import_s = time.perf_counter() - t1
    net = imported.netlist
    net.meta["dataset"] = spec.dataset
    golden = eval_bits(net, bits_test).scores
    same = np.all(golden == difflogic_scores, axis=1)
    importer_check = check(imported, data.X_test)
    net.save(out / "ir.json")
    result = {
        "bench": "difflogic",
        "spec": asdict(spec),
        "difflogic": {"version": DIFFLOGIC_VERSION, "implementation": "python", "device": "cpu"},
        "gates": net.num_gates,
        "train_seconds": round(train_s, 1),
        "import_seconds": round(import_s, 2),
        "test_samples": len(bits_test),
        "difflogic_eval_accuracy": float(np.mean(np.argmax(difflogic_scores, 1) == data.y_test)),
        "golden_accuracy": float(np.mean(np.argmax(golden, 1) == data.y_test)),
        "golden_vs_difflogic_eval": f"{int(same.sum())}/{len(same)}",
        "importer_check": f"{importer_check.agree}/{importer_check.samples}",
        "files": {"model": str(out / "model.pt"), "ir": str(out / "ir.json")},
        "environment": environment(),
    }
    (out / "bench.json").write_text(json.dumps(result, indent=1) + "\n")
    if not same.all():
        raise GateflowError(
            f"golden model and difflogic eval disagree on {int((~same).sum())} test images"
        )
    return result
