;; Every component value type, lowered from the host into a guest and lifted
;; back: each "echo-*" export hands its flat parameters back (directly when
;; the result is one core value, through a return area in linear memory
;; otherwise). "relay" is a second component that forwards values to the
;; first through sync `canon lower`, so every value also crosses between two
;; guests' memories.

(component $echo
  ;; named types that exported functions use must be exported themselves
  (type $rec' (record (field "a" u8) (field "b" u16) (field "c" string)))
  (export $rec "rec" (type $rec'))
  (type $var' (variant (case "a") (case "b" u32) (case "c" string) (case "d" f64)))
  (export $var "var" (type $var'))
  (type $perm' (flags "read" "write" "exec"))
  (export $perm "perm" (type $perm'))
  (type $color' (enum "red" "green" "blue"))
  (export $color "color" (type $color'))
  (type $res (result string (error u8)))
  (type $tup (tuple u8 s64 bool))
  (type $quad (list u8 4))

  (core module $M
    (memory (export "mem") 1)
    (global $next (mut i32) (i32.const 0x1000))

    ;; A bump allocator that keeps the old contents when a block grows.
    (func (export "realloc") (param $old i32) (param $old_size i32) (param $align i32)
                             (param $size i32) (result i32)
      (local $p i32)
      (if (i32.and (i32.ne (local.get $old) (i32.const 0))
                   (i32.le_u (local.get $size) (local.get $old_size)))
        (then (return (local.get $old))))
      (local.set $p (i32.and (i32.add (global.get $next) (i32.sub (local.get $align) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get $align))))
      (global.set $next (i32.add (local.get $p) (local.get $size)))
      (if (i32.gt_u (global.get $next) (i32.mul (memory.size) (i32.const 65536)))
        (then (drop (memory.grow (i32.const 1)))))
      (if (i32.ne (local.get $old) (i32.const 0))
        (then (memory.copy (local.get $p) (local.get $old) (local.get $old_size))))
      (local.get $p))

    ;; one core value in, the same core value out
    (func (export "same-i32") (param i32) (result i32) (local.get 0))
    (func (export "same-i64") (param i64) (result i64) (local.get 0))
    (func (export "same-f32") (param f32) (result f32) (local.get 0))
    (func (export "same-f64") (param f64) (result f64) (local.get 0))

    ;; a pointer and a length (string, list): stored in the return area at 0x100
    (func (export "ptr-len") (param i32 i32) (result i32)
      (i32.store (i32.const 0x100) (local.get 0))
      (i32.store (i32.const 0x104) (local.get 1))
      (i32.const 0x100))

    ;; record { a: u8, b: u16, c: string }: a@0 b@2 c@4
    (func (export "record") (param i32 i32 i32 i32) (result i32)
      (i32.store8 (i32.const 0x100) (local.get 0))
      (i32.store16 (i32.const 0x102) (local.get 1))
      (i32.store (i32.const 0x104) (local.get 2))
      (i32.store (i32.const 0x108) (local.get 3))
      (i32.const 0x100))

    ;; tuple<u8, s64, bool>: u8@0 s64@8 bool@16
    (func (export "tuple") (param i32 i64 i32) (result i32)
      (i32.store8 (i32.const 0x100) (local.get 0))
      (i64.store (i32.const 0x108) (local.get 1))
      (i32.store8 (i32.const 0x110) (local.get 2))
      (i32.const 0x100))

    ;; variant { a, b(u32), c(string), d(f64) }: flat (i32 case, i64, i32);
    ;; in memory the case is a byte at 0 and the payload starts at 8
    (func (export "variant") (param i32 i64 i32) (result i32)
      (i32.store8 (i32.const 0x100) (local.get 0))
      (i64.store (i32.const 0x108) (local.get 1))
      (if (i32.eq (local.get 0) (i32.const 2))
        (then (i32.store (i32.const 0x10c) (local.get 2))))
      (i32.const 0x100))

    ;; option<u32>: case@0 value@4
    (func (export "option") (param i32 i32) (result i32)
      (i32.store8 (i32.const 0x100) (local.get 0))
      (i32.store (i32.const 0x104) (local.get 1))
      (i32.const 0x100))

    ;; option<option<u8>>: outer case@0, inner case@1, value@2
    (func (export "option2") (param i32 i32 i32) (result i32)
      (i32.store8 (i32.const 0x100) (local.get 0))
      (i32.store8 (i32.const 0x101) (local.get 1))
      (i32.store8 (i32.const 0x102) (local.get 2))
      (i32.const 0x100))

    ;; result<string, u8>: case@0, payload@4 (string: ptr, len; error: a byte)
    (func (export "result") (param i32 i32 i32) (result i32)
      (i32.store8 (i32.const 0x100) (local.get 0))
      (i32.store (i32.const 0x104) (local.get 1))
      (i32.store (i32.const 0x108) (local.get 2))
      (i32.const 0x100))

    ;; list<u8, 4>: four bytes
    (func (export "quad") (param i32 i32 i32 i32) (result i32)
      (i32.store8 (i32.const 0x100) (local.get 0))
      (i32.store8 (i32.const 0x101) (local.get 1))
      (i32.store8 (i32.const 0x102) (local.get 2))
      (i32.store8 (i32.const 0x103) (local.get 3))
      (i32.const 0x100))

    ;; seventeen u32 parameters do not fit in core parameters: they arrive
    ;; in memory (allocated with realloc), behind one pointer
    (func (export "sum17") (param $p i32) (result i32)
      (local $i i32) (local $sum i32)
      (loop $next
        (local.set $sum (i32.add (local.get $sum)
          (i32.load (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $next (i32.lt_u (local.get $i) (i32.const 17))))
      (local.get $sum))

    ;; the bytes of a list<u8> added up, to check what the guest received
    (func (export "byte-sum") (param $p i32) (param $n i32) (result i32)
      (local $sum i32)
      (block $done
        (loop $next
          (br_if $done (i32.eqz (local.get $n)))
          (local.set $sum (i32.add (local.get $sum) (i32.load8_u (local.get $p))))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $next)))
      (local.get $sum))
  )
  (core instance $m (instantiate $M))
  (alias core export $m "mem" (core memory $mem))
  (alias core export $m "realloc" (core func $realloc))

  (func (export "echo-bool") (param "x" bool) (result bool) (canon lift (core func $m "same-i32")))
  (func (export "echo-s8") (param "x" s8) (result s8) (canon lift (core func $m "same-i32")))
  (func (export "echo-u8") (param "x" u8) (result u8) (canon lift (core func $m "same-i32")))
  (func (export "echo-s16") (param "x" s16) (result s16) (canon lift (core func $m "same-i32")))
  (func (export "echo-u16") (param "x" u16) (result u16) (canon lift (core func $m "same-i32")))
  (func (export "echo-s32") (param "x" s32) (result s32) (canon lift (core func $m "same-i32")))
  (func (export "echo-u32") (param "x" u32) (result u32) (canon lift (core func $m "same-i32")))
  (func (export "echo-s64") (param "x" s64) (result s64) (canon lift (core func $m "same-i64")))
  (func (export "echo-u64") (param "x" u64) (result u64) (canon lift (core func $m "same-i64")))
  (func (export "echo-f32") (param "x" f32) (result f32) (canon lift (core func $m "same-f32")))
  (func (export "echo-f64") (param "x" f64) (result f64) (canon lift (core func $m "same-f64")))
  (func (export "echo-char") (param "x" char) (result char) (canon lift (core func $m "same-i32")))
  (func (export "echo-enum") (param "x" $color) (result $color) (canon lift (core func $m "same-i32")))
  (func (export "echo-flags") (param "x" $perm) (result $perm) (canon lift (core func $m "same-i32")))
  (func (export "echo-unit-result") (param "x" (result)) (result (result))
    (canon lift (core func $m "same-i32")))

  ;; lifting narrows: the low bits of the core value, sign-extended for sNN
  (func (export "u8-of") (param "x" u32) (result u8) (canon lift (core func $m "same-i32")))
  (func (export "s16-of") (param "x" u32) (result s16) (canon lift (core func $m "same-i32")))
  (func (export "bool-of") (param "x" u32) (result bool) (canon lift (core func $m "same-i32")))

  (func (export "echo-string") (param "x" string) (result string)
    (canon lift (core func $m "ptr-len") (memory $mem) (realloc $realloc)))
  (func (export "echo-string-utf16") (param "x" string) (result string)
    (canon lift (core func $m "ptr-len") string-encoding=utf16 (memory $mem) (realloc $realloc)))
  (func (export "echo-string-latin1") (param "x" string) (result string)
    (canon lift (core func $m "ptr-len") string-encoding=latin1+utf16 (memory $mem)
      (realloc $realloc)))
  (func (export "echo-list") (param "x" (list u32)) (result (list u32))
    (canon lift (core func $m "ptr-len") (memory $mem) (realloc $realloc)))
  (func (export "echo-strings") (param "x" (list string)) (result (list string))
    (canon lift (core func $m "ptr-len") (memory $mem) (realloc $realloc)))
  (func (export "echo-map") (param "x" (map string u32)) (result (map string u32))
    (canon lift (core func $m "ptr-len") (memory $mem) (realloc $realloc)))
  (func (export "echo-records") (param "x" (list $rec)) (result (list $rec))
    (canon lift (core func $m "ptr-len") (memory $mem) (realloc $realloc)))
  (func (export "echo-record") (param "x" $rec) (result $rec)
    (canon lift (core func $m "record") (memory $mem) (realloc $realloc)))
  (func (export "echo-tuple") (param "x" $tup) (result $tup)
    (canon lift (core func $m "tuple") (memory $mem)))
  (func (export "echo-variant") (param "x" $var) (result $var)
    (canon lift (core func $m "variant") (memory $mem) (realloc $realloc)))
  (func (export "echo-option") (param "x" (option u32)) (result (option u32))
    (canon lift (core func $m "option") (memory $mem)))
  (func (export "echo-option2") (param "x" (option (option u8))) (result (option (option u8)))
    (canon lift (core func $m "option2") (memory $mem)))
  (func (export "echo-result") (param "x" $res) (result $res)
    (canon lift (core func $m "result") (memory $mem) (realloc $realloc)))
  (func (export "echo-quad") (param "x" $quad) (result $quad)
    (canon lift (core func $m "quad") (memory $mem)))
  (func (export "sum17")
    (param "a" u32) (param "b" u32) (param "c" u32) (param "d" u32) (param "e" u32)
    (param "f" u32) (param "g" u32) (param "h" u32) (param "i" u32) (param "j" u32)
    (param "k" u32) (param "l" u32) (param "m" u32) (param "n" u32) (param "o" u32)
    (param "p" u32) (param "q" u32) (result u32)
    (canon lift (core func $m "sum17") (memory $mem) (realloc $realloc)))
  (func (export "byte-sum") (param "x" (list u8)) (result u32)
    (canon lift (core func $m "byte-sum") (memory $mem) (realloc $realloc)))
)

;; numbers, bool, char
(assert_return (invoke "echo-bool" (bool.const true)) (bool.const true))
(assert_return (invoke "echo-bool" (bool.const false)) (bool.const false))
(assert_return (invoke "bool-of" (u32.const 2)) (bool.const true))
(assert_return (invoke "bool-of" (u32.const 0)) (bool.const false))
(assert_return (invoke "echo-s8" (s8.const -128)) (s8.const -128))
(assert_return (invoke "echo-u8" (u8.const 255)) (u8.const 255))
(assert_return (invoke "echo-s16" (s16.const -2)) (s16.const -2))
(assert_return (invoke "echo-u16" (u16.const 65535)) (u16.const 65535))
(assert_return (invoke "echo-s32" (s32.const -2147483648)) (s32.const -2147483648))
(assert_return (invoke "echo-u32" (u32.const 4294967295)) (u32.const 4294967295))
(assert_return (invoke "echo-s64" (s64.const -9223372036854775808)) (s64.const -9223372036854775808))
(assert_return (invoke "echo-u64" (u64.const 18446744073709551615)) (u64.const 18446744073709551615))
(assert_return (invoke "u8-of" (u32.const 0x1ff)) (u8.const 255))
(assert_return (invoke "s16-of" (u32.const 0x18000)) (s16.const -32768))
(assert_return (invoke "echo-f32" (f32.const 1.5)) (f32.const 1.5))
(assert_return (invoke "echo-f32" (f32.const -0)) (f32.const -0))
(assert_return (invoke "echo-f32" (f32.const -inf)) (f32.const -inf))
(assert_return (invoke "echo-f32" (f32.const nan:0x200000)) (f32.const nan))
(assert_return (invoke "echo-f64" (f64.const 0x1.fffffffffffffp+1023)) (f64.const 0x1.fffffffffffffp+1023))
(assert_return (invoke "echo-f64" (f64.const -nan)) (f64.const nan))
(assert_return (invoke "echo-char" (char.const "x")) (char.const "x"))
(assert_return (invoke "echo-char" (char.const "𝄞")) (char.const "𝄞"))

;; strings in three encodings
(assert_return (invoke "echo-string" (str.const "")) (str.const ""))
(assert_return (invoke "echo-string" (str.const "héllo ☃ 𝄞")) (str.const "héllo ☃ 𝄞"))
(assert_return (invoke "echo-string-utf16" (str.const "héllo ☃ 𝄞")) (str.const "héllo ☃ 𝄞"))
(assert_return (invoke "echo-string-latin1" (str.const "café")) (str.const "café"))
(assert_return (invoke "echo-string-latin1" (str.const "snow ☃")) (str.const "snow ☃"))

;; lists, maps (written as lists of key-value tuples), records, tuples
(assert_return (invoke "echo-list" (list.const)) (list.const))
(assert_return (invoke "echo-list" (list.const (u32.const 1) (u32.const 4294967295)))
  (list.const (u32.const 1) (u32.const 4294967295)))
(assert_return (invoke "echo-strings" (list.const (str.const "a") (str.const "") (str.const "ü")))
  (list.const (str.const "a") (str.const "") (str.const "ü")))
(assert_return
  (invoke "echo-map" (list.const (tuple.const (str.const "one") (u32.const 1))
                                 (tuple.const (str.const "two") (u32.const 2))))
  (list.const (tuple.const (str.const "one") (u32.const 1)) (tuple.const (str.const "two") (u32.const 2))))
(assert_return
  (invoke "echo-record" (record.const (field "a" u8.const 7) (field "b" u16.const 300) (field "c" str.const "rec")))
  (record.const (field "a" u8.const 7) (field "b" u16.const 300) (field "c" str.const "rec")))
(assert_return
  (invoke "echo-records" (list.const
    (record.const (field "a" u8.const 1) (field "b" u16.const 2) (field "c" str.const "one"))
    (record.const (field "a" u8.const 3) (field "b" u16.const 4) (field "c" str.const "two"))))
  (list.const
    (record.const (field "a" u8.const 1) (field "b" u16.const 2) (field "c" str.const "one"))
    (record.const (field "a" u8.const 3) (field "b" u16.const 4) (field "c" str.const "two"))))
(assert_return (invoke "echo-tuple" (tuple.const (u8.const 9) (s64.const -5) (bool.const true)))
  (tuple.const (u8.const 9) (s64.const -5) (bool.const true)))
(assert_return (invoke "echo-quad" (list.const (u8.const 1) (u8.const 2) (u8.const 3) (u8.const 4)))
  (list.const (u8.const 1) (u8.const 2) (u8.const 3) (u8.const 4)))
(assert_return (invoke "byte-sum" (list.const (u8.const 200) (u8.const 100) (u8.const 1)))
  (u32.const 301))
(assert_return
  (invoke "sum17" (u32.const 1) (u32.const 2) (u32.const 3) (u32.const 4) (u32.const 5)
    (u32.const 6) (u32.const 7) (u32.const 8) (u32.const 9) (u32.const 10) (u32.const 11)
    (u32.const 12) (u32.const 13) (u32.const 14) (u32.const 15) (u32.const 16) (u32.const 17))
  (u32.const 153))

;; variants and their specialisations
(assert_return (invoke "echo-variant" (variant.const "a")) (variant.const "a"))
(assert_return (invoke "echo-variant" (variant.const "b" (u32.const 77))) (variant.const "b" (u32.const 77)))
(assert_return (invoke "echo-variant" (variant.const "c" (str.const "payload")))
  (variant.const "c" (str.const "payload")))
(assert_return (invoke "echo-variant" (variant.const "d" (f64.const -2.5))) (variant.const "d" (f64.const -2.5)))
(assert_return (invoke "echo-enum" (enum.const "blue")) (enum.const "blue"))
(assert_return (invoke "echo-flags" (flags.const)) (flags.const))
(assert_return (invoke "echo-flags" (flags.const "read" "exec")) (flags.const "read" "exec"))
(assert_return (invoke "echo-option" (option.none)) (option.none))
(assert_return (invoke "echo-option" (option.some (u32.const 5))) (option.some (u32.const 5)))
(assert_return (invoke "echo-option2" (option.none)) (option.none))
(assert_return (invoke "echo-option2" (option.some (option.none))) (option.some (option.none)))
(assert_return (invoke "echo-option2" (option.some (option.some (u8.const 3))))
  (option.some (option.some (u8.const 3))))
(assert_return (invoke "echo-result" (result.ok (str.const "fine"))) (result.ok (str.const "fine")))
(assert_return (invoke "echo-result" (result.err (u8.const 4))) (result.err (u8.const 4)))
(assert_return (invoke "echo-unit-result" (result.ok)) (result.ok))
(assert_return (invoke "echo-unit-result" (result.err)) (result.err))

;; The same values through a second component: "relay" lowers the echo
;; component's functions (sync) and forwards its own parameters to them.
(register "echo" $echo)

(component $relay
  (import "echo" (instance $echo
    (type $rec (record (field "a" u8) (field "b" u16) (field "c" string)))
    (export "rec" (type $rec' (eq $rec)))
    (type $var (variant (case "a") (case "b" u32) (case "c" string) (case "d" f64)))
    (export "var" (type $var' (eq $var)))
    (export "echo-string" (func (param "x" string) (result string)))
    (export "echo-string-utf16" (func (param "x" string) (result string)))
    (export "echo-records" (func (param "x" (list $rec')) (result (list $rec'))))
    (export "echo-variant" (func (param "x" $var') (result $var')))
    (export "echo-u64" (func (param "x" u64) (result u64)))
  ))
  (core module $Mem
    (memory (export "mem") 1)
    (global $next (mut i32) (i32.const 0x2000))
    (func (export "realloc") (param $old i32) (param $old_size i32) (param $align i32)
                             (param $size i32) (result i32)
      (local $p i32)
      (local.set $p (i32.and (i32.add (global.get $next) (i32.sub (local.get $align) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get $align))))
      (global.set $next (i32.add (local.get $p) (local.get $size)))
      (if (i32.ne (local.get $old) (i32.const 0))
        (then (memory.copy (local.get $p) (local.get $old) (local.get $old_size))))
      (local.get $p)))
  (core instance $mem (instantiate $Mem))
  (alias export $echo "rec" (type $rec'))
  (export $rec "rec" (type $rec'))
  (alias export $echo "var" (type $var'))
  (export $var "var" (type $var'))
  (alias core export $mem "mem" (core memory $memory))
  (alias core export $mem "realloc" (core func $realloc))
  (core func $string (canon lower (func $echo "echo-string") (memory $memory) (realloc $realloc)))
  (core func $string16 (canon lower (func $echo "echo-string-utf16") (memory $memory) (realloc $realloc)))
  (core func $records (canon lower (func $echo "echo-records") (memory $memory) (realloc $realloc)))
  (core func $variant (canon lower (func $echo "echo-variant") (memory $memory) (realloc $realloc)))
  (core func $u64 (canon lower (func $echo "echo-u64")))
  (core module $M
    (import "" "mem" (memory 1))
    (import "echo" "string" (func $string (param i32 i32 i32)))
    (import "echo" "string16" (func $string16 (param i32 i32 i32)))
    (import "echo" "records" (func $records (param i32 i32 i32)))
    (import "echo" "variant" (func $variant (param i32 i64 i32 i32)))
    (import "echo" "u64" (func $u64 (param i64) (result i64)))
    ;; results land in the return area at 0x40
    (func (export "string") (param i32 i32) (result i32)
      (call $string (local.get 0) (local.get 1) (i32.const 0x40))
      (i32.const 0x40))
    (func (export "string-twice") (param i32 i32) (result i32)
      (call $string (local.get 0) (local.get 1) (i32.const 0x40))
      (call $string16 (i32.load (i32.const 0x40)) (i32.load (i32.const 0x44)) (i32.const 0x40))
      (i32.const 0x40))
    (func (export "records") (param i32 i32) (result i32)
      (call $records (local.get 0) (local.get 1) (i32.const 0x40))
      (i32.const 0x40))
    (func (export "variant") (param i32 i64 i32) (result i32)
      (call $variant (local.get 0) (local.get 1) (local.get 2) (i32.const 0x40))
      (i32.const 0x40))
    (func (export "u64") (param i64) (result i64)
      (call $u64 (local.get 0))))
  (core instance $m (instantiate $M
    (with "" (instance $mem))
    (with "echo" (instance
      (export "string" (func $string))
      (export "string16" (func $string16))
      (export "records" (func $records))
      (export "variant" (func $variant))
      (export "u64" (func $u64))))))
  (func (export "string") (param "x" string) (result string)
    (canon lift (core func $m "string") (memory $memory) (realloc $realloc)))
  (func (export "string-twice") (param "x" string) (result string)
    (canon lift (core func $m "string-twice") (memory $memory) (realloc $realloc)))
  (func (export "records") (param "x" (list $rec)) (result (list $rec))
    (canon lift (core func $m "records") (memory $memory) (realloc $realloc)))
  (func (export "variant") (param "x" $var) (result $var)
    (canon lift (core func $m "variant") (memory $memory) (realloc $realloc)))
  (func (export "u64") (param "x" u64) (result u64) (canon lift (core func $m "u64")))
)

(assert_return (invoke "string" (str.const "through two guests")) (str.const "through two guests"))
(assert_return (invoke "string-twice" (str.const "ünïcödé ☃")) (str.const "ünïcödé ☃"))
(assert_return
  (invoke "records" (list.const
    (record.const (field "a" u8.const 255) (field "b" u16.const 65535) (field "c" str.const "x"))))
  (list.const
    (record.const (field "a" u8.const 255) (field "b" u16.const 65535) (field "c" str.const "x"))))
(assert_return (invoke "variant" (variant.const "c" (str.const "across"))) (variant.const "c" (str.const "across")))
(assert_return (invoke "variant" (variant.const "d" (f64.const 0.25))) (variant.const "d" (f64.const 0.25)))
(assert_return (invoke "u64" (u64.const 12345678901234)) (u64.const 12345678901234))

;; the named instance is still there after another component became current
(assert_return (invoke $echo "echo-u8" (u8.const 1)) (u8.const 1))
