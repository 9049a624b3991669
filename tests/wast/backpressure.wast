;; Backpressure: while a component instance's backpressure counter is above
;; zero, new calls into it wait to start (an async lower reports STARTING, 0)
;; and start once it drops back to zero. Which waiting call starts first is
;; the host's choice (the spec resumes ready threads in any order), so the
;; checks accept every order.
;;
;; $server counts the calls it runs; $client makes calls while the gate is
;; closed, opens it and collects the SUBTASK events (code 1, payload the
;; subtask's state: STARTED 1, RETURNED 2). $client's exports return 0 when
;; all their checks pass, else the number of the first failed check.

(component definition $Server
  (core func $task.return (canon task.return (result u32)))
  (core func $backpressure.inc (canon backpressure.inc))
  (core func $backpressure.dec (canon backpressure.dec))
  (core func $thread.yield (canon thread.yield))
  (core module $S
    (import "" "task.return" (func $task.return (param i32)))
    (import "" "backpressure.inc" (func $backpressure.inc))
    (import "" "backpressure.dec" (func $backpressure.dec))
    (import "" "thread.yield" (func $thread.yield (result i32)))
    (global $calls (mut i32) (i32.const 0))
    (global $released (mut i32) (i32.const 0))
    ;; returns how many calls have started before and including this one
    (func (export "next")
      (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
      (call $task.return (global.get $calls)))
    ;; keeps others out while it works: yields until `release` is called
    ;; (a yield alone may keep running, so only the flag makes it block),
    ;; then returns its own call number
    (func (export "busy") (local $mine i32)
      (call $backpressure.inc)
      (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
      (local.set $mine (global.get $calls))
      (loop $wait
        (drop (call $thread.yield))
        (br_if $wait (i32.eqz (global.get $released))))
      (global.set $released (i32.const 0))
      (call $backpressure.dec)
      (call $task.return (local.get $mine)))
    (func (export "release") (global.set $released (i32.const 1)))
    (func (export "close") (call $backpressure.inc))
    (func (export "open") (call $backpressure.dec)))
  (core instance $s (instantiate $S (with "" (instance
    (export "task.return" (func $task.return))
    (export "backpressure.inc" (func $backpressure.inc))
    (export "backpressure.dec" (func $backpressure.dec))
    (export "thread.yield" (func $thread.yield))))))
  (func (export "next") async (result u32) (canon lift (core func $s "next") async))
  (func (export "busy") async (result u32) (canon lift (core func $s "busy") async))
  (func (export "release") (canon lift (core func $s "release")))
  (func (export "close") (canon lift (core func $s "close")))
  (func (export "open") (canon lift (core func $s "open")))
)
(component instance $server $Server)
(register "server" $server)

(component $client
  (import "server" (instance $server
    (export "next" (func async (result u32)))
    (export "busy" (func async (result u32)))
    (export "release" (func))
    (export "close" (func))
    (export "open" (func))
  ))
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "mem" (core memory $memory))
  (core func $next (canon lower (func $server "next") async (memory $memory)))
  (core func $busy (canon lower (func $server "busy") async (memory $memory)))
  (core func $release (canon lower (func $server "release")))
  (core func $close (canon lower (func $server "close")))
  (core func $open (canon lower (func $server "open")))
  (core func $task.return (canon task.return (result u32)))
  (core func $waitable-set.new (canon waitable-set.new))
  (core func $waitable-set.wait (canon waitable-set.wait (memory $memory)))
  (core func $waitable-set.poll (canon waitable-set.poll (memory $memory)))
  (core func $waitable-set.drop (canon waitable-set.drop))
  (core func $waitable.join (canon waitable.join))
  (core func $subtask.drop (canon subtask.drop))
  (core module $C
    (import "" "mem" (memory 1))
    (import "" "next" (func $next (param i32) (result i32)))
    (import "" "busy" (func $busy (param i32) (result i32)))
    (import "" "release" (func $release))
    (import "" "close" (func $close))
    (import "" "open" (func $open))
    (import "" "task.return" (func $task.return (param i32)))
    (import "" "waitable-set.new" (func $waitable-set.new (result i32)))
    (import "" "waitable-set.wait" (func $waitable-set.wait (param i32 i32) (result i32)))
    (import "" "waitable-set.poll" (func $waitable-set.poll (param i32 i32) (result i32)))
    (import "" "waitable-set.drop" (func $waitable-set.drop (param i32)))
    (import "" "waitable.join" (func $waitable.join (param i32 i32)))
    (import "" "subtask.drop" (func $subtask.drop (param i32)))

    (func $state (param i32) (result i32) (i32.and (local.get 0) (i32.const 0xf)))
    (func $index (param i32) (result i32) (i32.shr_u (local.get 0) (i32.const 4)))

    ;; wait in $ws until subtasks $a and $b have both reported RETURNED, in
    ;; whichever order; other events are intermediate states (STARTED)
    (func $await-both (param $ws i32) (param $a i32) (param $b i32) (result i32)
      (local $mask i32)
      (loop $again
        (if (i32.ne (call $waitable-set.wait (local.get $ws) (i32.const 0)) (i32.const 1))
          (then (return (i32.const 0))))
        (if (i32.eq (i32.load (i32.const 4)) (i32.const 2 (; RETURNED ;)))
          (then
            (if (i32.eq (i32.load (i32.const 0)) (local.get $a))
              (then (local.set $mask (i32.or (local.get $mask) (i32.const 1)))))
            (if (i32.eq (i32.load (i32.const 0)) (local.get $b))
              (then (local.set $mask (i32.or (local.get $mask) (i32.const 2)))))))
        (br_if $again (i32.ne (local.get $mask) (i32.const 3))))
      (i32.const 1))

    ;; two calls made while the gate is closed wait, then both run
    (func $gate (result i32) (local $a i32) (local $b i32) (local $ws i32)
      (call $close)
      (call $close)
      (local.set $a (call $next (i32.const 0x40)))
      (if (i32.ne (call $state (local.get $a)) (i32.const 0 (; STARTING ;))) (then (return (i32.const 1))))
      (local.set $b (call $next (i32.const 0x44)))
      (if (i32.ne (call $state (local.get $b)) (i32.const 0)) (then (return (i32.const 2))))
      (local.set $ws (call $waitable-set.new))
      (call $waitable.join (call $index (local.get $a)) (local.get $ws))
      (call $waitable.join (call $index (local.get $b)) (local.get $ws))
      ;; the counter is at 2: one `open` leaves the gate closed
      (call $open)
      (if (i32.ne (call $waitable-set.poll (local.get $ws) (i32.const 0)) (i32.const 0 (; NONE ;)))
        (then (return (i32.const 3))))
      (call $open)
      (if (i32.eqz (call $await-both (local.get $ws) (call $index (local.get $a))
                                     (call $index (local.get $b))))
        (then (return (i32.const 4))))
      ;; each ran once, after the gate opened: call numbers 1 and 2, in
      ;; either order (not first come, first served: the host picks)
      (if (i32.eq (i32.load (i32.const 0x40)) (i32.load (i32.const 0x44))) (then (return (i32.const 5))))
      (if (i32.ne (i32.add (i32.load (i32.const 0x40)) (i32.load (i32.const 0x44))) (i32.const 3))
        (then (return (i32.const 6))))
      (call $subtask.drop (call $index (local.get $a)))
      (call $subtask.drop (call $index (local.get $b)))
      (call $waitable-set.drop (local.get $ws))
      (i32.const 0))
    (func (export "gate") (call $task.return (call $gate)))

    ;; a task that raises backpressure itself keeps the next call waiting
    ;; until it is done
    (func $self-imposed (result i32) (local $a i32) (local $b i32) (local $ws i32)
      (local.set $a (call $busy (i32.const 0x40)))
      (if (i32.ne (call $state (local.get $a)) (i32.const 1 (; STARTED ;))) (then (return (i32.const 1))))
      (local.set $b (call $next (i32.const 0x44)))
      (if (i32.ne (call $state (local.get $b)) (i32.const 0 (; STARTING ;))) (then (return (i32.const 2))))
      (local.set $ws (call $waitable-set.new))
      (call $waitable.join (call $index (local.get $a)) (local.get $ws))
      (call $waitable.join (call $index (local.get $b)) (local.get $ws))
      (call $release)
      (if (i32.eqz (call $await-both (local.get $ws) (call $index (local.get $a))
                                     (call $index (local.get $b))))
        (then (return (i32.const 3))))
      (if (i32.ne (i32.load (i32.const 0x44)) (i32.add (i32.load (i32.const 0x40)) (i32.const 1)))
        (then (return (i32.const 4))))
      (call $subtask.drop (call $index (local.get $a)))
      (call $subtask.drop (call $index (local.get $b)))
      (call $waitable-set.drop (local.get $ws))
      (i32.const 0))
    (func (export "self-imposed") (call $task.return (call $self-imposed)))
  )
  (core instance $c (instantiate $C (with "" (instance
    (export "mem" (memory $memory))
    (export "next" (func $next))
    (export "busy" (func $busy))
    (export "release" (func $release))
    (export "close" (func $close))
    (export "open" (func $open))
    (export "task.return" (func $task.return))
    (export "waitable-set.new" (func $waitable-set.new))
    (export "waitable-set.wait" (func $waitable-set.wait))
    (export "waitable-set.poll" (func $waitable-set.poll))
    (export "waitable-set.drop" (func $waitable-set.drop))
    (export "waitable.join" (func $waitable.join))
    (export "subtask.drop" (func $subtask.drop))))))
  (func (export "gate") async (result u32) (canon lift (core func $c "gate") async))
  (func (export "self-imposed") async (result u32) (canon lift (core func $c "self-imposed") async))
)

(assert_return (invoke "gate") (u32.const 0))
(assert_return (invoke "self-imposed") (u32.const 0))

;; The host waits like any caller: with the gate closed and nobody to open
;; it, the call can never start.
(component instance $gated $Server)
(assert_return (invoke "close"))
(assert_trap (invoke "next") "deadlock detected")

;; The counter may not go below zero.
(component instance $fresh $Server)
(assert_return (invoke "close"))
(assert_return (invoke "open"))
(assert_trap (invoke "open") "backpressure counter overflow")
