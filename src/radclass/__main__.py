"""``python -m radclass`` runs the command-line interface."""

from radclass.cli import main

main()
