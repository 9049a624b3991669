"""The Canonical ABI: value types, lifting/lowering, runtime state and built-ins."""
