;; An async export that waits on an empty waitable set: nothing can ever wake it,
;; so the host's call deadlocks (tests/test_observe.py).
(component
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (core func $new (canon waitable-set.new))
  (core func $wait (canon waitable-set.wait (memory (core memory $mem "mem"))))
  (core module $M
    (import "" "new" (func $new (result i32)))
    (import "" "wait" (func $wait (param i32 i32) (result i32)))
    (func (export "stuck") (drop (call $wait (call $new) (i32.const 0)))))
  (core instance $m (instantiate $M
    (with "" (instance (export "new" (func $new)) (export "wait" (func $wait))))))
  (func (export "stuck") async (canon lift (core func $m "stuck") async)))
