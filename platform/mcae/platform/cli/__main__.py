"""``python -m mcae.platform.cli``: the ``mcae`` command."""

from mcae.platform.cli.root import main

main()
