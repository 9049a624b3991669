;; "spin": loops forever, in wasm, calling nothing.
(component
  (core module $M (func (export "spin") (loop $l (br $l))))
  (core instance $m (instantiate $M))
  (func (export "spin") (canon lift (core func $m "spin"))))
