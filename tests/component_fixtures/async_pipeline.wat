;; An async producer/consumer pair: a core module lifted with the async
;; callback ABI, streams and futures of records, a resource with a
;; destructor, and a nested component wired up through instance types.
(component $outer
  (type $point-def (record (field "x" s32) (field "y" s32)))
  (export $point "point" (type $point-def))
  (type $points (stream $point))
  (type $done (future (result u32 (error string))))
  (type $counter (resource (rep i32)))

  (import "wasi:clocks/monotonic-clock@0.2.3" (instance $clock
    (export "now" (func (result u64)))
  ))
  (alias export $clock "now" (func $now))

  (core module $libc
    (memory (export "memory") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) i32.const 0)
  )
  (core instance $libc (instantiate $libc))
  (alias core export $libc "memory" (core memory $mem))
  (alias core export $libc "realloc" (core func $realloc))

  (core func $now (canon lower (func $now)))
  (core func $stream.new (canon stream.new $points))
  (core func $stream.read (canon stream.read $points async (memory $mem) (realloc $realloc)))
  (core func $stream.write (canon stream.write $points (memory $mem)))
  (core func $future.new (canon future.new $done))
  (core func $future.write (canon future.write $done async (memory $mem) string-encoding=utf16))
  (core func $ws.new (canon waitable-set.new))
  (core func $ws.wait (canon waitable-set.wait (memory $mem)))
  (core func $join (canon waitable.join))
  (core func $task.return (canon task.return (result $points) (memory $mem)))
  (core func $ctx.get (canon context.get i32 0))
  (core func $yield (canon thread.yield))
  (core func $drop-counter (canon resource.drop $counter))

  (core module $producer
    (import "host" "now" (func (result i64)))
    (import "host" "stream.new" (func (result i64)))
    (import "host" "task.return" (func (param i32)))
    (import "host" "yield" (func (result i32)))
    (func (export "run") (result i32) i32.const 0)
    (func (export "cb") (param i32 i32 i32) (result i32) i32.const 0)
  )
  (core instance $host (export "now" (func $now)) (export "stream.new" (func $stream.new))
    (export "task.return" (func $task.return)) (export "yield" (func $yield)))
  (core instance $producer (instantiate $producer (with "host" (instance $host))))
  (alias core export $producer "run" (core func $run))
  (alias core export $producer "cb" (core func $cb))

  (type $produce-type (func async (result $points)))
  (canon lift (core func $run) async (callback $cb) (memory $mem) (realloc $realloc)
    (func $produce (type $produce-type)))

  (component $consumer
    (import "points" (type $p (sub resource)))
    (type $handle (own $p))
    (import "produce" (func $produce (result u64)))
    (type $t (tuple u8 string $handle))
    (export "consume" (func $produce))
  )
  (instance $c (instantiate $consumer
    (with "points" (type $counter))
    (with "produce" (func $now))))
  (export "produce" (func $produce))
  (export "consumer" (instance $c))
)
