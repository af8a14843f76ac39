"""Tables in, a table out: Parquet (Hugging Face `datasets` layout), JSONL manifests and CSV encoded into one
Parquet table of codes and tokens (`snac encode DATA OUT.parquet`). Needs the extra: `pip install snac-cli[tables]`."""
