;; A sync export whose inner function executes `unreachable`: the trap's wasm
;; backtrace names both functions (tests/test_observe.py).
(component
  (core module $m
    (func $inner (result i32) unreachable)
    (func $outer (export "f") (result i32) call $inner))
  (core instance $i (instantiate $m))
  (func (export "f") (result u32) (canon lift (core func $i "f"))))
