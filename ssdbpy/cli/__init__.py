"""The logic of the command-line tools (ssdb-cli, ssdb-dump, ssdb-bench, ssdb-repair).

``ssdbpy.apps.*`` parse arguments and call into here.  These modules speak to
servers only through :mod:`ssdbpy.client` and touch LevelDB only through
:mod:`ssdbpy.storage.backup`.
"""
