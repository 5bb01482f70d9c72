"""Shared helpers of the Python package's tests (run by tests/python/run.sh
inside a fresh virtual environment where the package is installed)."""
import argparse
import json
import os
import shutil
from pathlib import Path
from typing import Dict, List

import pytest

CASES = Path(__file__).resolve().parent.parent / 'conformance' / 'cases'
EXAMPLES = Path(__file__).resolve().parent.parent.parent / 'examples' / 'esp-idf'


def load_case(name: str) -> Dict:
    return json.loads((CASES / name / 'case.json').read_text())


def nvs_cases() -> List[str]:
    """Every successful nvs_partition_gen case of the conformance suite."""
    return sorted(p.name for p in CASES.iterdir()
                  if p.name.startswith('nvs_') and load_case(p.name)['expect'] == 'ok')


def copy_inputs(name: str, dest: Path) -> None:
    """The case's inputs (not its expected outputs) into dest."""
    for item in (CASES / name).iterdir():
        if item.name in ('expected', 'case.json'):
            continue
        if item.is_dir():
            shutil.copytree(item, dest / item.name)
        else:
            shutil.copy(item, dest / item.name)


def expected(name: str, output: str) -> bytes:
    return (CASES / name / 'expected' / output).read_bytes()


def reference_parser() -> argparse.ArgumentParser:
    """The reference tool's command line, to turn a case's argv into the
    Namespace that its callers hand to generate()/encrypt()/..."""
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest='command')
    for name in ('generate', 'encrypt'):
        p = sub.add_parser(name)
        p.add_argument('input', nargs='+')
        p.add_argument('output')
        p.add_argument('size')
        p.add_argument('--version', choices=[1, 2], default=2, type=int)
        p.add_argument('--outdir', default=os.getcwd())
        if name == 'encrypt':
            p.add_argument('--keygen', action='store_true')
            p.add_argument('--keyfile', default=None)
            p.add_argument('--inputkey', default=None)
    p = sub.add_parser('generate-key')
    p.add_argument('--keyfile', default=None)
    p.add_argument('--outdir', default=os.getcwd())
    for p in (sub.choices['encrypt'], sub.choices['generate-key']):
        p.add_argument('--key_protect_hmac', action='store_true')
        p.add_argument('--kp_hmac_keygen', action='store_true')
        p.add_argument('--kp_hmac_keyfile', default=None)
        p.add_argument('--kp_hmac_inputkey', default=None)
    p = sub.add_parser('decrypt')
    p.add_argument('input')
    p.add_argument('key')
    p.add_argument('output')
    p.add_argument('--outdir', default=os.getcwd())
    return parser


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run the test in an empty folder of its own."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
