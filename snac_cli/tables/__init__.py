"""Tables in, a table out: Parquet (Hugging Face `datasets` layout), JSONL manifests and CSV encoded into one
Parquet table of codes and tokens (`snac encode DATA OUT.parquet`). Needs the extra: `pip install snac-cli[tables]`.

This file imports nothing: the command line reads the suffixes below before it knows that pyarrow is needed."""

# The files a table is read from, by extension, and what they hold.
KINDS = {".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "csv"}
