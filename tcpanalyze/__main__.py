"""python -m tcpanalyze: the same as the tcpanalyze command."""

from .cli import main

main()
