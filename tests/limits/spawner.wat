;; "spawn(n)": n async calls of the imported "hold", none ever awaited: n
;; subtasks that all stay suspended. Then it returns n.
;; "sets(n)": n waitable sets, none dropped: n handles in this instance's table.
;; "wait-in-callback": a callback-lifted export whose first call makes a sync
;; call of "hold", which never returns (under `callback`, parked on its fiber).
(component
  (import "holder" (instance $holder (export "hold" (func async))))
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "mem" (core memory $memory))
  (core func $hold (canon lower (func $holder "hold") async (memory $memory)))
  (core func $task.return (canon task.return (result u32)))
  (core func $ws.new (canon waitable-set.new))
  (core func $hold-sync (canon lower (func $holder "hold")))
  (core module $M
    (import "" "hold" (func $hold (result i32)))
    (import "" "task.return" (func $task.return (param i32)))
    (import "" "ws.new" (func $ws.new (result i32)))
    (import "" "hold-sync" (func $hold-sync))
    (func (export "wait-in-callback") (result i32)
      (call $hold-sync)
      (i32.const 0 (; EXIT ;)))
    (func (export "never") (param i32 i32 i32) (result i32) unreachable)
    (func (export "spawn") (param $n i32) (local $i i32)
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (drop (call $hold))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
      (call $task.return (local.get $n)))
    (func (export "sets") (param $n i32) (result i32) (local $i i32)
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (drop (call $ws.new))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
      (local.get $n)))
  (core instance $m (instantiate $M (with "" (instance
    (export "hold" (func $hold)) (export "task.return" (func $task.return))
    (export "ws.new" (func $ws.new)) (export "hold-sync" (func $hold-sync))))))
  (func (export "wait-in-callback") async
    (canon lift (core func $m "wait-in-callback") async (callback (core func $m "never"))))
  (func (export "spawn") async (param "n" u32) (result u32)
    (canon lift (core func $m "spawn") async))
  (func (export "sets") (param "n" u32) (result u32)
    (canon lift (core func $m "sets"))))
