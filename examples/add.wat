;; The smallest useful component: `add` lifted from a core function.
;;   python -c 'from stackswitch import Component, Linker;
;;              print(Linker().instantiate(Component.from_file("examples/add.wat"))["add"](2, 40))'
(component
  (core module $M
    (func (export "add") (param i32 i32) (result i32)
      (i32.add (local.get 0) (local.get 1))))
  (core instance $m (instantiate $M))
  (func (export "add") (param "a" u32) (param "b" u32) (result u32)
    (canon lift (core func $m "add"))))
