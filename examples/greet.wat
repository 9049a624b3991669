;; A component that imports a host function and returns a string.
;;   stackswitch run examples/greet.wat --host examples/greet_host.py --invoke 'greet("world")'
(component
  (import "exclaim" (func $exclaim (param "s" string) (result string)))
  (core module $Mem
    (memory (export "mem") 1)
    (global $bump (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (global.get $bump))
      (global.set $bump (i32.add (global.get $bump) (local.get 3)))
      (local.get $p)))
  (core instance $mem (instantiate $Mem))
  (core func $exclaim' (canon lower (func $exclaim)
    (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (core module $M
    (import "" "exclaim" (func $exclaim (param i32 i32 i32)))
    ;; greet(ptr, len) -> retptr: pass the string on to the host, return its answer
    (func (export "greet") (param i32 i32) (result i32)
      (call $exclaim (local.get 0) (local.get 1) (i32.const 16))
      (i32.const 16)))
  (core instance $m (instantiate $M (with "" (instance (export "exclaim" (func $exclaim'))))))
  (func (export "greet") (param "name" string) (result string)
    (canon lift (core func $m "greet") (memory (core memory $mem "mem"))
      (realloc (core func $mem "realloc")))))
