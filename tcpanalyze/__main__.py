"""python -m tcpanalyze: the same as the tcpanalyze command."""

from .cli import main

if __name__ == "__main__":  # not when a worker process (pipeline.partitions) imports this module again
    main()
