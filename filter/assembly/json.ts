// A small, bounded JSON parser for plugin configuration and control-plane payloads.
// It never traps: every malformed input, excessive nesting or invalid escape yields an error string instead.

export const enum JsonKind { Null, Bool, Number, String, Array, Object }

export class JsonValue {
  kind: JsonKind = JsonKind.Null;
  bool: bool = false;
  num: f64 = 0;
  str: string = "";
  items: Array<JsonValue> = new Array<JsonValue>();
  keys: Array<string> = new Array<string>();
  values: Array<JsonValue> = new Array<JsonValue>();

  constructor(kind: JsonKind = JsonKind.Null) {
    this.kind = kind;
  }

  // Last duplicate key wins, matching JSON.parse.
  get(key: string): JsonValue | null {
    if (this.kind != JsonKind.Object) return null;
    for (let i = this.keys.length - 1; i >= 0; i--) {
      if (this.keys[i] == key) return this.values[i];
    }
    return null;
  }
}

export class JsonParseResult {
  value: JsonValue | null = null;
  error: string = "";
}

const CH_TAB: i32 = 0x09;
const CH_LF: i32 = 0x0a;
const CH_CR: i32 = 0x0d;
const CH_SPACE: i32 = 0x20;
const CH_QUOTE: i32 = 0x22;
const CH_PLUS: i32 = 0x2b;
const CH_COMMA: i32 = 0x2c;
const CH_MINUS: i32 = 0x2d;
const CH_DOT: i32 = 0x2e;
const CH_SLASH: i32 = 0x2f;
const CH_0: i32 = 0x30;
const CH_9: i32 = 0x39;
const CH_COLON: i32 = 0x3a;
const CH_E_UPPER: i32 = 0x45;
const CH_LBRACKET: i32 = 0x5b;
const CH_BACKSLASH: i32 = 0x5c;
const CH_RBRACKET: i32 = 0x5d;
const CH_E_LOWER: i32 = 0x65;
const CH_LBRACE: i32 = 0x7b;
const CH_RBRACE: i32 = 0x7d;

class Parser {
  pos: i32 = 0;
  error: string = "";

  constructor(public text: string, public maxDepth: i32) {}

  fail(message: string): JsonValue | null {
    if (this.error.length == 0) this.error = message + " at offset " + this.pos.toString();
    return null;
  }

  peek(): i32 {
    return this.pos < this.text.length ? this.text.charCodeAt(this.pos) : -1;
  }

  skipWhitespace(): void {
    const text = this.text;
    const length = text.length;
    while (this.pos < length) {
      const c = text.charCodeAt(this.pos);
      if (c != CH_SPACE && c != CH_TAB && c != CH_LF && c != CH_CR) break;
      this.pos++;
    }
  }

  matchLiteral(literal: string): bool {
    if (this.pos + literal.length > this.text.length) return false;
    for (let i = 0; i < literal.length; i++) {
      if (this.text.charCodeAt(this.pos + i) != literal.charCodeAt(i)) return false;
    }
    this.pos += literal.length;
    return true;
  }

  parseValue(depth: i32): JsonValue | null {
    this.skipWhitespace();
    const c = this.peek();
    if (c == -1) return this.fail("unexpected end of input");
    if (c == CH_LBRACE) return this.parseObject(depth + 1);
    if (c == CH_LBRACKET) return this.parseArray(depth + 1);
    if (c == CH_QUOTE) {
      const s = this.parseString();
      if (s === null) return null;
      const value = new JsonValue(JsonKind.String);
      value.str = s;
      return value;
    }
    if (c == CH_MINUS || (c >= CH_0 && c <= CH_9)) return this.parseNumber();
    if (this.matchLiteral("true")) {
      const value = new JsonValue(JsonKind.Bool);
      value.bool = true;
      return value;
    }
    if (this.matchLiteral("false")) return new JsonValue(JsonKind.Bool);
    if (this.matchLiteral("null")) return new JsonValue(JsonKind.Null);
    return this.fail("unexpected character");
  }

  parseObject(depth: i32): JsonValue | null {
    if (depth > this.maxDepth) return this.fail("nesting deeper than " + this.maxDepth.toString());
    this.pos++; // '{'
    const value = new JsonValue(JsonKind.Object);
    this.skipWhitespace();
    if (this.peek() == CH_RBRACE) {
      this.pos++;
      return value;
    }
    while (true) {
      this.skipWhitespace();
      if (this.peek() != CH_QUOTE) return this.fail("expected object key");
      const key = this.parseString();
      if (key === null) return null;
      this.skipWhitespace();
      if (this.peek() != CH_COLON) return this.fail("expected ':'");
      this.pos++;
      const item = this.parseValue(depth);
      if (item === null) return null;
      value.keys.push(key);
      value.values.push(item);
      this.skipWhitespace();
      const c = this.peek();
      if (c == CH_COMMA) {
        this.pos++;
        continue;
      }
      if (c == CH_RBRACE) {
        this.pos++;
        return value;
      }
      return this.fail("expected ',' or '}'");
    }
    return null;
  }

  parseArray(depth: i32): JsonValue | null {
    if (depth > this.maxDepth) return this.fail("nesting deeper than " + this.maxDepth.toString());
    this.pos++; // '['
    const value = new JsonValue(JsonKind.Array);
    this.skipWhitespace();
    if (this.peek() == CH_RBRACKET) {
      this.pos++;
      return value;
    }
    while (true) {
      const item = this.parseValue(depth);
      if (item === null) return null;
      value.items.push(item);
      this.skipWhitespace();
      const c = this.peek();
      if (c == CH_COMMA) {
        this.pos++;
        continue;
      }
      if (c == CH_RBRACKET) {
        this.pos++;
        return value;
      }
      return this.fail("expected ',' or ']'");
    }
    return null;
  }

  hexDigit(c: i32): i32 {
    if (c >= CH_0 && c <= CH_9) return c - CH_0;
    if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
    if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
    return -1;
  }

  parseHex4(): i32 {
    if (this.pos + 4 > this.text.length) return -1;
    let code = 0;
    for (let i = 0; i < 4; i++) {
      const d = this.hexDigit(this.text.charCodeAt(this.pos + i));
      if (d < 0) return -1;
      code = (code << 4) | d;
    }
    this.pos += 4;
    return code;
  }

  // Returns null (with error set) on malformed strings; lone surrogates from \u escapes are kept as-is,
  // like JSON.parse.
  parseString(): string | null {
    this.pos++; // opening quote
    const text = this.text;
    const length = text.length;
    let start = this.pos;
    // Pieces are joined once at the end so a string full of escapes stays linear.
    let pieces: Array<string> | null = null;
    while (true) {
      if (this.pos >= length) {
        this.fail("unterminated string");
        return null;
      }
      const c = text.charCodeAt(this.pos);
      if (c == CH_QUOTE) {
        const tail = text.substring(start, this.pos);
        this.pos++;
        if (pieces === null) return tail;
        pieces.push(tail);
        return pieces.join("");
      }
      if (c < 0x20) {
        this.fail("control character in string");
        return null;
      }
      if (c != CH_BACKSLASH) {
        this.pos++;
        continue;
      }
      if (pieces === null) pieces = new Array<string>();
      pieces.push(text.substring(start, this.pos));
      this.pos++;
      if (this.pos >= length) {
        this.fail("unterminated string");
        return null;
      }
      const e = text.charCodeAt(this.pos);
      this.pos++;
      if (e == CH_QUOTE) pieces.push("\"");
      else if (e == CH_BACKSLASH) pieces.push("\\");
      else if (e == CH_SLASH) pieces.push("/");
      else if (e == 0x62) pieces.push("\b");
      else if (e == 0x66) pieces.push("\f");
      else if (e == 0x6e) pieces.push("\n");
      else if (e == 0x72) pieces.push("\r");
      else if (e == 0x74) pieces.push("\t");
      else if (e == 0x75) {
        const code = this.parseHex4();
        if (code < 0) {
          this.fail("invalid \\u escape");
          return null;
        }
        pieces.push(String.fromCharCode(code));
      } else {
        this.pos--;
        this.fail("invalid escape");
        return null;
      }
      start = this.pos;
    }
    return null;
  }

  isDigitAt(i: i32): bool {
    if (i >= this.text.length) return false;
    const c = this.text.charCodeAt(i);
    return c >= CH_0 && c <= CH_9;
  }

  parseNumber(): JsonValue | null {
    const start = this.pos;
    if (this.peek() == CH_MINUS) this.pos++;
    if (!this.isDigitAt(this.pos)) return this.fail("invalid number");
    if (this.peek() == CH_0) {
      this.pos++;
      if (this.isDigitAt(this.pos)) return this.fail("invalid number: leading zero");
    } else {
      while (this.isDigitAt(this.pos)) this.pos++;
    }
    if (this.peek() == CH_DOT) {
      this.pos++;
      if (!this.isDigitAt(this.pos)) return this.fail("invalid number: digit expected after '.'");
      while (this.isDigitAt(this.pos)) this.pos++;
    }
    const e = this.peek();
    if (e == CH_E_LOWER || e == CH_E_UPPER) {
      this.pos++;
      const sign = this.peek();
      if (sign == CH_PLUS || sign == CH_MINUS) this.pos++;
      if (!this.isDigitAt(this.pos)) return this.fail("invalid number: digit expected in exponent");
      while (this.isDigitAt(this.pos)) this.pos++;
    }
    const value = new JsonValue(JsonKind.Number);
    value.num = parseFloat(this.text.substring(start, this.pos));
    return value;
  }
}

export function parseJson(text: string, maxDepth: i32 = 32): JsonParseResult {
  const result = new JsonParseResult();
  const parser = new Parser(text, maxDepth);
  const value = parser.parseValue(0);
  if (value === null) {
    result.error = parser.error;
    return result;
  }
  parser.skipWhitespace();
  if (parser.pos != text.length) {
    parser.fail("trailing characters");
    result.error = parser.error;
    return result;
  }
  result.value = value;
  return result;
}
