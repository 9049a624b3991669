;; A stream<u8, result<u32, string>>: three bytes, then an end value through
;; stackswitch:seed/streams#write-end (`stackswitch run --features stream-end`).
(component
  (type $ST (stream u8))
  (import "stackswitch:seed/streams" (instance $seed
    (export "write-end" (func (param "h" u32) (param "value" (result u32 (error string)))))))
  (core module $Mem
    (memory (export "mem") 1)
    (data (i32.const 0x10) "\01\02\03")
    (data (i32.const 0x20) "bad"))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "mem" (core memory $memory))
  (core func $write-end (canon lower (func $seed "write-end") (memory $memory)))
  (core func $task.return (canon task.return (result $ST)))
  (core func $stream.new (canon stream.new $ST))
  (core func $stream.write (canon stream.write $ST (memory $memory)))
  (core module $S
    (import "" "write-end" (func $write-end (param i32 i32 i32 i32)))
    (import "" "task.return" (func $task.return (param i32)))
    (import "" "stream.new" (func $stream.new (result i64)))
    (import "" "stream.write" (func $stream.write (param i32 i32 i32) (result i32)))
    (func (export "run") (param $fail i32) (local $ends i64) (local $w i32)
      (local.set $ends (call $stream.new))
      (local.set $w (i32.wrap_i64 (i64.shr_u (local.get $ends) (i64.const 32))))
      (call $task.return (i32.wrap_i64 (local.get $ends)))
      (drop (call $stream.write (local.get $w) (i32.const 0x10) (i32.const 3)))
      (if (local.get $fail)
        (then (call $write-end (local.get $w) (i32.const 1) (i32.const 0x20) (i32.const 3)))
        (else (call $write-end (local.get $w) (i32.const 0) (i32.const 3) (i32.const 0))))))
  (core instance $s (instantiate $S (with "" (instance
    (export "write-end" (func $write-end))
    (export "task.return" (func $task.return))
    (export "stream.new" (func $stream.new))
    (export "stream.write" (func $stream.write))))))
  (func (export "run") async (param "fail" bool) (result $ST) (canon lift (core func $s "run") async))
)
