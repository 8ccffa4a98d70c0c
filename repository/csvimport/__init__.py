"""`granary import-csv`: one spreadsheet row per record, built as MODS or oai_dc.

`columns` is the column vocabulary (data), `read` turns bytes into rows,
`build` turns a row into a record tree, and `importer` validates every row and
writes them all in one transaction through the ingest write path.
"""
