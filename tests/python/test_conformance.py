"""Every nvs_partition_gen conformance case, byte for byte, three ways:
`python -m esp_idf_nvs_partition_gen`, the module's generate()/encrypt()/
decrypt()/generate_key() called with a SimpleNamespace, and the image built
entry by entry with nvs_open(BytesIO)/write_entry/nvs_close."""
import contextlib
import csv
import io
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
from conftest import copy_inputs, expected, load_case, nvs_cases, reference_parser

import esp_idf_nvs_partition_gen.nvs_partition_gen as nvs_partition_gen

READ_ONLY_NOTE = ('\nMinimum partition size for read/write NVS is 0x3000 bytes. Partitions '
                  'smaller than this must be flagged as "readonly" in the partition table CSV.')


def check_outputs(name, case, folder):
    for output in case['outputs']:
        assert (folder / output).read_bytes() == expected(name, output), output


@pytest.mark.parametrize('name', nvs_cases())
def test_python_m(name, in_tmp):
    case = load_case(name)
    copy_inputs(name, in_tmp)
    run = subprocess.run([sys.executable, '-m', 'esp_idf_nvs_partition_gen'] + case['argv'][1:],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    check_outputs(name, case, in_tmp)
    # The same lines as the nvs_partition_gen command prints, run alike.
    cli_dir = in_tmp / 'cli'
    cli_dir.mkdir()
    copy_inputs(name, cli_dir)
    cli = subprocess.run([os.path.join(os.environ['NVSF_BIN'], 'nvs_partition_gen')] +
                         case['argv'][1:], capture_output=True, text=True, cwd=cli_dir)
    assert cli.returncode == 0, cli.stderr
    assert (run.stdout, run.stderr) == (cli.stdout, cli.stderr)


def reference_stdout(args):
    """What the reference module prints for a successful call."""
    out = []
    if args.command in ('generate', 'encrypt'):
        size = int(args.size, 0)
        read_only = size - 4096 < 8192
        out += [READ_ONLY_NOTE] * (read_only * (2 if args.command == 'encrypt' else 1))
    if args.command == 'encrypt' and args.inputkey and args.keyfile:
        out.append('\nWarning: --inputkey argument is given. --keyfile argument will be ignored...')
    if args.command == 'generate-key' or (args.command == 'encrypt' and args.keygen):
        keyfile = args.keyfile if os.path.splitext(args.keyfile)[1] else args.keyfile + '.bin'
        out.append('\nCreated encryption keys: ===>  ' +
                   os.path.join(os.path.join(args.outdir, 'keys', ''), '') + keyfile)
    if args.command in ('generate', 'encrypt'):
        version = 'V2 - Multipage Blob Support Enabled' if args.version == 2 else \
            'V1 - Multipage Blob Support Disabled'
        out.append('\nCreating NVS binary with version: ' + version)
        out.append('\nCreated NVS binary: ===> ' + os.path.join(args.outdir, '') + args.output)
    if args.command == 'decrypt':
        out.append('\nCreated NVS decrypted binary: ===> ' +
                   os.path.join(args.outdir, '') + args.output)
    return ''.join(line + '\n' for line in out)


@pytest.mark.parametrize('name', nvs_cases())
def test_module_calls(name, in_tmp):
    case = load_case(name)
    copy_inputs(name, in_tmp)
    args = reference_parser().parse_args(case['argv'][1:])
    call = {'generate': nvs_partition_gen.generate, 'encrypt': nvs_partition_gen.encrypt,
            'decrypt': nvs_partition_gen.decrypt,
            'generate-key': nvs_partition_gen.generate_key}[args.command]
    printed = reference_stdout(args)
    # The callers' way: a SimpleNamespace with the same attributes.
    ns = SimpleNamespace(**{k: v for k, v in vars(args).items() if k != 'command'})
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        result = call(ns)
    check_outputs(name, case, in_tmp)
    assert stdout.getvalue() == printed
    if args.command == 'generate-key':
        key_file = (in_tmp / case['outputs'][0]).read_bytes()
        assert result == key_file[:64].hex()
    else:
        assert result is None


def csv_rows(path):
    """A partition CSV read as the reference's generate() reads it."""
    with open(path, 'rt', encoding='utf8') as f:
        yield from csv.DictReader(filter(lambda row: row[0] != '#', f), delimiter=',')


def entry_cases():
    return [n for n in nvs_cases() if load_case(n)['argv'][1] in ('generate', 'encrypt')]


@pytest.mark.parametrize('name', entry_cases())
def test_entry_by_entry(name, in_tmp):
    case = load_case(name)
    copy_inputs(name, in_tmp)
    args = reference_parser().parse_args(case['argv'][1:])
    key = None
    if args.command == 'encrypt':
        key_path = args.inputkey or os.path.join(args.outdir, 'keys', args.keyfile)
        key_file = expected(name, os.path.relpath(key_path, in_tmp)) if args.keygen \
            else (in_tmp / key_path).read_bytes()
        key = key_file[:64]
    with contextlib.redirect_stdout(io.StringIO()):
        size, read_only = nvs_partition_gen.check_size(args.size)
    version = nvs_partition_gen.Page.VERSION2 if args.version == 2 else \
        nvs_partition_gen.Page.VERSION1
    result = io.BytesIO()
    nvs = nvs_partition_gen.nvs_open(result, size, version, is_encrypt=key is not None, key=key,
                                     read_only=read_only)
    for path in args.input:
        for row in csv_rows(path):
            nvs_partition_gen.write_entry(nvs, row['key'], row['type'], row['encoding'],
                                          row['value'])
    nvs_partition_gen.nvs_close(nvs)
    image = expected(name, os.path.relpath(os.path.join(args.outdir, args.output), in_tmp))
    assert result.getvalue() == image
    assert nvs.get_binary_data() == bytearray(image)
