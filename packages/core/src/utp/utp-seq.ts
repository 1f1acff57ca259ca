/** Signed distance a − b in 16-bit sequence space: positive when a is after b. */
export function seqDiff(a: number, b: number): number {
  return (((a - b) & 0xffff) << 16) >> 16;
}
