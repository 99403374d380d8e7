"""`python -m webkit` runs the command-line interface."""

from webkit.cli import main

if __name__ == "__main__":
    main()
