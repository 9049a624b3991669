;; A callback-lifted export that only yields: `count(n)` returns YIELD, and its
;; callback, called with a NONE event each time, counts n down (YIELD again)
;; and at 0 returns 7 (EXIT): n + 1 events per call. The micro-benchmark of
;; docs/strategies.md ("cost per event"; the same guest as COUNTER in
;; tests/test_strategies.py):
;;   stackswitch compare benchmarks/counter.wat --invoke 'count(1000)' --repeat 20
(component
  (core func $task.return (canon task.return (result u32)))
  (core func $context.get (canon context.get i32 0))
  (core func $context.set (canon context.set i32 0))
  (core module $M
    (import "" "task.return" (func $task.return (param i32)))
    (import "" "context.get" (func $get (result i32)))
    (import "" "context.set" (func $set (param i32)))
    (func (export "count") (param $n i32) (result i32)
      (call $set (local.get $n))
      (i32.const 1 (; YIELD ;)))
    (func (export "count-cb") (param i32 i32 i32) (result i32)
      (if (i32.eqz (call $get))
        (then (call $task.return (i32.const 7)) (return (i32.const 0 (; EXIT ;)))))
      (call $set (i32.sub (call $get) (i32.const 1)))
      (i32.const 1 (; YIELD ;))))
  (core instance $m (instantiate $M (with "" (instance
    (export "task.return" (func $task.return))
    (export "context.get" (func $context.get))
    (export "context.set" (func $context.set))))))
  (func (export "count") async (param "n" u32) (result u32)
    (canon lift (core func $m "count") async (callback (core func $m "count-cb"))))
)
