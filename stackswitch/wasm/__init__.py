"""Core wasm on wasmtime: fibers driven from greenlets, memories, raw calls."""
