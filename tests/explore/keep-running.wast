;; A wait already satisfied may keep running or block (stackswitch explore's tests).
;;
;; $main starts $sleeper's `nap` (which yields once, then returns), then
;; waits on a set whose event is already pending. FIFO keeps running, as
;; wasmtime does; a schedule that blocks there lets the sleeper finish
;; first. `run` then polls the subtask and returns what it saw: 0 if the nap
;; had not finished (FIFO), 1 if it had (the wait blocked), 2 if the nap
;; returned before even blocking (its own yield kept running).

(component $sleeper
  (core func $task.return (canon task.return))
  (core func $thread.yield (canon thread.yield))
  (core module $S
    (import "" "task.return" (func $task.return))
    (import "" "thread.yield" (func $thread.yield (result i32)))
    (func (export "nap") (drop (call $thread.yield)) (call $task.return)))
  (core instance $s (instantiate $S (with "" (instance
    (export "task.return" (func $task.return))
    (export "thread.yield" (func $thread.yield))))))
  (func (export "nap") async (canon lift (core func $s "nap") async))
)
(register "sleeper" $sleeper)

(component $main
  (import "sleeper" (instance $sleeper (export "nap" (func async))))
  (type $F (future))
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "mem" (core memory $memory))
  (core func $nap (canon lower (func $sleeper "nap") async))
  (core func $task.return (canon task.return (result u32)))
  (core func $future.new (canon future.new $F))
  (core func $future.read (canon future.read $F async))
  (core func $future.write (canon future.write $F async))
  (core func $waitable-set.new (canon waitable-set.new))
  (core func $waitable-set.wait (canon waitable-set.wait (memory $memory)))
  (core func $waitable-set.poll (canon waitable-set.poll (memory $memory)))
  (core func $waitable.join (canon waitable.join))
  (core module $M
    (import "" "mem" (memory 1))
    (import "" "nap" (func $nap (result i32)))
    (import "" "task.return" (func $task.return (param i32)))
    (import "" "future.new" (func $future.new (result i64)))
    (import "" "future.read" (func $future.read (param i32 i32) (result i32)))
    (import "" "future.write" (func $future.write (param i32 i32) (result i32)))
    (import "" "waitable-set.new" (func $waitable-set.new (result i32)))
    (import "" "waitable-set.wait" (func $waitable-set.wait (param i32 i32) (result i32)))
    (import "" "waitable-set.poll" (func $waitable-set.poll (param i32 i32) (result i32)))
    (import "" "waitable.join" (func $waitable.join (param i32 i32)))
    (func $run (result i32) (local $st i32) (local $naps i32) (local $ends i64) (local $ws i32)
      (local.set $st (call $nap))
      (if (i32.ne (i32.and (local.get $st) (i32.const 0xf)) (i32.const 1 (; STARTED ;)))
        (then (return (i32.const 2))))
      (local.set $naps (call $waitable-set.new))
      (call $waitable.join (i32.shr_u (local.get $st) (i32.const 4)) (local.get $naps))
      ;; a unit future written, then read by us: its writer has an event pending
      (local.set $ends (call $future.new))
      (drop (call $future.write (i32.wrap_i64 (i64.shr_u (local.get $ends) (i64.const 32)))
                                (i32.const 0)))
      (drop (call $future.read (i32.wrap_i64 (local.get $ends)) (i32.const 0)))
      (local.set $ws (call $waitable-set.new))
      (call $waitable.join (i32.wrap_i64 (i64.shr_u (local.get $ends) (i64.const 32)))
                           (local.get $ws))
      (drop (call $waitable-set.wait (local.get $ws) (i32.const 0)))
      ;; SUBTASK (1) if the nap finished meanwhile, else NONE (0)
      (call $waitable-set.poll (local.get $naps) (i32.const 0)))
    (func (export "run") (call $task.return (call $run))))
  (core instance $m (instantiate $M (with "" (instance
    (export "mem" (memory $memory))
    (export "nap" (func $nap))
    (export "task.return" (func $task.return))
    (export "future.new" (func $future.new))
    (export "future.read" (func $future.read))
    (export "future.write" (func $future.write))
    (export "waitable-set.new" (func $waitable-set.new))
    (export "waitable-set.wait" (func $waitable-set.wait))
    (export "waitable-set.poll" (func $waitable-set.poll))
    (export "waitable.join" (func $waitable.join))))))
  (func (export "run") async (result u32) (canon lift (core func $m "run") async))
)
(assert_return (invoke "run") (u32.const 0))
