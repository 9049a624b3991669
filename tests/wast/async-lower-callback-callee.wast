;; Async calls of callback-lifted functions whose component has no blocking
;; import, with arguments, results and traps. (Written by helper `lowerfiber`
;; for a fast path that answered such calls on the caller's fiber; the fast
;; path was not merged, see docs/performance.md, but the calls are worth
;; checking on their own.)
;;
;; $callee's "add" returns at once (RETURNED, no subtask); "yield-add" yields
;; first (the spec lets the host keep running a yield, so its call may return
;; eagerly too: the caller handles both); "boom" traps in its entry.

(component $callee
  (core func $task.return (canon task.return (result u32)))
  (core func $context.get (canon context.get i32 0))
  (core func $context.set (canon context.set i32 0))
  (core module $C
    (import "" "task.return" (func $task.return (param i32)))
    (import "" "context.get" (func $context.get (result i32)))
    (import "" "context.set" (func $context.set (param i32)))
    (func (export "add") (param $x i32) (param $y i32) (result i32)
      (call $task.return (i32.add (local.get $x) (local.get $y)))
      (i32.const 0 (; EXIT ;)))
    (func (export "yield-add") (param $x i32) (param $y i32) (result i32)
      (call $context.set (i32.add (local.get $x) (local.get $y)))
      (i32.const 1 (; YIELD ;)))
    (func (export "yield-add-cb") (param $event i32) (param i32 i32) (result i32)
      (if (local.get $event) (then unreachable (; only NONE expected ;)))
      (call $task.return (call $context.get))
      (i32.const 0 (; EXIT ;)))
    (func (export "boom") (result i32) unreachable)
    (func (export "cb") (param i32 i32 i32) (result i32) unreachable))
  (core instance $c (instantiate $C (with "" (instance
    (export "task.return" (func $task.return))
    (export "context.get" (func $context.get))
    (export "context.set" (func $context.set))))))
  (func (export "add") async (param "x" u32) (param "y" u32) (result u32)
    (canon lift (core func $c "add") async (callback (core func $c "cb"))))
  (func (export "yield-add") async (param "x" u32) (param "y" u32) (result u32)
    (canon lift (core func $c "yield-add") async (callback (core func $c "yield-add-cb"))))
  (func (export "boom") async
    (canon lift (core func $c "boom") async (callback (core func $c "cb"))))
)
(register "callee" $callee)

(component $caller
  (import "callee" (instance $callee
    (export "add" (func async (param "x" u32) (param "y" u32) (result u32)))
    (export "yield-add" (func async (param "x" u32) (param "y" u32) (result u32)))
    (export "boom" (func async))))
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "mem" (core memory $memory))
  (core func $add (canon lower (func $callee "add") async (memory $memory)))
  (core func $yield-add (canon lower (func $callee "yield-add") async (memory $memory)))
  (core func $boom (canon lower (func $callee "boom") async (memory $memory)))
  (core func $task.return (canon task.return (result u32)))
  (core func $task.return0 (canon task.return))
  (core func $waitable-set.new (canon waitable-set.new))
  (core func $waitable-set.wait (canon waitable-set.wait (memory $memory)))
  (core func $waitable-set.drop (canon waitable-set.drop))
  (core func $waitable.join (canon waitable.join))
  (core func $subtask.drop (canon subtask.drop))
  (core module $R
    (import "" "mem" (memory 1))
    (import "" "add" (func $add (param i32 i32 i32) (result i32)))
    (import "" "yield-add" (func $yield-add (param i32 i32 i32) (result i32)))
    (import "" "boom" (func $boom (result i32)))
    (import "" "task.return" (func $task.return (param i32)))
    (import "" "task.return0" (func $task.return0))
    (import "" "waitable-set.new" (func $waitable-set.new (result i32)))
    (import "" "waitable-set.wait" (func $waitable-set.wait (param i32 i32) (result i32)))
    (import "" "waitable-set.drop" (func $waitable-set.drop (param i32)))
    (import "" "waitable.join" (func $waitable.join (param i32 i32)))
    (import "" "subtask.drop" (func $subtask.drop (param i32)))
    ;; memory: 0x0 the event payload, 0x10 the result of each call
    (func $settle (param $st i32) (local $ws i32)
      ;; wait for the call whose packed state is $st unless it returned already
      (if (i32.eq (i32.and (local.get $st) (i32.const 0xf)) (i32.const 2 (; RETURNED ;)))
        (then (return)))
      (if (i32.ne (i32.and (local.get $st) (i32.const 0xf)) (i32.const 1 (; STARTED ;)))
        (then unreachable))
      (local.set $ws (call $waitable-set.new))
      (call $waitable.join (i32.shr_u (local.get $st) (i32.const 4)) (local.get $ws))
      (if (i32.ne (call $waitable-set.wait (local.get $ws) (i32.const 0)) (i32.const 1 (; SUBTASK ;)))
        (then unreachable))
      (if (i32.ne (i32.load (i32.const 4)) (i32.const 2 (; RETURNED ;))) (then unreachable))
      (call $subtask.drop (i32.shr_u (local.get $st) (i32.const 4)))
      (call $waitable-set.drop (local.get $ws)))
    ;; the sum of add(i, 1) and yield-add(i, 2) for i < n
    (func (export "run") (param $n i32) (local $i i32) (local $sum i32)
      (block $done
        (loop $again
          (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
          (if (i32.ne (call $add (local.get $i) (i32.const 1) (i32.const 0x10)) (i32.const 2))
            (then unreachable (; add returns at once ;)))
          (local.set $sum (i32.add (local.get $sum) (i32.load (i32.const 0x10))))
          (call $settle (call $yield-add (local.get $i) (i32.const 2) (i32.const 0x10)))
          (local.set $sum (i32.add (local.get $sum) (i32.load (i32.const 0x10))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $again)))
      (call $task.return (local.get $sum)))
    (func (export "boom")
      (drop (call $boom))
      (call $task.return0)))
  (core instance $r (instantiate $R (with "" (instance
    (export "mem" (memory $memory))
    (export "add" (func $add))
    (export "yield-add" (func $yield-add))
    (export "boom" (func $boom))
    (export "task.return" (func $task.return))
    (export "task.return0" (func $task.return0))
    (export "waitable-set.new" (func $waitable-set.new))
    (export "waitable-set.wait" (func $waitable-set.wait))
    (export "waitable-set.drop" (func $waitable-set.drop))
    (export "waitable.join" (func $waitable.join))
    (export "subtask.drop" (func $subtask.drop))))))
  (func (export "run") async (param "n" u32) (result u32)
    (canon lift (core func $r "run") async))
  (func (export "boom") async
    (canon lift (core func $r "boom") async))
)

;; sum over i < 5 of (i + 1) + (i + 2) = 10 + 5 + 10 + 10
(assert_return (invoke "run" (u32.const 5)) (u32.const 35))
(assert_trap (invoke "boom") "wasm `unreachable` instruction executed")
