"""The web pages: record pages, browsing, search, the crosswalk workbench.

`blueprint` is imported lazily: the store's writes import the search index,
which reads records with `repository.web.record_view`, and must not pull in
Flask views while the store is still being imported.
"""


def __getattr__(name: str):
    if name == "blueprint":
        from repository.web.views import blueprint
        return blueprint
    raise AttributeError(name)
