;; A core module whose memory starts at 64 MiB.
(component
  (core module $M (memory (export "mem") 1024)
    (func (export "size") (result i32) (memory.size)))
  (core instance $m (instantiate $M))
  (func (export "size") (result u32) (canon lift (core func $m "size"))))
