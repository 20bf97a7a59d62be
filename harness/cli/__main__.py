"""``python -m harness.cli``: the ``chaos-harness`` command."""

from harness.cli import main

main()
