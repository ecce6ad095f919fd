"""`gateflow train` options: --help shows every default (read from train.DEFAULTS per
--arch), the options still default to None (so --arch picks its family's defaults), and
bad validation values are one-line errors."""

import subprocess
import sys

import pytest

from gateflow.cli import build_parser
from gateflow.commands.options import TRAIN_OPTIONS, train_config
from gateflow.train.config import DEFAULTS


def _train_parser():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return parser, sub.choices["train"]


def test_help_shows_every_default():
    _, train = _train_parser()
    text = " ".join(train.format_help().split())
    assert (
        f"(default: {DEFAULTS['lgn'].steps} for lgn; {DEFAULTS['binary'].steps} for binary;" in text
    )
    assert f"(default: {DEFAULTS['lgn'].lr} for lgn; {DEFAULTS['binary'].lr} for binary" in text
    assert "--val-fraction" in text and "--early-stopping" in text
    for action in train._actions:
        if action.dest in (*TRAIN_OPTIONS, "arch", "residual_init"):
            assert "default:" in (action.help or ""), action.option_strings


def test_options_default_to_none_so_arch_picks_the_defaults():
    parser, _ = _train_parser()
    for arch in DEFAULTS:
        args = parser.parse_args(["train", "--arch", arch])
        assert all(getattr(args, k) is None for k in TRAIN_OPTIONS)
        config = train_config(args)
        assert config == DEFAULTS[arch].replace(dataset="digits")
    args = parser.parse_args(["train", "--val-fraction", "0.1", "--early-stopping", "4"])
    config = train_config(args)
    assert config.val_fraction == 0.1 and config.early_stopping == 4
    assert train_config(parser.parse_args(["train", "--candidates", "all"])).candidates == -1
    assert train_config(parser.parse_args(["train", "--candidates", "16"])).candidates == 16
    for bad in ("-3", "many"):
        with pytest.raises(SystemExit):
            parser.parse_args(["train", "--candidates", bad])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--val-fraction", "0.95"], "val_fraction must lie in [0, 0.9], got 0.95"),
        (["--early-stopping", "3"], "early stopping needs a validation split"),
        (["--val-fraction", "0.0001"], "holds out no sample of the 1437 training samples"),
        (["--arch", "binary", "--candidates", "4"], "learned connections go with arch 'lgn'"),
        (["--candidates", "1"], "candidates must be 0 (fixed wiring), >= 2 or -1"),
    ],
)
def test_bad_validation_options_are_one_line_errors(args, message, tmp_path, capsys):
    from gateflow.cli import main

    assert main(["train", *args, "--steps", "2", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gateflow: error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_train_parser_loads_neither_torch_nor_matplotlib():
    code = (
        "import sys, gateflow.cli, gateflow.commands.train; gateflow.cli.build_parser(); "
        "print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr
