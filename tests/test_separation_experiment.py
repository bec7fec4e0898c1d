"""Experiment 09's config keys ([separation], data.margin): validated with one line
naming the key; the resolved config reads back. (The run itself and its verdicts are
checked with every config by tests/test_experiments.py.)"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from jaxlogloss.cli.main import main
from jaxlogloss.experiments import config as cfg

ROOT = Path(__file__).resolve().parents[1]


def test_config_09_reads_back_with_its_keys():
    config = cfg.load(ROOT / "experiments" / "09_separation.toml")
    assert config.claims == ["F1", "F2", "F3"]
    assert config.data.source == "separable" and config.data.margin == 0.5
    assert config.separation.margins == [1.0, 0.5, 0.25, 0.1, 0.05]
    again = cfg.from_dict(tomllib.loads(cfg.to_toml(config)))
    assert again.to_dict() == config.to_dict()


@pytest.mark.parametrize(
    "text,needle",
    [
        ("[data]\nmargin = 0\n", "data.margin must be a number > 0, got 0.0"),
        ("[separation]\nmargins = []\n", "separation.margins must be a non-empty list"),
        (
            "[separation]\nmargins = [0.5, -1]\n",
            "separation.margins must be a non-empty list of numbers > 0",
        ),
        ("[separation]\nsteps = 5\n", "separation.steps must be an integer >= 10"),
        ("[separation]\nl2 = 0\n", "separation.l2 must be a number > 0, got 0.0"),
        (
            "[separation]\nlearning_rate = -1\n",
            "separation.learning_rate must be a number > 0",
        ),
        ("[separation]\nmargin = 1\n", "unknown key 'separation.margin'"),
        ("claims = ['F2']\n", "claim F2 needs data.source = 'separable'"),
    ],
)
def test_bad_separation_keys_exit_2_naming_the_key(tmp_path, text, needle, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and "bad.toml" in err[0], err
