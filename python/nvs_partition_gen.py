"""`import nvs_partition_gen`, as scripts written for the copy of the module
that ESP-IDF once shipped do: the very same module object as
esp_idf_nvs_partition_gen.nvs_partition_gen. `python -m nvs_partition_gen`
runs its command line."""
import sys

from esp_idf_nvs_partition_gen import nvs_partition_gen as _module

if __name__ == '__main__':
    _module.main()
else:
    sys.modules[__name__] = _module
