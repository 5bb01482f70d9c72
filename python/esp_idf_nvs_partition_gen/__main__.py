"""python -m esp_idf_nvs_partition_gen: the nvs_partition_gen command."""
from .nvs_partition_gen import main

if __name__ == '__main__':
    main()
