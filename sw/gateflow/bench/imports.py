"""``gateflow bench import LIBRARY``: train a network with difflogic's or torchlogix's own
code, import it, check it.

difflogic (PyPI ``difflogic`` 0.1.0, MIT) is not a gateflow dependency. Its wheel cannot
be built without CUDA (its ``setup.py`` compiles a CUDA extension), but its Python
implementation (``LogicLayer(..., device="cpu", implementation="python")``) runs on CPU.
:func:`install_difflogic` downloads the release's sdist from the package registry,
checks the file's sha256, and unpacks its Python files into ``build/bench-deps/difflogic``.
Its ``difflogic.py`` imports the compiled extension ``difflogic_cuda`` unconditionally,
though only its CUDA paths call it; the folder therefore also gets an empty
``difflogic_cuda`` module whose every attribute raises. Nothing of difflogic itself is
changed.

torchlogix 0.2.2 comes from ``make bench-deps`` as well (``pip install --no-deps``; see
:func:`gateflow.bench.conv.load_torchlogix`).

The run trains, with the library's own modules, either a dense network (``Flatten ->``
L logic layers of W gates ``-> GroupSum``) or, for torchlogix, a conv network
(``LogicConv2d -> OrPooling2d -> Flatten ->`` L dense layers ``-> GroupSum``) on the
chosen dataset, pixels binarized by gateflow's encoder (``pixel >= threshold``), so both
sides read the same bits. It saves the whole model with ``torch.save``, imports it with
``gateflow.importers.read`` and checks, on every test image, the netlist's golden class
scores against the library's own ``model.eval()`` output times tau. The JSON gives both
accuracies, the agreement and the timings.
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
            "gateflow bench import difflogic --install)"
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


LIBRARIES = ("difflogic", "torchlogix")


@dataclass(frozen=True)
class ImportBenchSpec:
    library: str = "difflogic"
    arch: str = "dense"  # or "conv" (torchlogix)
    dataset: str = "mnist"
    data_dir: str | None = None
    threshold: int = 128  # pixel >= threshold is a 1 (difflogic's MNIST rounds pixel / 255)
    layers: int = 4
    width: int = 2000
    kernels: int = 8  # conv: LogicConv2d kernels (tree depth 2, 3x3 fields, 2x2 OR pooling)
    tau: float = 20.0
    lr: float = 0.01
    batch_size: int = 128
    steps: int = 3000
    seed: int = 0
    threads: int = 1
    out: str = "build/difflogic-mnist"
    folder: str | None = None  # where the library is installed (default: build/bench-deps/...)


def _difflogic_model(spec: ImportBenchSpec, in_bits: int, classes: int, image: tuple[int, int]):
    import torch

    if spec.arch != "dense":
        raise GateflowError("difflogic has dense logic layers only (--arch dense)")
    difflogic = load_difflogic(spec.folder or DIFFLOGIC_DIR)
    layers: list[Any] = [torch.nn.Flatten()]
    for i in range(spec.layers):
        layers.append(
            difflogic.LogicLayer(
                in_bits if i == 0 else spec.width, spec.width, device="cpu", implementation="python"
            )
        )
    layers.append(difflogic.GroupSum(classes, tau=spec.tau, device="cpu"))
    return torch.nn.Sequential(*layers), (in_bits,)


def _torchlogix_model(spec: ImportBenchSpec, in_bits: int, classes: int, image: tuple[int, int]):
    import torch

    from gateflow.bench.conv import TORCHLOGIX_DIR, load_torchlogix

    L, _ = load_torchlogix(spec.folder or TORCHLOGIX_DIR)
    layers: list[Any] = []
    width_in, shape = in_bits, (in_bits,)
    if spec.arch == "conv":
        h, w = image
        layers += [
            L.LogicConv2d(
                in_dim=h, channels=1, num_kernels=spec.kernels, tree_depth=2, receptive_field_size=3
            ),  # fmt: skip
            L.OrPooling2d(kernel_size=2, stride=2),
        ]
        width_in, shape = spec.kernels * ((h - 2) // 2) * ((w - 2) // 2), (1, h, w)
    layers.append(torch.nn.Flatten())
    for i in range(spec.layers):
        layers.append(L.LogicDense(in_dim=width_in if i == 0 else spec.width, out_dim=spec.width))
    layers.append(L.GroupSum(k=classes, tau=spec.tau))
    return torch.nn.Sequential(*layers), shape


def run_import_bench(spec: ImportBenchSpec) -> dict[str, Any]:
    import torch

    from gateflow.data import get_dataset
    from gateflow.importers import ImportOptions, read
    from gateflow.importers.common import check, input_encoder, integer_scores
    from gateflow.ir.golden import eval_bits

    if spec.library not in LIBRARIES:
        raise GateflowError(f"unknown library {spec.library!r}; one of {', '.join(LIBRARIES)}")
    torch.set_num_threads(spec.threads)
    data = get_dataset(spec.dataset, spec.data_dir)
    options = ImportOptions(thresholds=(float(spec.threshold),))
    encoder = input_encoder(data.X_train.shape[1], options.thresholds)
    x_train = torch.as_tensor(encoder.encode(data.X_train), dtype=torch.float32)
    y_train = torch.as_tensor(data.y_train, dtype=torch.long)
    bits_test = encoder.encode(data.X_test)
    classes = int(data.y_train.max()) + 1
    side = int(round(data.X_train.shape[1] ** 0.5))
    build = _difflogic_model if spec.library == "difflogic" else _torchlogix_model
    torch.manual_seed(spec.seed)
    model, shape = build(spec, x_train.shape[1], classes, (side, side))
    opt = torch.optim.Adam(model.parameters(), lr=spec.lr)
    gen = torch.Generator().manual_seed(spec.seed)
    t0 = time.perf_counter()
    model.train()
    # difflogic 0.1.0's forward_python prints the index dtypes on every call: kept off stdout
    with contextlib.redirect_stdout(io.StringIO()):
        for _ in range(spec.steps):
            idx = torch.randint(0, len(x_train), (spec.batch_size,), generator=gen)
            logits = model(x_train[idx].view(-1, *shape))
            loss = torch.nn.functional.cross_entropy(logits, y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        train_s = time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            scores = [model(torch.as_tensor(bits_test[i : i + 1000], dtype=torch.float32)
                            .view(-1, *shape)) for i in range(0, len(bits_test), 1000)]  # fmt: skip

    out = Path(spec.out)
    out.mkdir(parents=True, exist_ok=True)
    library_scores = integer_scores(torch.cat(scores), spec.tau, f"{spec.library} GroupSum")
    torch.save(model, out / "model.pt")

    t1 = time.perf_counter()
    imported = read(spec.library, out / "model.pt", options)
    import_s = time.perf_counter() - t1
    net = imported.netlist
    net.meta["dataset"] = spec.dataset
    golden = eval_bits(net, bits_test).scores
    same = np.all(golden == library_scores, axis=1)
    importer_check = check(imported, data.X_test)
    net.save(out / "ir.json")
    version = DIFFLOGIC_VERSION if spec.library == "difflogic" else "0.2.2"
    result = {
        "bench": "import",
        "spec": asdict(spec),
        "library": {"name": spec.library, "version": version, "device": "cpu"},
        "distinct_gates": net.num_distinct_gates,
        "unrolled_gates": net.num_unrolled_gates,
        "train_seconds": round(train_s, 1),
        "import_seconds": round(import_s, 2),
        "test_samples": len(bits_test),
        "library_eval_accuracy": float(np.mean(np.argmax(library_scores, 1) == data.y_test)),
        "golden_accuracy": float(np.mean(np.argmax(golden, 1) == data.y_test)),
        "golden_vs_library_eval": f"{int(same.sum())}/{len(same)}",
        "importer_check": f"{importer_check.agree}/{importer_check.samples}",
        "files": {"model": str(out / "model.pt"), "ir": str(out / "ir.json")},
        "environment": environment(),
    }
    (out / "bench.json").write_text(json.dumps(result, indent=1) + "\n")
    if not same.all():
        raise GateflowError(
            f"golden model and {spec.library} eval disagree on {int((~same).sum())} test images"
        )
    return result
