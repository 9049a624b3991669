"""Core wasm on wasmtime: fibers driven from greenlets, core values, memories, raw calls.

Also the binary format's shared reader (``binary``), which the component
decoder and the asyncify transform's checks both use.
"""
