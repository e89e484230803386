"""`python -m arenatok.cli`: the `arenatok` command."""

from arenatok.cli import main

if __name__ == "__main__":  # not when a worker process imports it again as __mp_main__
    main()
