"""nvsforge.mfg_generate: the batch engine of mfg_gen, from Python."""
import argparse
import json
import os
import stat
import sys
from pathlib import Path

import pytest
from conftest import CASES, copy_inputs, expected, load_case

import nvsforge


def mfg_cases():
    return sorted(p.name for p in CASES.iterdir()
                  if p.name.startswith('mfg_') and load_case(p.name)['expect'] == 'ok')


def mfg_parser():
    p = argparse.ArgumentParser()
    p.add_argument('command')
    for name in ('conf', 'values', 'prefix', 'size'):
        p.add_argument(name)
    p.add_argument('--version', type=int, default=2)
    p.add_argument('--outdir', default='.')
    p.add_argument('--fileid')
    p.add_argument('--prefix_num', nargs=2, type=int)
    p.add_argument('--keygen', action='store_true')
    p.add_argument('--inputkey')
    p.add_argument('--key_protect_hmac', action='store_true')
    p.add_argument('--kp_hmac_keygen', action='store_true')
    p.add_argument('--kp_hmac_keyfile')
    p.add_argument('--kp_hmac_inputkey')
    return p


def run_case(argv, **extra):
    a = mfg_parser().parse_args(argv[1:])
    return nvsforge.mfg_generate(
        a.conf, a.values, a.prefix, a.size, outdir=a.outdir, version=a.version,
        fileid=a.fileid, prefix_num=tuple(a.prefix_num) if a.prefix_num else None,
        keygen=a.keygen, inputkey=a.inputkey, key_protect_hmac=a.key_protect_hmac,
        kp_hmac_keygen=a.kp_hmac_keygen, kp_hmac_keyfile=a.kp_hmac_keyfile,
        kp_hmac_inputkey=a.kp_hmac_inputkey, **extra)


@pytest.mark.parametrize('name', mfg_cases())
def test_conformance(name, in_tmp):
    case = load_case(name)
    copy_inputs(name, in_tmp)
    seen = []
    result = run_case(case['argv'], jobs=2, progress=lambda *a: seen.append(a))
    for output in case['outputs']:
        assert (in_tmp / output).read_bytes() == expected(name, output), output
    bins = [o for o in case['outputs'] if '/bin/' in o]
    assert result.devices_made == result.devices_total == len(bins)
    assert os.path.isfile(result.manifest)
    assert seen[-1][0] == 'writing' and seen[-1][3] is True
    for output in case['outputs']:
        if '/keys/' in output:
            assert stat.S_IMODE((in_tmp / output).stat().st_mode) == 0o600


def test_refusal_names_file_line_and_key(in_tmp):
    Path('conf.csv').write_text('app,namespace,\nn,data,u8\n')
    Path('values.csv').write_text('id,n\n1,7\n2,300\n')
    with pytest.raises(nvsforge.Error) as e:
        nvsforge.mfg_generate('conf.csv', 'values.csv', 'dev', 0x3000, outdir='out')
    assert 'values.csv:3' in e.value.message and "'n'" in e.value.message
    assert [p for p in Path('out').rglob('*') if p.is_file()] == []


def test_progress_exception_leaves_nothing(in_tmp):
    Path('conf.csv').write_text('app,namespace,\nn,data,u32\n')
    Path('values.csv').write_text('id,n\n' + ''.join('%d,%d\n' % (i, i) for i in range(1, 201)))

    class Stop(Exception):
        pass

    def stop_while_writing(phase, done, total, final):
        if phase == 'writing' and done >= 50:
            raise Stop()
    with pytest.raises(Stop):
        nvsforge.mfg_generate('conf.csv', 'values.csv', 'dev', '0x3000', outdir='out',
                              keygen=True, progress=stop_while_writing)
    assert [p for p in Path('out').rglob('*') if p.is_file()] == []
    result = nvsforge.mfg_generate('conf.csv', 'values.csv', 'dev', '0x3000', outdir='out')
    assert result.devices_made == 200
    image = Path('out/bin/dev-17.bin').read_bytes()
    assert [(i['key'], i['value']) for i in nvsforge.read_image(image)] == [('n', 17)]


def test_shards_split_the_batch(in_tmp):
    Path('conf.csv').write_text('app,namespace,\nn,data,u32\n')
    Path('values.csv').write_text('id,n\n' + ''.join('%d,%d\n' % (i, i) for i in range(1, 11)))
    made = [nvsforge.mfg_generate('conf.csv', 'values.csv', 'dev', '0x3000', outdir='s%d' % k,
                                  shard=(k, 3)).devices_made for k in range(3)]
    assert made == [4, 3, 3]
    names = sorted(p.name for k in range(3) for p in Path('s%d' % k, 'bin').iterdir())
    assert names == sorted('dev-%d.bin' % i for i in range(1, 11))


def test_run_record_names_the_command(in_tmp):
    """run.json records this process's command line, or the caller's words."""
    Path('conf.csv').write_text('app,namespace,\nn,data,u8\n')
    Path('values.csv').write_text('id,n\n1,7\n')
    nvsforge.mfg_generate('conf.csv', 'values.csv', 'dev', 0x3000, outdir='a')
    record = json.loads(Path('a/run.json').read_text())
    assert record['command_line'] == list(sys.orig_argv)
    assert record['devices'] == 1
    nvsforge.mfg_generate('conf.csv', 'values.csv', 'dev', 0x3000, outdir='b',
                          command_line=['factory.py', Path('lot.csv'), b'L-42 \xc3\xa9'])
    assert json.loads(Path('b/run.json').read_text(encoding='utf-8'))['command_line'] == \
        ['factory.py', 'lot.csv', 'L-42 é']
    with pytest.raises(TypeError):
        nvsforge.mfg_generate('conf.csv', 'values.csv', 'dev', 0x3000, outdir='c',
                              command_line=['factory.py', 42])
    assert not Path('c').exists()
