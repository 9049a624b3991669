;; A race between two subtasks (stackswitch explore's tests, not the wast suite).
;;
;; $workers' `work` yields once, then counts itself finished and returns its
;; rank (1 for the first call to finish). $race starts two calls, A then B,
;; waits for both and returns A's rank: 1 under FIFO, 2 when a schedule lets
;; B finish first.

(component $workers
  (core func $task.return (canon task.return (result u32)))
  (core func $thread.yield (canon thread.yield))
  (core module $W
    (import "" "task.return" (func $task.return (param i32)))
    (import "" "thread.yield" (func $thread.yield (result i32)))
    (global $finished (mut i32) (i32.const 0))
    (func (export "work")
      (drop (call $thread.yield))
      (global.set $finished (i32.add (global.get $finished) (i32.const 1)))
      (call $task.return (global.get $finished))))
  (core instance $w (instantiate $W (with "" (instance
    (export "task.return" (func $task.return))
    (export "thread.yield" (func $thread.yield))))))
  (func (export "work") async (result u32) (canon lift (core func $w "work") async))
)
(register "workers" $workers)

(component $race
  (import "workers" (instance $workers (export "work" (func async (result u32)))))
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "mem" (core memory $memory))
  (core func $work (canon lower (func $workers "work") async (memory $memory)))
  (core func $task.return (canon task.return (result u32)))
  (core func $waitable-set.new (canon waitable-set.new))
  (core func $waitable-set.wait (canon waitable-set.wait (memory $memory)))
  (core func $waitable.join (canon waitable.join))
  (core func $subtask.drop (canon subtask.drop))
  (core module $R
    (import "" "mem" (memory 1))
    (import "" "work" (func $work (param i32) (result i32)))
    (import "" "task.return" (func $task.return (param i32)))
    (import "" "waitable-set.new" (func $waitable-set.new (result i32)))
    (import "" "waitable-set.wait" (func $waitable-set.wait (param i32 i32) (result i32)))
    (import "" "waitable.join" (func $waitable.join (param i32 i32)))
    (import "" "subtask.drop" (func $subtask.drop (param i32)))
    ;; starts a call writing its rank at $at; joins it to $ws unless it
    ;; returned at once; the number of subtasks joined (0 or 1)
    (func $start (param $at i32) (param $ws i32) (result i32) (local $st i32)
      (local.set $st (call $work (local.get $at)))
      (if (i32.ne (i32.and (local.get $st) (i32.const 0xf)) (i32.const 1 (; STARTED ;)))
        (then (return (i32.const 0))))
      (call $waitable.join (i32.shr_u (local.get $st) (i32.const 4)) (local.get $ws))
      (i32.const 1))
    (func $run (result i32) (local $ws i32) (local $n i32)
      (local.set $ws (call $waitable-set.new))
      (local.set $n (call $start (i32.const 0x40) (local.get $ws)))
      (local.set $n (i32.add (local.get $n) (call $start (i32.const 0x44) (local.get $ws))))
      (block $done
        (loop $next
          (br_if $done (i32.eqz (local.get $n)))
          (drop (call $waitable-set.wait (local.get $ws) (i32.const 0)))
          (call $subtask.drop (i32.load (i32.const 0)))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $next)))
      (i32.load (i32.const 0x40)))
    (func (export "run") (call $task.return (call $run))))
  (core instance $r (instantiate $R (with "" (instance
    (export "mem" (memory $memory))
    (export "work" (func $work))
    (export "task.return" (func $task.return))
    (export "waitable-set.new" (func $waitable-set.new))
    (export "waitable-set.wait" (func $waitable-set.wait))
    (export "waitable.join" (func $waitable.join))
    (export "subtask.drop" (func $subtask.drop))))))
  (func (export "run") async (result u32) (canon lift (core func $r "run") async))
)
(assert_return (invoke "run") (u32.const 1))
