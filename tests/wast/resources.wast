;; Resources across three components.
;;
;; $provider defines the resource type `counter` (its representation is the
;; address of a u32 in the provider's memory) with a destructor that counts
;; how many counters were destroyed. $borrower only ever sees `counter`
;; through borrows, as handles of its own that it must drop before it
;; returns. $user owns counters, lends them to both, and hands one back.
;; $user's "lifecycle" returns 0 when all its checks pass, else the number of
;; the first failed check.

(component $provider
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "mem" (core memory $memory))
  ;; destroyed counters at 0x0, the sum of their final values at 0x4
  (core module $D
    (import "" "mem" (memory 1))
    (func (export "dtor") (param $rep i32)
      (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1)))
      (i32.store (i32.const 4) (i32.add (i32.load (i32.const 4)) (i32.load (local.get $rep))))))
  (core instance $d (instantiate $D (with "" (instance (export "mem" (memory $memory))))))
  (type $counter' (resource (rep i32) (dtor (core func $d "dtor"))))
  (export $counter "counter" (type $counter'))
  (core func $new (canon resource.new $counter'))
  (core func $rep (canon resource.rep $counter'))
  (core func $drop (canon resource.drop $counter'))
  (core module $P
    (import "" "mem" (memory 1))
    (import "" "new" (func $new (param i32) (result i32)))
    (import "" "rep" (func $rep (param i32) (result i32)))
    (import "" "drop" (func $drop (param i32)))
    (global $next (mut i32) (i32.const 0x100))
    (func (export "make") (param $v i32) (result i32) (local $p i32)
      (local.set $p (global.get $next))
      (global.set $next (i32.add (local.get $p) (i32.const 4)))
      (i32.store (local.get $p) (local.get $v))
      (call $new (local.get $p)))
    ;; a borrow of our own resource arrives as its representation
    (func (export "read") (param $rep i32) (result i32) (i32.load (local.get $rep)))
    (func (export "bump") (param $rep i32)
      (i32.store (local.get $rep) (i32.add (i32.load (local.get $rep)) (i32.const 1))))
    ;; an owned handle arrives as a handle: read it, then destroy it
    (func (export "take") (param $h i32) (result i32) (local $v i32)
      (local.set $v (i32.load (call $rep (local.get $h))))
      (call $drop (local.get $h))
      (local.get $v))
    (func (export "destroyed") (result i32) (i32.load (i32.const 0)))
    (func (export "destroyed-sum") (result i32) (i32.load (i32.const 4))))
  (core instance $p (instantiate $P (with "" (instance
    (export "mem" (memory $memory))
    (export "new" (func $new))
    (export "rep" (func $rep))
    (export "drop" (func $drop))))))
  (func (export "make") (param "v" u32) (result (own $counter)) (canon lift (core func $p "make")))
  (func (export "read") (param "c" (borrow $counter)) (result u32) (canon lift (core func $p "read")))
  (func (export "bump") (param "c" (borrow $counter)) (canon lift (core func $p "bump")))
  (func (export "take") (param "c" (own $counter)) (result u32) (canon lift (core func $p "take")))
  (func (export "destroyed") (result u32) (canon lift (core func $p "destroyed")))
  (func (export "destroyed-sum") (result u32) (canon lift (core func $p "destroyed-sum")))
)
(register "provider" $provider)

(component $borrower
  (import "provider" (instance $provider
    (export "counter" (type $counter (sub resource)))
    (export "read" (func (param "c" (borrow $counter)) (result u32)))
  ))
  (alias export $provider "counter" (type $counter))
  (core func $drop (canon resource.drop $counter))
  (core func $read (canon lower (func $provider "read")))
  (core module $B
    (import "" "drop" (func $drop (param i32)))
    (import "" "read" (func $read (param i32) (result i32)))
    ;; returns the (non-zero) handle index it was given, after dropping it
    (func (export "peek") (param $h i32) (result i32)
      (call $drop (local.get $h))
      (local.get $h))
    ;; lends its borrow on to the provider
    (func (export "read-via") (param $h i32) (result i32) (local $v i32)
      (local.set $v (call $read (local.get $h)))
      (call $drop (local.get $h))
      (local.get $v))
    ;; forgets to drop its borrow
    (func (export "keep") (param $h i32) (result i32) (local.get $h)))
  (core instance $b (instantiate $B (with "" (instance
    (export "drop" (func $drop))
    (export "read" (func $read))))))
  (func (export "peek") (param "c" (borrow $counter)) (result u32) (canon lift (core func $b "peek")))
  (func (export "read-via") (param "c" (borrow $counter)) (result u32)
    (canon lift (core func $b "read-via")))
  (func (export "keep") (param "c" (borrow $counter)) (result u32) (canon lift (core func $b "keep")))
)
(register "borrower" $borrower)

(component definition $User
  (import "provider" (instance $provider
    (export "counter" (type $counter (sub resource)))
    (export "make" (func (param "v" u32) (result (own $counter))))
    (export "read" (func (param "c" (borrow $counter)) (result u32)))
    (export "bump" (func (param "c" (borrow $counter))))
    (export "take" (func (param "c" (own $counter)) (result u32)))
    (export "destroyed" (func (result u32)))
    (export "destroyed-sum" (func (result u32)))
  ))
  (alias export $provider "counter" (type $counter))
  (import "borrower" (instance $borrower
    (export "peek" (func (param "c" (borrow $counter)) (result u32)))
    (export "read-via" (func (param "c" (borrow $counter)) (result u32)))
    (export "keep" (func (param "c" (borrow $counter)) (result u32)))
  ))
  (core func $make (canon lower (func $provider "make")))
  (core func $read (canon lower (func $provider "read")))
  (core func $bump (canon lower (func $provider "bump")))
  (core func $take (canon lower (func $provider "take")))
  (core func $destroyed (canon lower (func $provider "destroyed")))
  (core func $destroyed-sum (canon lower (func $provider "destroyed-sum")))
  (core func $peek (canon lower (func $borrower "peek")))
  (core func $read-via (canon lower (func $borrower "read-via")))
  (core func $keep (canon lower (func $borrower "keep")))
  (core func $drop (canon resource.drop $counter))
  (core module $U
    (import "" "make" (func $make (param i32) (result i32)))
    (import "" "read" (func $read (param i32) (result i32)))
    (import "" "bump" (func $bump (param i32)))
    (import "" "take" (func $take (param i32) (result i32)))
    (import "" "destroyed" (func $destroyed (result i32)))
    (import "" "destroyed-sum" (func $destroyed-sum (result i32)))
    (import "" "peek" (func $peek (param i32) (result i32)))
    (import "" "read-via" (func $read-via (param i32) (result i32)))
    (import "" "keep" (func $keep (param i32) (result i32)))
    (import "" "drop" (func $drop (param i32)))
    (func (export "lifecycle") (result i32) (local $h i32) (local $g i32)
      (local.set $h (call $make (i32.const 5)))
      (if (i32.eqz (local.get $h)) (then (return (i32.const 1))))
      (call $bump (local.get $h))
      (if (i32.ne (call $read (local.get $h)) (i32.const 6)) (then (return (i32.const 2))))
      ;; the borrower gets a handle of its own, not ours
      (if (i32.eqz (call $peek (local.get $h))) (then (return (i32.const 3))))
      (if (i32.ne (call $read-via (local.get $h)) (i32.const 6)) (then (return (i32.const 4))))
      ;; lending did not consume the handle
      (call $bump (local.get $h))
      (if (i32.ne (call $destroyed) (i32.const 0)) (then (return (i32.const 5))))
      ;; giving it away does; the provider destroys it
      (if (i32.ne (call $take (local.get $h)) (i32.const 7)) (then (return (i32.const 6))))
      (if (i32.ne (call $destroyed) (i32.const 1)) (then (return (i32.const 7))))
      ;; dropping our own handle runs the provider's destructor
      (local.set $g (call $make (i32.const 30)))
      (call $drop (local.get $g))
      (if (i32.ne (call $destroyed) (i32.const 2)) (then (return (i32.const 8))))
      (if (i32.ne (call $destroyed-sum) (i32.const 37)) (then (return (i32.const 9))))
      (i32.const 0))
    (func (export "forgotten-borrow") (result i32)
      (call $keep (call $make (i32.const 1))))
    (func (export "use-after-drop") (result i32) (local $h i32)
      (local.set $h (call $make (i32.const 1)))
      (call $drop (local.get $h))
      (call $read (local.get $h)))
    (func (export "drop-twice") (local $h i32)
      (local.set $h (call $make (i32.const 1)))
      (call $drop (local.get $h))
      (call $drop (local.get $h))))
  (core instance $u (instantiate $U (with "" (instance
    (export "make" (func $make))
    (export "read" (func $read))
    (export "bump" (func $bump))
    (export "take" (func $take))
    (export "destroyed" (func $destroyed))
    (export "destroyed-sum" (func $destroyed-sum))
    (export "peek" (func $peek))
    (export "read-via" (func $read-via))
    (export "keep" (func $keep))
    (export "drop" (func $drop))))))
  (func (export "lifecycle") (result u32) (canon lift (core func $u "lifecycle")))
  (func (export "forgotten-borrow") (result u32) (canon lift (core func $u "forgotten-borrow")))
  (func (export "use-after-drop") (result u32) (canon lift (core func $u "use-after-drop")))
  (func (export "drop-twice") (canon lift (core func $u "drop-twice")))
)

;; $user runs as several instances: a trap poisons the instances it unwinds
;; through, so each trap gets a fresh one.
(component instance $user $User)
(assert_return (invoke "lifecycle") (u32.const 0))
(assert_return (invoke $provider "destroyed") (u32.const 2))
(assert_trap (invoke "drop-twice") "unknown handle index")
(component instance $user2 $User)
(assert_trap (invoke "forgotten-borrow") "borrow handles still remain at the end of the call")
(component instance $user3 $User)
(assert_trap (invoke "use-after-drop") "unknown handle index")
