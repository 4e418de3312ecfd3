;; WebAssembly SIMD for tap (text format; scripts/build.mjs assembles it with wabt): C escapes of its records (cescape.ts), the Internet checksum of its pcap packets (pcap.ts).
;; Memory: 0..15 the hex digits, then the areas that the callers (simd.ts) place.
(module
  (memory (export "memory") 1 256 shared) ;; shared: its ring area is written by a worker thread (simd.ts)
  (data (i32.const 0) "0123456789abcdef")

  ;; Writes the C escape of byte $b at $o (`\\`, `\n`, `\r`, `\t` or `\xNN`; printable ASCII as it is); returns the next output offset.
  (func $one (param $b i32) (param $o i32) (result i32)
    (if (i32.and
          (i32.lt_u (i32.sub (local.get $b) (i32.const 32)) (i32.const 95))
          (i32.ne (local.get $b) (i32.const 92)))
      (then
        (i32.store8 (local.get $o) (local.get $b))
        (return (i32.add (local.get $o) (i32.const 1)))))
    (i32.store8 (local.get $o) (i32.const 92))
    (if (i32.eq (local.get $b) (i32.const 92))
      (then (i32.store8 offset=1 (local.get $o) (i32.const 92)) (return (i32.add (local.get $o) (i32.const 2)))))
    (if (i32.eq (local.get $b) (i32.const 10))
      (then (i32.store8 offset=1 (local.get $o) (i32.const 110)) (return (i32.add (local.get $o) (i32.const 2)))))
    (if (i32.eq (local.get $b) (i32.const 13))
      (then (i32.store8 offset=1 (local.get $o) (i32.const 114)) (return (i32.add (local.get $o) (i32.const 2)))))
    (if (i32.eq (local.get $b) (i32.const 9))
      (then (i32.store8 offset=1 (local.get $o) (i32.const 116)) (return (i32.add (local.get $o) (i32.const 2)))))
    (i32.store8 offset=1 (local.get $o) (i32.const 120))
    (i32.store8 offset=2 (local.get $o) (i32.load8_u (i32.shr_u (local.get $b) (i32.const 4))))
    (i32.store8 offset=3 (local.get $o) (i32.load8_u (i32.and (local.get $b) (i32.const 15))))
    (i32.add (local.get $o) (i32.const 4)))

  ;; Escapes the $n bytes at $in into $out; returns the length written (at most 4 x $n). Writes up to 15
  ;; bytes past that length (each 16-byte block is stored before its first byte to escape is known), so
  ;; the output area needs 4 x $n + 16 bytes.
  (func (export "escape") (param $in i32) (param $n i32) (param $out i32) (result i32)
    (local $i i32) (local $o i32) (local $v v128) (local $mask i32) (local $skip i32)
    (local.set $o (local.get $out))
    (block $short
      (loop $blocks
        (br_if $short (i32.gt_u (i32.add (local.get $i) (i32.const 16)) (local.get $n)))
        (local.set $v (v128.load (i32.add (local.get $in) (local.get $i))))
        ;; bytes to escape: below 0x20, above 0x7e (so 0x7f and every byte with the top bit), and the backslash
        (local.set $mask (i8x16.bitmask (v128.or
          (v128.or
            (i8x16.lt_u (local.get $v) (i8x16.splat (i32.const 32)))
            (i8x16.gt_u (local.get $v) (i8x16.splat (i32.const 126))))
          (i8x16.eq (local.get $v) (i8x16.splat (i32.const 92))))))
        (v128.store (local.get $o) (local.get $v))
        (if (i32.eqz (local.get $mask))
          (then
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (local.set $o (i32.add (local.get $o) (i32.const 16)))
            (br $blocks)))
        ;; the printable bytes before the first one to escape are already in place
        (local.set $skip (i32.ctz (local.get $mask)))
        (local.set $i (i32.add (local.get $i) (local.get $skip)))
        (local.set $o (call $one
          (i32.load8_u (i32.add (local.get $in) (local.get $i)))
          (i32.add (local.get $o) (local.get $skip))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $blocks)))
    (block $done
      (loop $tail
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $o (call $one (i32.load8_u (i32.add (local.get $in) (local.get $i))) (local.get $o)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail)))
    (i32.sub (local.get $o) (local.get $out)))

  ;; Returns the one's-complement sum of the $n bytes at $in read as little-endian 16-bit words (an odd last
  ;; byte as the low byte of a word), folded to 16 bits. $n at most 1 MiB (the 32-bit lanes cannot overflow).
  (func (export "sum") (param $in i32) (param $n i32) (result i32)
    (local $i i32) (local $acc v128) (local $s i32) (local $end i32)
    (local.set $end (i32.and (local.get $n) (i32.const -16)))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $acc (i32x4.add (local.get $acc)
          (i32x4.extadd_pairwise_i16x8_u (v128.load (i32.add (local.get $in) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $blocks)))
    (local.set $s (i32.add
      (i32.add (call $fold (i32x4.extract_lane 0 (local.get $acc))) (call $fold (i32x4.extract_lane 1 (local.get $acc))))
      (i32.add (call $fold (i32x4.extract_lane 2 (local.get $acc))) (call $fold (i32x4.extract_lane 3 (local.get $acc))))))
    (block $tailDone
      (loop $tail
        (br_if $tailDone (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s (i32.add (local.get $s)
          (i32.shl (i32.load8_u (i32.add (local.get $in) (local.get $i))) (i32.shl (i32.and (local.get $i) (i32.const 1)) (i32.const 3)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail)))
    (call $fold (call $fold (local.get $s))))

  ;; Returns x with its high 16 bits added to its low 16 bits.
  (func $fold (param $x i32) (result i32)
    (i32.add (i32.and (local.get $x) (i32.const 0xffff)) (i32.shr_u (local.get $x) (i32.const 16)))))
