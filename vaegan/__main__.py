"""`python -m vaegan ...`: the same as the `vaegan` command (vaegan/cli/)."""

from vaegan.cli import run

if __name__ == "__main__":
    run()
