;; "strings(n)": a list of n strings, every one of them the whole first MiB of
;; memory (NUL bytes: valid UTF-8). 1 MiB of guest memory names n MiB of
;; host strings. "grow(pages)": memory.grow's result (-1 when refused).
(component
  (core module $M
    (memory (export "mem") 17)
    (func (export "strings") (param $n i32) (result i32) (local $i i32) (local $at i32)
      ;; the list's (ptr, len) at 0x100000, its elements from 0x100008
      (i32.store (i32.const 0x100000) (i32.const 0x100008))
      (i32.store (i32.const 0x100004) (local.get $n))
      (local.set $at (i32.const 0x100008))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store (local.get $at) (i32.const 0))
        (i32.store offset=4 (local.get $at) (i32.const 0x100000))
        (local.set $at (i32.add (local.get $at) (i32.const 8)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
      (i32.const 0x100000))
    (func (export "grow") (param $pages i32) (result i32)
      (memory.grow (local.get $pages))))
  (core instance $m (instantiate $M))
  (func (export "strings") (param "n" u32) (result (list string))
    (canon lift (core func $m "strings") (memory (core memory $m "mem"))))
  (func (export "grow") (param "pages" u32) (result s32)
    (canon lift (core func $m "grow"))))
