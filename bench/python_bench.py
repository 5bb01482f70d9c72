"""One side of bench/python.sh: N generate(args) or encrypt(args) calls made
the way a factory tool makes them (one CSV per device of ESP-IDF's sample
config, 0x6000), with whichever esp_idf_nvs_partition_gen is importable.

    python python_bench.py generate|encrypt WORKDIR N

Prints "<package> <seconds per call>" where package is "nvsforge" or
"reference" (the module's origin).
"""
import contextlib
import os
import sys
import time
from types import SimpleNamespace

import esp_idf_nvs_partition_gen.nvs_partition_gen as nvs_partition_gen


def main() -> None:
    mode, work, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    package = 'nvsforge' if hasattr(nvs_partition_gen, '_native') else 'reference'
    out = os.path.join(work, package, mode)
    os.makedirs(os.path.join(out, 'bin'))
    with open(os.devnull, 'w') as devnull, contextlib.redirect_stdout(devnull):
        start = time.perf_counter()
        for n in range(count):
            args = SimpleNamespace(input=os.path.join(work, 'csv', 'dev-%d.csv' % n),
                                   output=os.path.join('bin', 'dev-%d.bin' % n),
                                   size='0x6000', outdir=out, version=2)
            if mode == 'generate':
                nvs_partition_gen.generate(args)
            else:
                args.keygen, args.inputkey, args.keyfile = True, None, 'keys-dev-%d' % n
                args.key_protect_hmac, args.kp_hmac_keygen = False, False
                args.kp_hmac_keyfile, args.kp_hmac_inputkey = None, None
                nvs_partition_gen.encrypt(args)
        seconds = time.perf_counter() - start
    print(package, seconds / count)


if __name__ == '__main__':
    main()
