"""CLI sub-commands kept out of cli.py so each stays a small module; cli.py registers them."""
