"""What reaches the disk, and in what order, seen through strace: every
output's data is synced before the rename that shows it (complete or absent
even across a power cut); a key's folder is synced after it (a key once
made survives one); the per-call functions skip the image's folder sync,
which the commands (`python -m`) keep."""
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set, Tuple

from conftest import EXAMPLES

CSV = 'key,type,encoding,value\nns,namespace,,\nsn,data,string,SN-0001\n'

ENCRYPT_CALL = '''
from types import SimpleNamespace
import esp_idf_nvs_partition_gen.nvs_partition_gen as m
m.encrypt(SimpleNamespace(input='in.csv', output='dev.bin', size='0x3000',
                          outdir='out', keygen=True, keyfile='k.bin', inputkey=None))
'''

Calls = List[Tuple[str, str]]


def traced(argv: List[str], cwd: Path) -> Calls:
    """The (call, arguments) of argv's openat/fsync/rename calls that
    succeeded, in order, fds replaced by the paths they were opened on."""
    log = cwd / 'strace.log'
    subprocess.run(['strace', '-f', '-qq', '-o', str(log), '-e',
                    'trace=openat,fsync,fdatasync,rename,renameat,renameat2'] + argv,
                   cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    fds: Dict[str, str] = {}
    calls: Calls = []
    for line in log.read_text().splitlines():
        m = re.match(r'(?:\d+ +)?(\w+)\((.*)\) += (\d+)$', line)
        if not m:
            continue
        name, args, result = m.groups()
        paths = re.findall(r'"([^"]*)"', args)
        if name == 'openat':
            fds[result] = paths[0]
        elif name in ('fsync', 'fdatasync'):
            calls.append(('fsync', fds.get(args.strip(), '?')))
        else:
            calls.append(('rename', '%s -> %s' % (paths[0], paths[1])))
    return calls


def check_order(calls: Calls, outputs: List[str]) -> Set[str]:
    """Each output was renamed into place from a temporary file synced
    before; returns the folders synced after the renames."""
    synced, renamed = set(), set()
    folders = set()
    for call, what in calls:
        if call == 'fsync':
            synced.add(what)
            if renamed and Path(what).name in ('out', 'bin', 'keys'):
                folders.add(what)
        else:
            tmp, final = what.split(' -> ')
            assert tmp in synced, '%s renamed into place before its data was synced' % final
            renamed.add(final)
    assert sorted(renamed) == sorted(outputs)
    return folders


def test_encrypt_call_syncs_data_and_the_key_folder(tmp_path):
    (tmp_path / 'in.csv').write_text(CSV)
    calls = traced([sys.executable, '-c', ENCRYPT_CALL], tmp_path)
    folders = check_order(calls, ['out/keys/k.bin', 'out/dev.bin'])
    assert folders == {'out/keys'}, folders


def test_command_syncs_every_folder(tmp_path):
    (tmp_path / 'in.csv').write_text(CSV)
    calls = traced([sys.executable, '-m', 'esp_idf_nvs_partition_gen', 'encrypt', 'in.csv',
                    'dev.bin', '0x3000', '--outdir', 'out', '--keygen', '--keyfile', 'k.bin'],
                   tmp_path)
    folders = check_order(calls, ['out/keys/k.bin', 'out/dev.bin'])
    assert folders == {'out/keys', 'out'}, folders


def test_generate_call_reads_each_input_once(tmp_path):
    """An input file is opened once per call, and read with one read()."""
    shutil.copytree(EXAMPLES / 'testdata', tmp_path / 'testdata')
    (tmp_path / 'in.csv').write_text(CSV + 'blob,file,binary,testdata/sample_blob.bin\n')
    call = ('from types import SimpleNamespace\n'
            'import esp_idf_nvs_partition_gen.nvs_partition_gen as m\n'
            "m.generate(SimpleNamespace(input='in.csv', output='dev.bin', size='0x3000',"
            " outdir='out'))\n")
    log = tmp_path / 'reads.log'
    subprocess.run(['strace', '-qq', '-o', str(log), '-e', 'trace=openat,read,close',
                    sys.executable,
                    '-c', call], cwd=tmp_path, check=True, stdout=subprocess.DEVNULL)
    lines = log.read_text().splitlines()
    for name in ('in.csv', 'testdata/sample_blob.bin'):
        opened = [i for i, line in enumerate(lines) if '"%s"' % name in line]
        assert len(opened) == 1, (name, opened)
        fd = re.search(r'= (\d+)$', lines[opened[0]]).group(1)
        until_close = lines[opened[0] + 1:]
        until_close = until_close[:[bool(re.match(r'close\(%s\) += 0' % fd, line))
                                    for line in until_close].index(True)]
        reads = [line for line in until_close if line.startswith('read(%s,' % fd)]
        size = (tmp_path / name).stat().st_size
        assert len(reads) == 1 and re.search(r'= %d$' % size, reads[0]), (name, reads)
