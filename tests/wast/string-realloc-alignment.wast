;; A UTF-16 string lowered into a latin1+utf16 callee, all Latin-1, so the copy is
;; narrowed and the allocation shrunk. The spec's store_probably_utf16_to_latin1_or_utf16
;; shrinks with alignment 1 and checks no alignment: an odd pointer is fine for Latin-1
;; bytes. (wasmtime passes alignment 2 and traps on an odd answer, "unaligned pointer";
;; its strings.wast tests that. We follow the spec: docs/conformance.md.)

(component
  (component $callee
    (core module $m
      (memory (export "mem") 1)
      ;; first call (old pointer 0): an aligned block; every later call: address 5
      (func (export "realloc") (param i32 i32 i32 i32) (result i32)
        (if (result i32) (i32.eqz (local.get 0))
          (then (i32.const 8))
          (else (i32.const 5))))
      (func (export "take") (param i32 i32) (result i32) (local.get 1)))
    (core instance $i (instantiate $m))
    (func (export "take") (param "s" string) (result u32)
      (canon lift (core func $i "take") (memory (core memory $i "mem"))
        (realloc (core func $i "realloc")) string-encoding=latin1+utf16)))

  (component $caller
    (import "take" (func $take (param "s" string) (result u32)))
    (core module $mem
      (memory (export "mem") 1)
      ;; "hi" as UTF-16 at 16: all Latin-1, so the callee's copy is narrowed
      (data (i32.const 16) "h\00i\00"))
    (core instance $mem (instantiate $mem))
    (core func $take' (canon lower (func $take) string-encoding=latin1+utf16
      (memory (core memory $mem "mem"))))
    (core module $m
      (import "" "take" (func $take (param i32 i32) (result i32)))
      ;; the length carries the UTF-16 tag (bit 31) and counts 2 code units
      (func (export "run") (result i32)
        (call $take (i32.const 16) (i32.const 0x80000002))))
    (core instance $i (instantiate $m (with "" (instance (export "take" (func $take'))))))
    (func (export "run") (result u32) (canon lift (core func $i "run"))))

  (instance $callee (instantiate $callee))
  (instance $caller (instantiate $caller (with "take" (func $callee "take"))))
  (export "run" (func $caller "run")))

(assert_return (invoke "run") (u32.const 2))
