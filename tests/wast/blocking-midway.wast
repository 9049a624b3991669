;; Guests that block halfway through a core call, and what happens after.
;;
;; Under the callback strategy these are the hard cases: a callback that
;; makes a sync call or a sync `waitable-set.wait` is parked on its fiber
;; until the built-in unblocks; a stackful export is unwound by asyncify and
;; rewound. The results (and the traps) must be the same as under stackful:
;; tests/test_strategies.py runs this script under both and compares traces.
;;
;; $slow's "double" yields twice before it returns 2x; "double-held" yields
;; until "release" is called, so that an async call of it is sure to block
;; (a yield alone may keep running: then the call returns eagerly and nothing
;; waits). $mid calls them:
;; - "sync-in-callback": a sync lowered call inside a callback-lifted export;
;; - "two-syncs-in-callback": two sync calls in a row in one callback;
;; - "wait-in-callback": an async call, then a sync wait on its set, inside
;;   a callback-lifted export;
;; - "bad-ptr-in-callback": the same wait with an event pointer out of
;;   bounds: it traps once the wait is over, not before;
;; - "stackful-sum": a stackful export looping over async calls and waits,
;;   with locals live across each wait;
;; - "stackful-bad-ptr": a stackful export whose wait traps once it is over.

(component $slow
  (core func $task.return (canon task.return (result u32)))
  (core func $thread.yield (canon thread.yield))
  (core module $S
    (import "" "task.return" (func $task.return (param i32)))
    (import "" "thread.yield" (func $thread.yield (result i32)))
    (global $released (mut i32) (i32.const 0))
    (func (export "double") (param $x i32)
      (drop (call $thread.yield))
      (drop (call $thread.yield))
      (call $task.return (i32.mul (local.get $x) (i32.const 2))))
    (func (export "double-held") (param $x i32)
      (loop $wait
        (drop (call $thread.yield))
        (br_if $wait (i32.eqz (global.get $released))))
      (global.set $released (i32.const 0))
      (call $task.return (i32.mul (local.get $x) (i32.const 2))))
    (func (export "release") (global.set $released (i32.const 1))))
  (core instance $s (instantiate $S (with "" (instance
    (export "task.return" (func $task.return))
    (export "thread.yield" (func $thread.yield))))))
  (func (export "double") async (param "x" u32) (result u32) (canon lift (core func $s "double") async))
  (func (export "double-held") async (param "x" u32) (result u32)
    (canon lift (core func $s "double-held") async))
  (func (export "release") (canon lift (core func $s "release")))
)
(register "slow" $slow)

(component definition $Mid
  (import "slow" (instance $slow
    (export "double" (func async (param "x" u32) (result u32)))
    (export "double-held" (func async (param "x" u32) (result u32)))
    (export "release" (func))))
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "mem" (core memory $memory))
  (core func $double-sync (canon lower (func $slow "double")))
  (core func $double-held-async (canon lower (func $slow "double-held") async (memory $memory)))
  (core func $release (canon lower (func $slow "release")))
  (core func $task.return (canon task.return (result u32)))
  (core func $waitable-set.new (canon waitable-set.new))
  (core func $waitable-set.wait (canon waitable-set.wait (memory $memory)))
  (core func $waitable-set.drop (canon waitable-set.drop))
  (core func $waitable.join (canon waitable.join))
  (core func $subtask.drop (canon subtask.drop))
  (core module $M
    (import "" "mem" (memory 1))
    (import "" "double-sync" (func $double-sync (param i32) (result i32)))
    (import "" "double-held-async" (func $double-held-async (param i32 i32) (result i32)))
    (import "" "release" (func $release))
    (import "" "task.return" (func $task.return (param i32)))
    (import "" "waitable-set.new" (func $ws.new (result i32)))
    (import "" "waitable-set.wait" (func $ws.wait (param i32 i32) (result i32)))
    (import "" "waitable-set.drop" (func $ws.drop (param i32)))
    (import "" "waitable.join" (func $join (param i32 i32)))
    (import "" "subtask.drop" (func $subtask.drop (param i32)))

    ;; double(x) through an async call and a sync wait, events written at $ptr
    (func $double-waiting (param $x i32) (param $ptr i32) (result i32)
          (local $st i32) (local $ws i32) (local $code i32)
      (local.set $st (call $double-held-async (local.get $x) (i32.const 0x100)))
      (if (i32.ne (i32.and (local.get $st) (i32.const 0xf)) (i32.const 1 (; STARTED ;)))
        (then unreachable))
      ;; it returns once released, but cannot run before we wait: the wait blocks
      (call $release)
      (local.set $ws (call $ws.new))
      (call $join (i32.shr_u (local.get $st) (i32.const 4)) (local.get $ws))
      (local.set $code (call $ws.wait (local.get $ws) (local.get $ptr)))
      (if (i32.ne (local.get $code) (i32.const 1 (; SUBTASK ;))) (then unreachable))
      (if (i32.ne (i32.load offset=4 (local.get $ptr)) (i32.const 2 (; RETURNED ;)))
        (then unreachable))
      (call $subtask.drop (i32.shr_u (local.get $st) (i32.const 4)))
      (call $ws.drop (local.get $ws))
      (i32.load (i32.const 0x100)))

    (func (export "sync-in-callback") (param $x i32) (result i32)
      (call $task.return (i32.add (call $double-sync (local.get $x)) (i32.const 1)))
      (i32.const 0 (; EXIT ;)))
    (func (export "two-syncs-in-callback") (param $x i32) (result i32)
      (call $task.return (call $double-sync (call $double-sync (local.get $x))))
      (i32.const 0 (; EXIT ;)))
    (func (export "wait-in-callback") (param $x i32) (result i32)
      (call $task.return (i32.add (call $double-waiting (local.get $x) (i32.const 0x200))
                                  (i32.const 2)))
      (i32.const 0 (; EXIT ;)))
    (func (export "bad-ptr-in-callback") (param $x i32) (result i32)
      (drop (call $double-waiting (local.get $x) (i32.const 0xfffffff8)))
      (i32.const 0 (; EXIT ;)))
    (func (export "never") (param i32 i32 i32) (result i32) unreachable)

    (func (export "stackful-sum") (param $n i32) (local $i i32) (local $sum i32)
      (loop $next
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (local.set $sum (i32.add (local.get $sum)
                                 (call $double-waiting (local.get $i) (i32.const 0x200))))
        (br_if $next (i32.lt_u (local.get $i) (local.get $n))))
      (call $task.return (local.get $sum)))
    (func (export "stackful-bad-ptr") (param $x i32)
      (drop (call $double-waiting (local.get $x) (i32.const 0xfffffff8)))
      (call $task.return (i32.const 0))))
  (core instance $m (instantiate $M (with "" (instance
    (export "mem" (memory $memory))
    (export "double-sync" (func $double-sync))
    (export "double-held-async" (func $double-held-async))
    (export "release" (func $release))
    (export "task.return" (func $task.return))
    (export "waitable-set.new" (func $waitable-set.new))
    (export "waitable-set.wait" (func $waitable-set.wait))
    (export "waitable-set.drop" (func $waitable-set.drop))
    (export "waitable.join" (func $waitable.join))
    (export "subtask.drop" (func $subtask.drop))))))
  (func (export "sync-in-callback") async (param "x" u32) (result u32)
    (canon lift (core func $m "sync-in-callback") async (callback (core func $m "never"))))
  (func (export "two-syncs-in-callback") async (param "x" u32) (result u32)
    (canon lift (core func $m "two-syncs-in-callback") async (callback (core func $m "never"))))
  (func (export "wait-in-callback") async (param "x" u32) (result u32)
    (canon lift (core func $m "wait-in-callback") async (callback (core func $m "never"))))
  (func (export "bad-ptr-in-callback") async (param "x" u32) (result u32)
    (canon lift (core func $m "bad-ptr-in-callback") async (callback (core func $m "never"))))
  (func (export "stackful-sum") async (param "n" u32) (result u32)
    (canon lift (core func $m "stackful-sum") async))
  (func (export "stackful-bad-ptr") async (param "x" u32) (result u32)
    (canon lift (core func $m "stackful-bad-ptr") async))
)

(component instance $mid $Mid)
(assert_return (invoke "sync-in-callback" (u32.const 20)) (u32.const 41))
(assert_return (invoke "two-syncs-in-callback" (u32.const 5)) (u32.const 20))
(assert_return (invoke "wait-in-callback" (u32.const 20)) (u32.const 42))
(assert_return (invoke "stackful-sum" (u32.const 10)) (u32.const 110))
(assert_trap (invoke "bad-ptr-in-callback" (u32.const 1)) "out of bounds")

;; a trap poisons the instance: a fresh one for the stackful case
(component instance $mid2 $Mid)
(assert_trap (invoke "stackful-bad-ptr" (u32.const 1)) "out of bounds")
(component instance $mid3 $Mid)
(assert_return (invoke "stackful-sum" (u32.const 3)) (u32.const 12))
