// String access for hot loops over indices the loop has already bounded (i < length): a raw UTF-16 load, always
// inlined, where charCodeAt would re-check the bounds and, at the release build's shrink level, stay a call.

// @ts-ignore: decorator
@inline
export function codeUnitAt(text: string, index: i32): i32 {
  return <i32>load<u16>(changetype<usize>(text) + (<usize>index << 1));
}
