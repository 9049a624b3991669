;; Subtasks: async and sync lowers of async- and sync-typed functions.
;;
;; $callee's exports block (thread.yield) or not; $caller calls them with
;; `canon lower ... async` and with plain sync lowers. An async lower returns
;; RETURNED (2) when the callee finished without blocking (and then there is
;; no subtask), else STARTED (1) | subtask << 4 (only async-typed functions may
;; be lowered async); the SUBTASK event (code 1)
;; then brings the subtask's new state as its payload. $caller's exports return
;; 0 when all their checks pass, else the number of the first failed check.
;;
;; A yield may keep running (the spec lets the host choose), so a callee that
;; only yields may still return eagerly. Where a check needs a call to block,
;; $caller first closes $callee's gate: "yields" and "five" then keep yielding
;; until it is opened again.

(component $callee
  (core func $task.return (canon task.return (result u32)))
  (core func $thread.yield (canon thread.yield))
  (core module $M
    (import "" "task.return" (func $task.return (param i32)))
    (import "" "thread.yield" (func $thread.yield (result i32)))
    (global $closed (mut i32) (i32.const 0))
    (func $while-closed
      (block $open
        (loop $again
          (br_if $open (i32.eqz (global.get $closed)))
          (drop (call $thread.yield))
          (br $again))))
    (func (export "close") (global.set $closed (i32.const 1)))
    (func (export "open") (global.set $closed (i32.const 0)))
    ;; yields n times (and then while the gate is closed), then returns n * 10
    (func (export "yields") (param $n i32) (local $i i32)
      (block $done
        (loop $again
          (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
          (drop (call $thread.yield))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $again)))
      (call $while-closed)
      (call $task.return (i32.mul (local.get $n) (i32.const 10))))
    ;; returns at once
    (func (export "immediate") (param $x i32)
      (call $task.return (i32.add (local.get $x) (i32.const 1))))
    ;; five parameters: more than an async call passes in core values
    (func (export "five") (param i32 i32 i32 i32 i32)
      (drop (call $thread.yield))
      (call $while-closed)
      (call $task.return (i32.add (i32.add (i32.add (i32.add
        (local.get 0) (local.get 1)) (local.get 2)) (local.get 3)) (local.get 4))))
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))
  (core instance $m (instantiate $M (with "" (instance
    (export "task.return" (func $task.return))
    (export "thread.yield" (func $thread.yield))))))
  (func (export "yields") async (param "n" u32) (result u32)
    (canon lift (core func $m "yields") async))
  (func (export "immediate") async (param "x" u32) (result u32)
    (canon lift (core func $m "immediate") async))
  (func (export "five") async (param "a" u32) (param "b" u32) (param "c" u32) (param "d" u32)
    (param "e" u32) (result u32)
    (canon lift (core func $m "five") async))
  (func (export "add") (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $m "add")))
  (func (export "close") (canon lift (core func $m "close")))
  (func (export "open") (canon lift (core func $m "open")))
)
(register "callee" $callee)

(component $caller
  (import "callee" (instance $callee
    (export "yields" (func async (param "n" u32) (result u32)))
    (export "immediate" (func async (param "x" u32) (result u32)))
    (export "five" (func async (param "a" u32) (param "b" u32) (param "c" u32) (param "d" u32)
      (param "e" u32) (result u32)))
    (export "add" (func (param "a" u32) (param "b" u32) (result u32)))
    (export "close" (func))
    (export "open" (func))
  ))
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "mem" (core memory $memory))
  (core func $yields-async (canon lower (func $callee "yields") async (memory $memory)))
  (core func $yields-sync (canon lower (func $callee "yields")))
  (core func $immediate-async (canon lower (func $callee "immediate") async (memory $memory)))
  (core func $five-async (canon lower (func $callee "five") async (memory $memory)))
  (core func $close (canon lower (func $callee "close")))
  (core func $open (canon lower (func $callee "open")))
  (core func $task.return (canon task.return (result u32)))
  (core func $waitable-set.new (canon waitable-set.new))
  (core func $waitable-set.wait (canon waitable-set.wait (memory $memory)))
  (core func $waitable-set.drop (canon waitable-set.drop))
  (core func $waitable.join (canon waitable.join))
  (core func $subtask.drop (canon subtask.drop))

  (core module $C
    (import "" "mem" (memory 1))
    (import "" "yields-async" (func $yields-async (param i32 i32) (result i32)))
    (import "" "yields-sync" (func $yields-sync (param i32) (result i32)))
    (import "" "immediate-async" (func $immediate-async (param i32 i32) (result i32)))
    (import "" "five-async" (func $five-async (param i32 i32) (result i32)))
    (import "" "close" (func $close))
    (import "" "open" (func $open))
    (import "" "task.return" (func $task.return (param i32)))
    (import "" "waitable-set.new" (func $waitable-set.new (result i32)))
    (import "" "waitable-set.wait" (func $waitable-set.wait (param i32 i32) (result i32)))
    (import "" "waitable-set.drop" (func $waitable-set.drop (param i32)))
    (import "" "waitable.join" (func $waitable.join (param i32 i32)))
    (import "" "subtask.drop" (func $subtask.drop (param i32)))

    ;; memory: event at 0, results at 0x40, 0x44, 0x48, spilled parameters at 0x80
    (func $state (param i32) (result i32) (i32.and (local.get 0) (i32.const 0xf)))
    (func $index (param i32) (result i32) (i32.shr_u (local.get 0) (i32.const 4)))

    (func $started-then-returned (result i32) (local $st i32) (local $ws i32)
      (call $close)
      (local.set $st (call $yields-async (i32.const 2) (i32.const 0x40)))
      (if (i32.ne (call $state (local.get $st)) (i32.const 1 (; STARTED ;))) (then (return (i32.const 1))))
      (call $open)
      (local.set $ws (call $waitable-set.new))
      (call $waitable.join (call $index (local.get $st)) (local.get $ws))
      (if (i32.ne (call $waitable-set.wait (local.get $ws) (i32.const 0)) (i32.const 1 (; SUBTASK ;)))
        (then (return (i32.const 2))))
      (if (i32.ne (i32.load (i32.const 0)) (call $index (local.get $st))) (then (return (i32.const 3))))
      (if (i32.ne (i32.load (i32.const 4)) (i32.const 2 (; RETURNED ;))) (then (return (i32.const 4))))
      (if (i32.ne (i32.load (i32.const 0x40)) (i32.const 20)) (then (return (i32.const 5))))
      (call $subtask.drop (call $index (local.get $st)))
      (call $waitable-set.drop (local.get $ws))
      (i32.const 0))
    (func (export "started-then-returned") (call $task.return (call $started-then-returned)))

    ;; a callee that returns before blocking: RETURNED at once, no subtask
    (func $eager (result i32)
      (if (i32.ne (call $immediate-async (i32.const 4) (i32.const 0x40)) (i32.const 2 (; RETURNED ;)))
        (then (return (i32.const 1))))
      (if (i32.ne (i32.load (i32.const 0x40)) (i32.const 5)) (then (return (i32.const 2))))
      (i32.const 0))
    (func (export "eager") (call $task.return (call $eager)))

    ;; a sync lower of an async-typed function blocks this task until it returns
    (func $sync-lower (result i32)
      (if (i32.ne (call $yields-sync (i32.const 3)) (i32.const 30)) (then (return (i32.const 1))))
      (i32.const 0))
    (func (export "sync-lower") (call $task.return (call $sync-lower)))

    ;; three subtasks at once, waited for in one set
    (func $many (result i32) (local $ws i32) (local $st i32) (local $n i32) (local $mask i32)
      (local $a i32) (local $b i32) (local $c i32)
      (local.set $ws (call $waitable-set.new))
      (call $close)
      (local.set $st (call $yields-async (i32.const 3) (i32.const 0x40)))
      (if (i32.ne (call $state (local.get $st)) (i32.const 1)) (then (return (i32.const 1))))
      (local.set $a (call $index (local.get $st)))
      (call $waitable.join (local.get $a) (local.get $ws))
      (local.set $st (call $yields-async (i32.const 1) (i32.const 0x44)))
      (if (i32.ne (call $state (local.get $st)) (i32.const 1)) (then (return (i32.const 2))))
      (local.set $b (call $index (local.get $st)))
      (call $waitable.join (local.get $b) (local.get $ws))
      (local.set $st (call $yields-async (i32.const 2) (i32.const 0x48)))
      (if (i32.ne (call $state (local.get $st)) (i32.const 1)) (then (return (i32.const 3))))
      (local.set $c (call $index (local.get $st)))
      (call $waitable.join (local.get $c) (local.get $ws))
      (if (i32.or (i32.eq (local.get $a) (local.get $b))
            (i32.or (i32.eq (local.get $a) (local.get $c)) (i32.eq (local.get $b) (local.get $c))))
        (then (return (i32.const 4))))
      (call $open)
      ;; one RETURNED event per subtask, whatever the order
      (loop $next
        (if (i32.ne (call $waitable-set.wait (local.get $ws) (i32.const 0)) (i32.const 1))
          (then (return (i32.const 5))))
        (if (i32.ne (i32.load (i32.const 4)) (i32.const 2)) (then (return (i32.const 6))))
        (if (i32.eq (i32.load (i32.const 0)) (local.get $a)) (then (local.set $mask (i32.or (local.get $mask) (i32.const 1)))))
        (if (i32.eq (i32.load (i32.const 0)) (local.get $b)) (then (local.set $mask (i32.or (local.get $mask) (i32.const 2)))))
        (if (i32.eq (i32.load (i32.const 0)) (local.get $c)) (then (local.set $mask (i32.or (local.get $mask) (i32.const 4)))))
        (call $subtask.drop (i32.load (i32.const 0)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br_if $next (i32.lt_u (local.get $n) (i32.const 3))))
      (if (i32.ne (local.get $mask) (i32.const 7)) (then (return (i32.const 7))))
      (if (i32.ne (i32.add (i32.add (i32.load (i32.const 0x40)) (i32.load (i32.const 0x44)))
                           (i32.load (i32.const 0x48)))
                  (i32.const 60))
        (then (return (i32.const 8))))
      (call $waitable-set.drop (local.get $ws))
      (i32.const 0))
    (func (export "many") (call $task.return (call $many)))

    ;; five u32 parameters are passed through memory: one pointer
    (func $spilled (result i32) (local $st i32) (local $ws i32)
      (i32.store (i32.const 0x80) (i32.const 1))
      (i32.store (i32.const 0x84) (i32.const 2))
      (i32.store (i32.const 0x88) (i32.const 3))
      (i32.store (i32.const 0x8c) (i32.const 4))
      (i32.store (i32.const 0x90) (i32.const 5))
      (call $close)
      (local.set $st (call $five-async (i32.const 0x80) (i32.const 0x40)))
      (if (i32.ne (call $state (local.get $st)) (i32.const 1)) (then (return (i32.const 1))))
      (call $open)
      (local.set $ws (call $waitable-set.new))
      (call $waitable.join (call $index (local.get $st)) (local.get $ws))
      (if (i32.ne (call $waitable-set.wait (local.get $ws) (i32.const 0)) (i32.const 1))
        (then (return (i32.const 2))))
      (if (i32.ne (i32.load (i32.const 0x40)) (i32.const 15)) (then (return (i32.const 3))))
      (call $subtask.drop (call $index (local.get $st)))
      (call $waitable-set.drop (local.get $ws))
      (i32.const 0))
    (func (export "spilled") (call $task.return (call $spilled)))

    ;; this task may return while its subtask still runs (and then let it end)
    (func (export "leave-running") (local $st i32)
      (call $close)
      (local.set $st (call $yields-async (i32.const 2) (i32.const 0x40)))
      (call $task.return (call $state (local.get $st)))
      (call $open))
  )
  (core instance $c (instantiate $C (with "" (instance
    (export "mem" (memory $memory))
    (export "yields-async" (func $yields-async))
    (export "yields-sync" (func $yields-sync))
    (export "immediate-async" (func $immediate-async))
    (export "five-async" (func $five-async))
    (export "close" (func $close))
    (export "open" (func $open))
    (export "task.return" (func $task.return))
    (export "waitable-set.new" (func $waitable-set.new))
    (export "waitable-set.wait" (func $waitable-set.wait))
    (export "waitable-set.drop" (func $waitable-set.drop))
    (export "waitable.join" (func $waitable.join))
    (export "subtask.drop" (func $subtask.drop))))))
  (func (export "started-then-returned") async (result u32)
    (canon lift (core func $c "started-then-returned") async))
  (func (export "eager") async (result u32) (canon lift (core func $c "eager") async))
  (func (export "sync-lower") async (result u32) (canon lift (core func $c "sync-lower") async))
  (func (export "many") async (result u32) (canon lift (core func $c "many") async))
  (func (export "spilled") async (result u32) (canon lift (core func $c "spilled") async))
  (func (export "leave-running") async (result u32) (canon lift (core func $c "leave-running") async))
)

(assert_return (invoke "started-then-returned") (u32.const 0))
(assert_return (invoke "eager") (u32.const 0))
(assert_return (invoke "sync-lower") (u32.const 0))
(assert_return (invoke "many") (u32.const 0))
(assert_return (invoke "spilled") (u32.const 0))
(assert_return (invoke "leave-running") (u32.const 1))

;; The host calls the async-typed exports directly too.
(assert_return (invoke $callee "yields" (u32.const 4)) (u32.const 40))
(assert_return (invoke $callee "immediate" (u32.const 41)) (u32.const 42))
(assert_return (invoke $callee "five" (u32.const 10) (u32.const 20) (u32.const 30) (u32.const 40)
  (u32.const 50)) (u32.const 150))
(assert_return (invoke $callee "add" (u32.const 40) (u32.const 2)) (u32.const 42))
