"""Reading users' data files: the one reader that pretraining, finetuning, seq2seq and the study all call.

See `data/readers.py`: `read_data_files` (files -> `datasets.DatasetDict` through `datasets`' own json / csv / text /
parquet / conll loaders), `DataSource` (names a row by its line in the file) and the row checks whose errors name
the column, the line and the fix.
"""

from .readers import (
    FILE_FORMATS,
    TXT_LAYOUTS,
    DataSource,
    check_label_column,
    check_text_column,
    data_file_format,
    read_data_file,
    read_data_files,
)

__all__ = [
    "FILE_FORMATS",
    "TXT_LAYOUTS",
    "DataSource",
    "check_label_column",
    "check_text_column",
    "data_file_format",
    "read_data_file",
    "read_data_files",
]
