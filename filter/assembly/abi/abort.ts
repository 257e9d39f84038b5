// Replacement for AssemblyScript's env.abort (Envoy provides no such import): log one critical line through
// proxy_log, then trap so Envoy applies the plugin's fail strategy. It copies into static memory and allocates
// nothing, because an abort may come from the allocator itself.
import { proxy_log } from "./imports";

const MESSAGE_CAPACITY: i32 = 512;
const MESSAGE_BUFFER: usize = memory.data(MESSAGE_CAPACITY);

function appendAscii(offset: i32, value: string | null): i32 {
  if (value === null) return offset;
  const text = changetype<usize>(value);
  // AssemblyScript strings keep their UTF-16 byte length in the header word before the data.
  const units = <i32>(load<u32>(text - 4) >> 1);
  for (let i = 0; i < units && offset < MESSAGE_CAPACITY; i++) {
    const c = <i32>load<u16>(text + (<usize>i << 1));
    store<u8>(MESSAGE_BUFFER + <usize>offset, c >= 0x20 && c < 0x7f ? <u8>c : 0x3f);
    offset++;
  }
  return offset;
}

function appendLiteral(offset: i32, text: string): i32 {
  return appendAscii(offset, text);
}

function appendNumber(offset: i32, value: u32): i32 {
  const digits = memory.data(10);
  let count = 0;
  do {
    store<u8>(digits + <usize>count, <u8>(0x30 + value % 10));
    value /= 10;
    count++;
  } while (value != 0);
  while (count > 0 && offset < MESSAGE_CAPACITY) {
    count--;
    store<u8>(MESSAGE_BUFFER + <usize>offset, load<u8>(digits + <usize>count));
    offset++;
  }
  return offset;
}

export function onAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  let n = appendLiteral(0, "meshlens abort: ");
  n = appendAscii(n, message);
  n = appendLiteral(n, " at ");
  n = appendAscii(n, fileName);
  n = appendLiteral(n, ":");
  n = appendNumber(n, line);
  n = appendLiteral(n, ":");
  n = appendNumber(n, column);
  proxy_log(5, MESSAGE_BUFFER, <usize>n);
  unreachable();
}
