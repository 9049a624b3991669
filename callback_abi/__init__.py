"""The stackless (callback ABI) strategy: filled in by a later issue."""
