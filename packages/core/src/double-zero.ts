/**
 * Zero for a class field that will later hold doubles (times from `performance.now()`, an event
 * loop's utilisation, rates, byte counts). -0 compares and adds like 0 but is not a small integer, so V8 gives the
 * field a double representation from the first object on. A field that starts as the small
 * integer 0 changes representation at the first double stored in it: V8 then deprecates the
 * hidden class of every object of that class and deoptimises every optimised function that
 * touched one. Measured on a 16 KiB-piece download: the peer host's first stats tick (its
 * `#lastStats` going from 0 to a time) deoptimised eleven of its hot functions at once, each
 * compiled again; a byte counter that passes 2 GiB (small integers end at 2^31 - 1 in Node's
 * x64 builds, 2^30 with pointer compression) does the same mid-download. -0 is not `Object.is` 0: a field that is reported (stats, JSON) is reported as
 * `field + 0`, which is +0.
 */
export const DOUBLE_ZERO = -0;
