;; "hold": a stackful export that waits forever on an empty waitable set, so
;; every call of it stays suspended (under `stackful`, on a wasm fiber of its
;; own; under `callback`, unwound by asyncify into its memory).
(component
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "mem" (core memory $memory))
  (core func $ws.new (canon waitable-set.new))
  (core func $ws.wait (canon waitable-set.wait (memory $memory)))
  (core module $M
    (import "" "ws.new" (func $ws.new (result i32)))
    (import "" "ws.wait" (func $ws.wait (param i32 i32) (result i32)))
    (func (export "hold")
      (drop (call $ws.wait (call $ws.new) (i32.const 0)))))
  (core instance $m (instantiate $M (with "" (instance
    (export "ws.new" (func $ws.new)) (export "ws.wait" (func $ws.wait))))))
  (func (export "hold") async (canon lift (core func $m "hold") async)))
