;; park / unpark from core wasm, through `stackswitch:seed/streams` (run with
;; `stackswitch wast --features park`), under either strategy: under
;; `callback` the parked stackful threads are unwound by asyncify.
;;
;; "pair": main starts a thread that parks on main (it blocks); main then
;; tries to park on that thread, which would close a cycle, so main's park
;; returns 1 at once instead of hanging; main unparks the thread (0) and
;; yields until it has run; the thread's park returned 0. The result packs
;; main's park, main's unpark and the thread's park: 100*a + 10*b + c = 100.
;;
;; "orphan": thread x parks on thread y, then y runs and exits: x wakes with
;; 2 (nothing can unpark it any more); main waits for x and returns that.

(component $parking
  (import "stackswitch:seed/streams" (instance $seed
    (export "park" (func (param "thread" u32) (result u32)))
    (export "unpark" (func (param "thread" u32) (result u32)))))
  (core module $Table (table (export "table") 3 funcref))
  (core instance $table (instantiate $Table))
  (alias core export $table "table" (core table $tbl))
  (core type $start (func (param i32)))
  (core func $park (canon lower (func $seed "park")))
  (core func $unpark (canon lower (func $seed "unpark")))
  (core func $thread.new-indirect (canon thread.new-indirect $start (core table $tbl)))
  (core func $thread.index (canon thread.index))
  (core func $thread.resume-later (canon thread.resume-later))
  (core func $thread.yield (canon thread.yield))
  (core func $task.return (canon task.return (result u32)))
  (core module $P
    (import "" "table" (table 3 funcref))
    (import "" "park" (func $park (param i32) (result i32)))
    (import "" "unpark" (func $unpark (param i32) (result i32)))
    (import "" "thread.new-indirect" (func $new (param i32 i32) (result i32)))
    (import "" "thread.index" (func $index (result i32)))
    (import "" "thread.resume-later" (func $resume-later (param i32)))
    (import "" "thread.yield" (func $yield (result i32)))
    (import "" "task.return" (func $task.return (param i32)))
    (global $main (mut i32) (i32.const 0))
    (global $parked (mut i32) (i32.const -1))
    (global $orphan (mut i32) (i32.const -1))
    ;; set by a thread just before it parks: threads are cooperative, so once
    ;; main sees it, the thread is parked (nothing runs between the two)
    (global $parking (mut i32) (i32.const 0))
    (func $until-parking
      (block $seen
        (loop $wait
          (br_if $seen (global.get $parking))
          (drop (call $yield))
          (br $wait)))
      (global.set $parking (i32.const 0)))
    ;; thread: park on main, note what park returned
    (func $parker (param $c i32)
      (global.set $parking (i32.const 1))
      (global.set $parked (call $park (global.get $main))))
    (func $orphan-parker (param $c i32)
      (global.set $parking (i32.const 1))
      (global.set $orphan (call $park (local.get $c))))
    (func $exits (param $c i32))
    (elem (table 0) (i32.const 0) func $parker $orphan-parker $exits)
    (func (export "pair") (local $t i32) (local $a i32) (local $b i32)
      (global.set $main (call $index))
      (global.set $parked (i32.const -1))
      (local.set $t (call $new (i32.const 0) (i32.const 0)))
      (call $resume-later (local.get $t))
      (call $until-parking)                         ;; the thread runs and parks on main
      (local.set $a (call $park (local.get $t)))   ;; a cycle: 1 at once
      (local.set $b (call $unpark (local.get $t))) ;; 0: it was parked on main
      (block $ran
        (loop $wait
          (br_if $ran (i32.ge_s (global.get $parked) (i32.const 0)))
          (drop (call $yield))
          (br $wait)))
      (call $task.return (i32.add (i32.add (i32.mul (local.get $a) (i32.const 100))
                                           (i32.mul (local.get $b) (i32.const 10)))
                                  (global.get $parked))))
    (func (export "orphan") (local $x i32) (local $y i32)
      (global.set $orphan (i32.const -1))
      (local.set $y (call $new (i32.const 2) (i32.const 0)))
      (local.set $x (call $new (i32.const 1) (local.get $y)))
      (call $resume-later (local.get $x))
      (call $until-parking)                         ;; x parks on y (suspended, not finished)
      (call $resume-later (local.get $y))
      (block $woke
        (loop $wait
          (br_if $woke (i32.ge_s (global.get $orphan) (i32.const 0)))
          (drop (call $yield))
          (br $wait)))
      (call $task.return (global.get $orphan))))
  (core instance $p (instantiate $P (with "" (instance
    (export "table" (table $tbl))
    (export "park" (func $park))
    (export "unpark" (func $unpark))
    (export "thread.new-indirect" (func $thread.new-indirect))
    (export "thread.index" (func $thread.index))
    (export "thread.resume-later" (func $thread.resume-later))
    (export "thread.yield" (func $thread.yield))
    (export "task.return" (func $task.return))))))
  (func (export "pair") async (result u32) (canon lift (core func $p "pair") async))
  (func (export "orphan") async (result u32) (canon lift (core func $p "orphan") async))
)

(assert_return (invoke "pair") (u32.const 100))
(assert_return (invoke "orphan") (u32.const 2))
