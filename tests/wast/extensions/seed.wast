;; The extensions for core wasm, through the interface a component imports:
;; `stackswitch:seed/streams` (docs/extensions.md). Run with
;; `stackswitch wast --features all`; without them nothing provides that import.
;;
;; $source writes the bytes 1..10 and ends the stream with the end value 7
;; (`write-end`: a stream<u8, u32>). $relay skips the first 3 bytes and
;; splices the rest into a stream of its own, 2 at a time, waiting for each
;; splice's STREAM_WRITE event when it blocks; the bytes never enter its
;; memory; its stream ends without an end value. "forwarded" forwards the
;; source's stream instead, end value included. $sink reads everything, then
;; the end value (`read-end`, an option<u32>).
;; A splice's payload is src-result | dst-result << 2 | count << 4.

(component definition $Source
  (type $ST (stream u8))
  (import "stackswitch:seed/streams" (instance $seed
    (export "write-end" (func (param "h" u32) (param "value" u32)))))
  (core module $Mem
    (memory (export "mem") 1)
    (data (i32.const 0x10) "\01\02\03\04\05\06\07\08\09\0a"))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "mem" (core memory $memory))
  (core func $write-end (canon lower (func $seed "write-end")))
  (core func $task.return (canon task.return (result $ST)))
  (core func $stream.new (canon stream.new $ST))
  (core func $stream.write (canon stream.write $ST (memory $memory)))
  (core module $S
    (import "" "write-end" (func $write-end (param i32 i32)))
    (import "" "task.return" (func $task.return (param i32)))
    (import "" "stream.new" (func $stream.new (result i64)))
    (import "" "stream.write" (func $stream.write (param i32 i32 i32) (result i32)))
    (func (export "numbers") (local $ends i64) (local $w i32) (local $ptr i32) (local $n i32)
          (local $res i32)
      (local.set $ends (call $stream.new))
      (local.set $w (i32.wrap_i64 (i64.shr_u (local.get $ends) (i64.const 32))))
      (call $task.return (i32.wrap_i64 (local.get $ends)))
      (local.set $ptr (i32.const 0x10))
      (local.set $n (i32.const 10))
      (block $done
        (loop $more
          (br_if $done (i32.eqz (local.get $n)))
          (local.set $res (call $stream.write (local.get $w) (local.get $ptr) (local.get $n)))
          (br_if $done (i32.eq (i32.and (local.get $res) (i32.const 0xf)) (i32.const 1)))
          (local.set $ptr (i32.add (local.get $ptr) (i32.shr_u (local.get $res) (i32.const 4))))
          (local.set $n (i32.sub (local.get $n) (i32.shr_u (local.get $res) (i32.const 4))))
          (br $more)))
      (call $write-end (local.get $w) (i32.const 7))))
  (core instance $s (instantiate $S (with "" (instance
    (export "write-end" (func $write-end))
    (export "task.return" (func $task.return))
    (export "stream.new" (func $stream.new))
    (export "stream.write" (func $stream.write))))))
  (func (export "numbers") async (result $ST) (canon lift (core func $s "numbers") async))
)

(component definition $Relay
  (type $ST (stream u8))
  (import "source" (instance $source (export "numbers" (func async (result $ST)))))
  (import "stackswitch:seed/streams" (instance $seed
    (export "splice" (func (param "src" u32) (param "dst" u32) (param "n" u32) (result u32)))
    (export "skip" (func (param "src" u32) (param "n" u32) (result u32)))
    (export "park" (func (param "thread" u32) (result u32)))
    (export "unpark" (func (param "thread" u32) (result u32)))
    (export "forward" (func (param "src" u32) (param "dst" u32)))))
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "mem" (core memory $memory))
  (core func $numbers (canon lower (func $source "numbers")))
  (core func $splice (canon lower (func $seed "splice")))
  (core func $skip (canon lower (func $seed "skip")))
  (core func $park (canon lower (func $seed "park")))
  (core func $unpark (canon lower (func $seed "unpark")))
  (core func $forward (canon lower (func $seed "forward")))
  (core func $task.return (canon task.return (result $ST)))
  (core func $task.return-u32 (canon task.return (result u32)))
  (core func $stream.new (canon stream.new $ST))
  (core func $stream.drop-readable (canon stream.drop-readable $ST))
  (core func $stream.drop-writable (canon stream.drop-writable $ST))
  (core func $waitable-set.new (canon waitable-set.new))
  (core func $waitable-set.wait (canon waitable-set.wait (memory $memory)))
  (core func $waitable.join (canon waitable.join))
  (core func $thread.index (canon thread.index))
  (core module $R
    (import "" "mem" (memory 1))
    (import "" "numbers" (func $numbers (result i32)))
    (import "" "splice" (func $splice (param i32 i32 i32) (result i32)))
    (import "" "skip" (func $skip (param i32 i32) (result i32)))
    (import "" "park" (func $park (param i32) (result i32)))
    (import "" "unpark" (func $unpark (param i32) (result i32)))
    (import "" "forward" (func $forward (param i32 i32)))
    (import "" "task.return" (func $task.return (param i32)))
    (import "" "task.return-u32" (func $task.return-u32 (param i32)))
    (import "" "stream.new" (func $stream.new (result i64)))
    (import "" "stream.drop-readable" (func $stream.drop-readable (param i32)))
    (import "" "stream.drop-writable" (func $stream.drop-writable (param i32)))
    (import "" "waitable-set.new" (func $waitable-set.new (result i32)))
    (import "" "waitable-set.wait" (func $waitable-set.wait (param i32 i32) (result i32)))
    (import "" "waitable.join" (func $waitable.join (param i32 i32)))
    (import "" "thread.index" (func $thread.index (result i32)))
    ;; a payload once the pump reported (waiting for the event on $end if it blocked)
    (func $settled (param $res i32) (param $end i32) (result i32) (local $ws i32)
      (if (i32.ne (local.get $res) (i32.const -1)) (then (return (local.get $res))))
      (local.set $ws (call $waitable-set.new))
      (call $waitable.join (local.get $end) (local.get $ws))
      (drop (call $waitable-set.wait (local.get $ws) (i32.const 0x100)))
      (call $waitable.join (local.get $end) (i32.const 0))
      (i32.load (i32.const 0x104)))
    (func (export "relay") (local $src i32) (local $ends i64) (local $w i32) (local $res i32)
          (local $left i32)
      (local.set $src (call $numbers))
      (local.set $ends (call $stream.new))
      (local.set $w (i32.wrap_i64 (i64.shr_u (local.get $ends) (i64.const 32))))
      (call $task.return (i32.wrap_i64 (local.get $ends)))
      (local.set $left (i32.const 3))
      (block $skipped
        (loop $skip-more
          (br_if $skipped (i32.eqz (local.get $left)))
          (local.set $res (call $settled (call $skip (local.get $src) (local.get $left))
                                         (local.get $src)))
          (local.set $left (i32.sub (local.get $left) (i32.shr_u (local.get $res) (i32.const 4))))
          (br $skip-more)))
      (block $done
        (loop $more
          (local.set $res (call $settled
            (call $splice (local.get $src) (local.get $w) (i32.const 2)) (local.get $w)))
          ;; the source ended (src-result DROPPED), or the reader left (dst-result DROPPED)
          (br_if $done (i32.eq (i32.and (local.get $res) (i32.const 3)) (i32.const 1)))
          (br_if $done (i32.eq (i32.and (local.get $res) (i32.const 0xc)) (i32.const 4)))
          (br $more)))
      (call $stream.drop-readable (local.get $src))
      (call $stream.drop-writable (local.get $w)))
    ;; the source's stream, forwarded: its end value travels with it
    (func (export "forwarded") (local $src i32) (local $ends i64)
      (local.set $src (call $numbers))
      (local.set $ends (call $stream.new))
      (call $forward (local.get $src) (i32.wrap_i64 (i64.shr_u (local.get $ends) (i64.const 32))))
      (call $task.return (i32.wrap_i64 (local.get $ends))))
    ;; park on itself: a cycle, so 1 at once; unpark of a thread not parked on it: 1
    (func (export "self-park")
      (call $task.return-u32 (i32.add
        (i32.mul (call $park (call $thread.index)) (i32.const 10))
        (call $unpark (call $thread.index))))))
  (core instance $r (instantiate $R (with "" (instance
    (export "mem" (memory $memory))
    (export "numbers" (func $numbers))
    (export "splice" (func $splice))
    (export "skip" (func $skip))
    (export "park" (func $park))
    (export "unpark" (func $unpark))
    (export "forward" (func $forward))
    (export "task.return" (func $task.return))
    (export "task.return-u32" (func $task.return-u32))
    (export "stream.new" (func $stream.new))
    (export "stream.drop-readable" (func $stream.drop-readable))
    (export "stream.drop-writable" (func $stream.drop-writable))
    (export "waitable-set.new" (func $waitable-set.new))
    (export "waitable-set.wait" (func $waitable-set.wait))
    (export "waitable.join" (func $waitable.join))
    (export "thread.index" (func $thread.index))))))
  (func (export "relay") async (result $ST) (canon lift (core func $r "relay") async))
  (func (export "self-park") async (result u32) (canon lift (core func $r "self-park") async))
  (func (export "forwarded") async (result $ST) (canon lift (core func $r "forwarded") async))
)

(component definition $Sink
  (type $ST (stream u8))
  (import "relay" (instance $relay
    (export "relay" (func async (result $ST)))
    (export "forwarded" (func async (result $ST)))
    (export "self-park" (func async (result u32)))))
  (import "stackswitch:seed/streams" (instance $seed
    (export "read-end" (func (param "h" u32) (result (option u32))))))
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "mem" (core memory $memory))
  (core func $relay (canon lower (func $relay "relay")))
  (core func $forwarded (canon lower (func $relay "forwarded")))
  (core func $read-end (canon lower (func $seed "read-end") (memory $memory)))
  (core func $stream.read (canon stream.read $ST (memory $memory)))
  (core func $stream.drop-readable (canon stream.drop-readable $ST))
  (core module $K
    (import "" "mem" (memory 1))
    (import "" "relay" (func $relay (result i32)))
    (import "" "forwarded" (func $forwarded (result i32)))
    (import "" "read-end" (func $read-end (param i32 i32)))
    (import "" "stream.read" (func $stream.read (param i32 i32 i32) (result i32)))
    (import "" "stream.drop-readable" (func $stream.drop-readable (param i32)))
    ;; sum of the bytes * 100 + their count
    (func (export "sum") (result i32) (local $r i32) (local $res i32) (local $sum i32)
          (local $count i32) (local $i i32)
      (local.set $r (call $relay))
      (block $done
        (loop $more
          (local.set $res (call $stream.read (local.get $r) (i32.const 0x100) (i32.const 4)))
          (local.set $i (i32.const 0))
          (block $added
            (loop $add
              (br_if $added (i32.ge_u (local.get $i) (i32.shr_u (local.get $res) (i32.const 4))))
              (local.set $sum (i32.add (local.get $sum)
                (i32.load8_u (i32.add (i32.const 0x100) (local.get $i)))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $add)))
          (local.set $count (i32.add (local.get $count) (i32.shr_u (local.get $res) (i32.const 4))))
          (br_if $done (i32.eq (i32.and (local.get $res) (i32.const 0xf)) (i32.const 1)))
          (br $more)))
      (call $stream.drop-readable (local.get $r))
      (i32.add (i32.mul (local.get $sum) (i32.const 100)) (local.get $count)))
    ;; the relay's splices end when the source ends: the relay's own stream then ends
    ;; without an end value (option none: 0); the bytes still arrive
    (func $end (param $r i32) (result i32) (local $res i32)
      (block $done
        (loop $more
          (local.set $res (call $stream.read (local.get $r) (i32.const 0x100) (i32.const 16)))
          (br_if $done (i32.eq (i32.and (local.get $res) (i32.const 0xf)) (i32.const 1)))
          (br $more)))
      (call $read-end (local.get $r) (i32.const 0x200))
      (call $stream.drop-readable (local.get $r))
      ;; option<u32>: 100 * discriminant + payload
      (i32.add (i32.mul (i32.load8_u (i32.const 0x200)) (i32.const 100))
               (i32.load (i32.const 0x204))))
    (func (export "end") (result i32) (call $end (call $relay)))
    (func (export "forwarded-end") (result i32) (call $end (call $forwarded))))
  (core instance $k (instantiate $K (with "" (instance
    (export "mem" (memory $memory))
    (export "relay" (func $relay))
    (export "forwarded" (func $forwarded))
    (export "read-end" (func $read-end))
    (export "stream.read" (func $stream.read))
    (export "stream.drop-readable" (func $stream.drop-readable))))))
  (func (export "sum") async (result u32) (canon lift (core func $k "sum")))
  (func (export "end") async (result u32) (canon lift (core func $k "end")))
  (func (export "forwarded-end") async (result u32) (canon lift (core func $k "forwarded-end")))
)

(component instance $source $Source)
(register "source" $source)
(component instance $relay $Relay)
(register "relay" $relay)
(component instance $sink $Sink)

(assert_return (invoke "sum") (u32.const 4907))
(assert_return (invoke "end") (u32.const 0))
(assert_return (invoke "forwarded-end") (u32.const 107))
(assert_return (invoke $relay "self-park") (u32.const 11))
