;; The test host `stackswitch wast --wasmtime-host` supplies (wasmtime's runner's), and
;; named components importable by name. Our own script: each import is used once.

;; root functions, and host's plain and nested ones
(component
  (import "host-return-two" (func $two (result u32)))
  (import "host" (instance $host
    (export "return-three" (func (result u32)))
    (export "nested" (instance (export "return-four" (func (result u32)))))))
  (alias export $host "nested" (instance $nested))
  (core func $two' (canon lower (func $two)))
  (core func $three' (canon lower (func $host "return-three")))
  (core func $four' (canon lower (func $nested "return-four")))
  (core module $m
    (import "" "two" (func $two (result i32)))
    (import "" "three" (func $three (result i32)))
    (import "" "four" (func $four (result i32)))
    (func (export "sum") (result i32)
      (i32.add (call $two) (i32.add (call $three) (call $four)))))
  (core instance $i (instantiate $m (with "" (instance
    (export "two" (func $two')) (export "three" (func $three')) (export "four" (func $four'))))))
  (func (export "sum") (result u32) (canon lift (core func $i "sum"))))
(assert_return (invoke "sum") (u32.const 9))

;; host's core module
(component
  (import "host" (instance $host (export "simple-module" (core module
    (export "f" (func (result i32)))))))
  (core instance $s (instantiate (module $host "simple-module")))
  (func (export "f") (result u32) (canon lift (core func $s "f"))))
(assert_return (invoke "f") (u32.const 101))

;; host-echo-u32, lowered async: the result arrives through the out-pointer
(component
  (import "host-echo-u32" (func $echo async (param "v" u32) (result u32)))
  (core module $libc (memory (export "mem") 1))
  (core instance $libc (instantiate $libc))
  (core func $echo' (canon lower (func $echo) async (memory (core memory $libc "mem"))))
  (core module $m
    (import "" "mem" (memory 1))
    (import "" "echo" (func $echo (param i32 i32) (result i32)))
    (func (export "run") (param $v i32) (result i32)
      ;; RETURNED (2) with no subtask: the host answered at once
      (if (i32.ne (call $echo (local.get $v) (i32.const 8)) (i32.const 2)) (then unreachable))
      (i32.load (i32.const 8))))
  (core instance $i (instantiate $m (with "" (instance
    (export "mem" (memory $libc "mem")) (export "echo" (func $echo'))))))
  (func (export "run") (param "v" u32) (result u32) (canon lift (core func $i "run"))))
(assert_return (invoke "run" (u32.const 77)) (u32.const 77))

;; resource1: the host keeps the rep given to the constructor and counts drops
(component
  (import "host" (instance $host
    (export "resource1" (type $r (sub resource)))
    (export "[constructor]resource1" (func (param "r" u32) (result (own $r))))
    (export "[static]resource1.last-drop" (func (result u32)))
    (export "[static]resource1.drops" (func (result u32)))))
  (alias export $host "resource1" (type $r))
  (core func $new (canon lower (func $host "[constructor]resource1")))
  (core func $last (canon lower (func $host "[static]resource1.last-drop")))
  (core func $drops (canon lower (func $host "[static]resource1.drops")))
  (core func $drop (canon resource.drop $r))
  (core module $m
    (import "" "new" (func $new (param i32) (result i32)))
    (import "" "last" (func $last (result i32)))
    (import "" "drops" (func $drops (result i32)))
    (import "" "drop" (func $drop (param i32)))
    (func (export "run") (result i32)
      (call $drop (call $new (i32.const 42)))
      (i32.add (i32.mul (call $drops) (i32.const 1000)) (call $last))))
  (core instance $i (instantiate $m (with "" (instance
    (export "new" (func $new)) (export "last" (func $last))
    (export "drops" (func $drops)) (export "drop" (func $drop))))))
  (func (export "run") (result u32) (canon lift (core func $i "run"))))
(assert_return (invoke "run") (u32.const 1042))

;; a named component is importable by its name
(component $provider
  (core module $m (func (export "f") (result i32) (i32.const 5)))
  (core instance $i (instantiate $m))
  (func (export "five") (result u32) (canon lift (core func $i "f"))))
(component
  (import "provider" (instance $p (export "five" (func (result u32)))))
  (export "five" (func $p "five")))
(assert_return (invoke "five") (u32.const 5))

;; the concurrent host functions that yield once before answering, called from a stackful task
(component
  (import "host" (instance $host
    (export "return-two-slowly" (func async (result s32)))
    (export "echo-slowly" (func async (param "v" u32) (result u32)))))
  (core func $two (canon lower (func $host "return-two-slowly")))
  (core func $echo (canon lower (func $host "echo-slowly")))
  (core func $ret (canon task.return (result u32)))
  (core module $m
    (import "" "two" (func $two (result i32)))
    (import "" "echo" (func $echo (param i32) (result i32)))
    (import "" "ret" (func $ret (param i32)))
    (func (export "run") (call $ret (i32.add (call $two) (call $echo (i32.const 40))))))
  (core instance $i (instantiate $m (with "" (instance
    (export "two" (func $two)) (export "echo" (func $echo)) (export "ret" (func $ret))))))
  (func (export "run") async (result u32) (canon lift (core func $i "run") async)))
(assert_return (invoke "run") (u32.const 42))
