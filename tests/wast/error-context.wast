;; error-context values: made from a string in one component (UTF-8 or
;; UTF-16), passed to another as a plain value and inside a result, read back
;; with error-context.debug-message (through the reader's realloc), dropped.
;; $checker's export returns 0 when all its checks pass, else the number of
;; the first failed check.
;;
;; The host may drop a message when error-context.new makes the value (the
;; spec's reference code drops it at random, or always in its deterministic
;; profile): an empty debug message is always a valid answer, so each check
;; of a message's contents applies only to a message that was kept.

(component $reporter
  (core module $Mem
    (memory (export "mem") 1)
    (data (i32.const 0x10) "disk full")
    (data (i32.const 0x20) "division by zero")
    ;; "héé" in UTF-16
    (data (i32.const 0x40) "h\00\e9\00\e9\00"))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "mem" (core memory $memory))
  (core func $error-context.new (canon error-context.new (memory $memory)))
  (core func $error-context.new16 (canon error-context.new string-encoding=utf16 (memory $memory)))
  (core module $R
    (import "" "mem" (memory 1))
    (import "" "error-context.new" (func $new (param i32 i32) (result i32)))
    (import "" "error-context.new16" (func $new16 (param i32 i32) (result i32)))
    (func (export "fail") (result i32) (call $new (i32.const 0x10) (i32.const 9)))
    (func (export "fail16") (result i32) (call $new16 (i32.const 0x40) (i32.const 3)))
    ;; result<u32, error-context>: case at 0x80, payload at 0x84
    (func (export "divide") (param $a i32) (param $b i32) (result i32)
      (if (i32.eqz (local.get $b))
        (then
          (i32.store8 (i32.const 0x80) (i32.const 1))
          (i32.store (i32.const 0x84) (call $new (i32.const 0x20) (i32.const 16))))
        (else
          (i32.store8 (i32.const 0x80) (i32.const 0))
          (i32.store (i32.const 0x84) (i32.div_u (local.get $a) (local.get $b)))))
      (i32.const 0x80)))
  (core instance $r (instantiate $R (with "" (instance
    (export "mem" (memory $memory))
    (export "error-context.new" (func $error-context.new))
    (export "error-context.new16" (func $error-context.new16))))))
  (func (export "fail") (result error-context) (canon lift (core func $r "fail")))
  (func (export "fail16") (result error-context) (canon lift (core func $r "fail16")))
  (func (export "divide") (param "a" u32) (param "b" u32) (result (result u32 (error error-context)))
    (canon lift (core func $r "divide") (memory $memory)))
)
(register "reporter" $reporter)

(component definition $Checker
  (import "reporter" (instance $reporter
    (export "fail" (func (result error-context)))
    (export "fail16" (func (result error-context)))
    (export "divide" (func (param "a" u32) (param "b" u32) (result (result u32 (error error-context)))))
  ))
  (core module $Mem
    (memory (export "mem") 1)
    (global $next (mut i32) (i32.const 0x1000))
    ;; a bump allocator: shrinking keeps the block, growing copies it
    (func (export "realloc") (param $old i32) (param $old-size i32) (param $align i32)
                             (param $size i32) (result i32)
      (local $p i32)
      (if (i32.and (i32.ne (local.get $old) (i32.const 0))
                   (i32.le_u (local.get $size) (local.get $old-size)))
        (then (return (local.get $old))))
      (local.set $p (i32.and (i32.add (global.get $next) (i32.sub (local.get $align) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get $align))))
      (global.set $next (i32.add (local.get $p) (local.get $size)))
      (if (i32.ne (local.get $old) (i32.const 0))
        (then (memory.copy (local.get $p) (local.get $old) (local.get $old-size))))
      (local.get $p)))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "mem" (core memory $memory))
  (alias core export $mem "realloc" (core func $realloc))
  (core func $fail (canon lower (func $reporter "fail")))
  (core func $fail16 (canon lower (func $reporter "fail16")))
  (core func $divide (canon lower (func $reporter "divide") (memory $memory)))
  (core func $debug-message
    (canon error-context.debug-message (memory $memory) (realloc $realloc)))
  (core func $error-context.drop (canon error-context.drop))
  (core func $waitable-set.new (canon waitable-set.new))
  (core module $C
    (import "" "mem" (memory 1))
    (import "" "fail" (func $fail (result i32)))
    (import "" "fail16" (func $fail16 (result i32)))
    (import "" "divide" (func $divide (param i32 i32 i32)))
    (import "" "debug-message" (func $debug-message (param i32 i32)))
    (import "" "error-context.drop" (func $drop (param i32)))
    (import "" "waitable-set.new" (func $waitable-set.new (result i32)))
    ;; did the message read back at 0x40 survive (a non-empty string)?
    (func $kept (result i32) (i32.ne (i32.load (i32.const 0x44)) (i32.const 0)))
    (func (export "check") (result i32) (local $e i32) (local $p i32)
      (local.set $e (call $fail))
      (if (i32.eqz (local.get $e)) (then (return (i32.const 1))))
      (call $debug-message (local.get $e) (i32.const 0x40))
      (if (call $kept)
        (then
          (local.set $p (i32.load (i32.const 0x40)))
          (if (i32.lt_u (local.get $p) (i32.const 0x1000)) (then (return (i32.const 2))))
          (if (i32.ne (i32.load (i32.const 0x44)) (i32.const 9)) (then (return (i32.const 3))))
          ;; "disk"
          (if (i32.ne (i32.load (local.get $p)) (i32.const 0x6b736964)) (then (return (i32.const 4))))))
      (call $drop (local.get $e))
      ;; a UTF-16 message reads back as UTF-8: "héé" is 5 bytes
      (local.set $e (call $fail16))
      (call $debug-message (local.get $e) (i32.const 0x40))
      (if (call $kept)
        (then
          (if (i32.ne (i32.load (i32.const 0x44)) (i32.const 5)) (then (return (i32.const 5))))
          (if (i32.ne (i32.load8_u (i32.add (i32.load (i32.const 0x40)) (i32.const 1))) (i32.const 0xc3))
            (then (return (i32.const 6))))))
      (call $drop (local.get $e))
      ;; inside a result
      (call $divide (i32.const 7) (i32.const 2) (i32.const 0x80))
      (if (i32.ne (i32.load8_u (i32.const 0x80)) (i32.const 0)) (then (return (i32.const 7))))
      (if (i32.ne (i32.load (i32.const 0x84)) (i32.const 3)) (then (return (i32.const 8))))
      (call $divide (i32.const 7) (i32.const 0) (i32.const 0x80))
      (if (i32.ne (i32.load8_u (i32.const 0x80)) (i32.const 1)) (then (return (i32.const 9))))
      (local.set $e (i32.load (i32.const 0x84)))
      (call $debug-message (local.get $e) (i32.const 0x40))
      (if (i32.and (call $kept) (i32.ne (i32.load (i32.const 0x44)) (i32.const 16)))
        (then (return (i32.const 10))))
      (call $drop (local.get $e))
      (i32.const 0))
    ;; an error-context handle is gone once dropped
    (func (export "use-after-drop") (local $e i32)
      (local.set $e (call $fail))
      (call $drop (local.get $e))
      (call $debug-message (local.get $e) (i32.const 0x40)))
    ;; and other handles are not error-contexts
    (func (export "not-an-error-context")
      (call $drop (call $waitable-set.new))))
  (core instance $c (instantiate $C (with "" (instance
    (export "mem" (memory $memory))
    (export "fail" (func $fail))
    (export "fail16" (func $fail16))
    (export "divide" (func $divide))
    (export "debug-message" (func $debug-message))
    (export "error-context.drop" (func $error-context.drop))
    (export "waitable-set.new" (func $waitable-set.new))))))
  (func (export "check") (result u32) (canon lift (core func $c "check")))
  (func (export "use-after-drop") (canon lift (core func $c "use-after-drop")))
  (func (export "not-an-error-context") (canon lift (core func $c "not-an-error-context")))
)

(component instance $checker $Checker)
(assert_return (invoke "check") (u32.const 0))
(assert_trap (invoke "use-after-drop") "unknown handle index")
(component instance $checker2 $Checker)
(assert_trap (invoke "not-an-error-context") "handle is not an error-context")
