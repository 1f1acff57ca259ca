/**
 * Zero for a class field that will later hold doubles (times from `performance.now()`, an event
 * loop's utilisation). -0 compares and adds like 0 but is not a small integer, so V8 gives the
 * field a double representation from the first object on. A field that starts as the small
 * integer 0 changes representation at the first double stored in it: V8 then deprecates the
 * hidden class of every object of that class and deoptimises every optimised function that
 * touched one. Measured on a 16 KiB-piece download: the peer host's first stats tick (its
 * `#lastStats` going from 0 to a time) deoptimised eleven of its hot functions at once, each
 * compiled again. Only for fields that stay inside a class: -0 is not `Object.is` 0, so it must
 * not reach a caller that compares with `strictEqual`.
 */
export const DOUBLE_ZERO = -0;
