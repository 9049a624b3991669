;; The callback ABI: exports whose core function returns EXIT (0), YIELD (1)
;; or WAIT (2) | set << 4, after which the runtime calls their `callback`
;; with (event, index, payload) from an empty stack.
;;
;; $cb's "count" keeps its state in context slot 0 and yields n times;
;; "relay" waits on a subtask of a stackful function in $slow; "poll" polls an
;; empty set; "bad-code" returns a code that does not exist. $driver runs two
;; "count" calls at once from a stackful task.
;;
;; A yield may keep running (the spec lets the host choose), so a call of
;; "count" or of $slow's "double" may return eagerly (RETURNED, no subtask):
;; the callers handle both outcomes.

(component $slow
  (core func $task.return (canon task.return (result u32)))
  (core func $thread.yield (canon thread.yield))
  (core module $S
    (import "" "task.return" (func $task.return (param i32)))
    (import "" "thread.yield" (func $thread.yield (result i32)))
    (func (export "double") (param $x i32)
      (drop (call $thread.yield))
      (call $task.return (i32.mul (local.get $x) (i32.const 2)))))
  (core instance $s (instantiate $S (with "" (instance
    (export "task.return" (func $task.return))
    (export "thread.yield" (func $thread.yield))))))
  (func (export "double") async (param "x" u32) (result u32) (canon lift (core func $s "double") async))
)
(register "slow" $slow)

(component $cb
  (import "slow" (instance $slow (export "double" (func async (param "x" u32) (result u32)))))
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "mem" (core memory $memory))
  (core func $double (canon lower (func $slow "double") async (memory $memory)))
  (core func $task.return (canon task.return (result u32)))
  (core func $context.get (canon context.get i32 0))
  (core func $context.set (canon context.set i32 0))
  (core func $waitable-set.new (canon waitable-set.new))
  (core func $waitable-set.poll (canon waitable-set.poll (memory $memory)))
  (core func $waitable-set.drop (canon waitable-set.drop))
  (core func $waitable.join (canon waitable.join))
  (core func $subtask.drop (canon subtask.drop))
  (core module $M
    (import "" "mem" (memory 1))
    (import "" "double" (func $double (param i32 i32) (result i32)))
    (import "" "task.return" (func $task.return (param i32)))
    (import "" "context.get" (func $context.get (result i32)))
    (import "" "context.set" (func $context.set (param i32)))
    (import "" "waitable-set.new" (func $waitable-set.new (result i32)))
    (import "" "waitable-set.poll" (func $waitable-set.poll (param i32 i32) (result i32)))
    (import "" "waitable-set.drop" (func $waitable-set.drop (param i32)))
    (import "" "waitable.join" (func $waitable.join (param i32 i32)))
    (import "" "subtask.drop" (func $subtask.drop (param i32)))
    (global $next (mut i32) (i32.const 0x100))
    (func $alloc (result i32) (local $p i32)
      (local.set $p (global.get $next))
      (global.set $next (i32.add (local.get $p) (i32.const 16)))
      (local.get $p))

    ;; state: n at +0, yields so far at +4
    (func (export "count") (param $n i32) (result i32) (local $state i32)
      (local.set $state (call $alloc))
      (i32.store (local.get $state) (local.get $n))
      (i32.store offset=4 (local.get $state) (i32.const 0))
      (call $context.set (local.get $state))
      (i32.const 1 (; YIELD ;)))
    (func (export "count-cb") (param $event i32) (param $index i32) (param $payload i32) (result i32)
      (local $state i32)
      (if (i32.ne (local.get $event) (i32.const 0 (; NONE ;))) (then unreachable))
      (local.set $state (call $context.get))
      (i32.store offset=4 (local.get $state) (i32.add (i32.load offset=4 (local.get $state)) (i32.const 1)))
      (if (i32.lt_u (i32.load offset=4 (local.get $state)) (i32.load (local.get $state)))
        (then (return (i32.const 1 (; YIELD ;)))))
      (call $task.return (i32.add (i32.mul (i32.load offset=4 (local.get $state)) (i32.const 100))
                                  (i32.load (local.get $state))))
      (i32.const 0 (; EXIT ;)))

    ;; state: the subtask at +0, its result at +4, the set at +8
    (func (export "relay") (param $x i32) (result i32) (local $state i32) (local $st i32)
      (local.set $state (call $alloc))
      (call $context.set (local.get $state))
      (local.set $st (call $double (local.get $x) (i32.add (local.get $state) (i32.const 4))))
      ;; returned eagerly: nothing to wait for
      (if (i32.eq (i32.and (local.get $st) (i32.const 0xf)) (i32.const 2 (; RETURNED ;)))
        (then
          (call $task.return (i32.add (i32.load offset=4 (local.get $state)) (i32.const 1)))
          (return (i32.const 0 (; EXIT ;)))))
      (if (i32.ne (i32.and (local.get $st) (i32.const 0xf)) (i32.const 1 (; STARTED ;))) (then unreachable))
      (i32.store (local.get $state) (i32.shr_u (local.get $st) (i32.const 4)))
      (i32.store offset=8 (local.get $state) (call $waitable-set.new))
      (call $waitable.join (i32.load (local.get $state)) (i32.load offset=8 (local.get $state)))
      (i32.or (i32.const 2 (; WAIT ;)) (i32.shl (i32.load offset=8 (local.get $state)) (i32.const 4))))
    (func (export "relay-cb") (param $event i32) (param $index i32) (param $payload i32) (result i32)
      (local $state i32)
      (local.set $state (call $context.get))
      (if (i32.ne (local.get $event) (i32.const 1 (; SUBTASK ;))) (then unreachable))
      (if (i32.ne (local.get $index) (i32.load (local.get $state))) (then unreachable))
      (if (i32.ne (local.get $payload) (i32.const 2 (; RETURNED ;))) (then unreachable))
      (call $subtask.drop (local.get $index))
      (call $waitable-set.drop (i32.load offset=8 (local.get $state)))
      (call $task.return (i32.add (i32.load offset=4 (local.get $state)) (i32.const 1)))
      (i32.const 0 (; EXIT ;)))

    ;; an empty set has nothing to report: NONE (0), with index and payload 0
    (func (export "poll") (result i32) (local $ws i32) (local $code i32)
      (i64.store (i32.const 0) (i64.const -1))
      (local.set $ws (call $waitable-set.new))
      (local.set $code (call $waitable-set.poll (local.get $ws) (i32.const 0)))
      (call $waitable-set.drop (local.get $ws))
      (call $task.return (i32.or (local.get $code) (i32.or (i32.load (i32.const 0)) (i32.load (i32.const 4)))))
      (i32.const 0 (; EXIT ;)))

    (func (export "bad-code") (result i32) (i32.const 3))
    (func (export "never") (param i32 i32 i32) (result i32) unreachable))
  (core instance $m (instantiate $M (with "" (instance
    (export "mem" (memory $memory))
    (export "double" (func $double))
    (export "task.return" (func $task.return))
    (export "context.get" (func $context.get))
    (export "context.set" (func $context.set))
    (export "waitable-set.new" (func $waitable-set.new))
    (export "waitable-set.poll" (func $waitable-set.poll))
    (export "waitable-set.drop" (func $waitable-set.drop))
    (export "waitable.join" (func $waitable.join))
    (export "subtask.drop" (func $subtask.drop))))))
  (func (export "count") async (param "n" u32) (result u32)
    (canon lift (core func $m "count") async (callback (core func $m "count-cb"))))
  (func (export "relay") async (param "x" u32) (result u32)
    (canon lift (core func $m "relay") async (callback (core func $m "relay-cb"))))
  (func (export "poll") async (result u32)
    (canon lift (core func $m "poll") async (callback (core func $m "never"))))
  (func (export "bad-code") async (result u32)
    (canon lift (core func $m "bad-code") async (callback (core func $m "never"))))
)
(register "cb" $cb)

(assert_return (invoke "count" (u32.const 1)) (u32.const 101))
(assert_return (invoke "count" (u32.const 4)) (u32.const 404))
(assert_return (invoke "relay" (u32.const 20)) (u32.const 41))
(assert_return (invoke "poll") (u32.const 0))

(component $driver
  (import "cb" (instance $cb
    (export "count" (func async (param "n" u32) (result u32)))
    (export "relay" (func async (param "x" u32) (result u32)))
  ))
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "mem" (core memory $memory))
  (core func $count (canon lower (func $cb "count") async (memory $memory)))
  (core func $relay (canon lower (func $cb "relay")))
  (core func $task.return (canon task.return (result u32)))
  (core func $waitable-set.new (canon waitable-set.new))
  (core func $waitable-set.wait (canon waitable-set.wait (memory $memory)))
  (core func $waitable.join (canon waitable.join))
  (core func $subtask.drop (canon subtask.drop))
  (core module $D
    (import "" "mem" (memory 1))
    (import "" "count" (func $count (param i32 i32) (result i32)))
    (import "" "relay" (func $relay (param i32) (result i32)))
    (import "" "task.return" (func $task.return (param i32)))
    (import "" "waitable-set.new" (func $waitable-set.new (result i32)))
    (import "" "waitable-set.wait" (func $waitable-set.wait (param i32 i32) (result i32)))
    (import "" "waitable.join" (func $waitable.join (param i32 i32)))
    (import "" "subtask.drop" (func $subtask.drop (param i32)))
    ;; joins the subtask of an async call to $ws, unless it returned eagerly;
    ;; returns how many subtasks it joined (0 or 1)
    (func $join-unless-returned (param $st i32) (param $ws i32) (result i32)
      (if (i32.eq (i32.and (local.get $st) (i32.const 0xf)) (i32.const 2 (; RETURNED ;)))
        (then (return (i32.const 0))))
      (call $waitable.join (i32.shr_u (local.get $st) (i32.const 4)) (local.get $ws))
      (i32.const 1))

    ;; two interleaved "count" tasks, each with its own context slot
    (func $two (result i32) (local $ws i32) (local $left i32)
      (local.set $ws (call $waitable-set.new))
      (local.set $left (call $join-unless-returned
        (call $count (i32.const 3) (i32.const 0x40)) (local.get $ws)))
      (local.set $left (i32.add (local.get $left) (call $join-unless-returned
        (call $count (i32.const 2) (i32.const 0x44)) (local.get $ws))))
      ;; one RETURNED event per subtask, in either order (a STARTED one first
      ;; if a call had to wait to start)
      (block $done
        (loop $next
          (br_if $done (i32.eqz (local.get $left)))
          (if (i32.ne (call $waitable-set.wait (local.get $ws) (i32.const 0)) (i32.const 1))
            (then (return (i32.const 3))))
          (if (i32.eq (i32.load (i32.const 4)) (i32.const 2 (; RETURNED ;)))
            (then
              (call $subtask.drop (i32.load (i32.const 0)))
              (local.set $left (i32.sub (local.get $left) (i32.const 1)))))
          (br $next)))
      (if (i32.ne (i32.load (i32.const 0x40)) (i32.const 303)) (then (return (i32.const 5))))
      (if (i32.ne (i32.load (i32.const 0x44)) (i32.const 202)) (then (return (i32.const 6))))
      ;; a sync call of a callback-lifted function waits for its result
      (if (i32.ne (call $relay (i32.const 5)) (i32.const 11)) (then (return (i32.const 7))))
      (i32.const 0))
    (func (export "two") (call $task.return (call $two))))
  (core instance $d (instantiate $D (with "" (instance
    (export "mem" (memory $memory))
    (export "count" (func $count))
    (export "relay" (func $relay))
    (export "task.return" (func $task.return))
    (export "waitable-set.new" (func $waitable-set.new))
    (export "waitable-set.wait" (func $waitable-set.wait))
    (export "waitable.join" (func $waitable.join))
    (export "subtask.drop" (func $subtask.drop))))))
  (func (export "two") async (result u32) (canon lift (core func $d "two") async))
)

(assert_return (invoke "two") (u32.const 0))
(assert_trap (invoke $cb "bad-code") "unsupported callback code")
